# The template's own tasks. The tests come in three tiers, fastest first, so a change is checked
# at the speed of what it touches; `make all` runs every tier (the README's test command, and
# what .ci/run runs). ARGS passes options to pytest, e.g. `make render ARGS="-k license"`.
PYTEST ?= pytest
ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help render project image all

help:  ## List the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

render:  ## Tier 1 (about a minute): every combination bakes clean; answers; workflows; own code
	$(PYTEST) -m render $(ARGS)

project:  ## Tier 2: generated projects run their own checks, grow, and update across releases
	$(PYTEST) -m project $(ARGS)

image:  ## Tier 3 (needs Docker): images, production load, Kubernetes, observability
	$(PYTEST) -m image $(ARGS)

all:  ## Every tier
	$(PYTEST) $(ARGS)
