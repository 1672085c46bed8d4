# pip and pip-tools: the environment, the locks, what ships, the audit.
.PHONY: install lock dist-check audit
PYTHON ?= python{{ cookiecutter.python_version }}

install:  ## Create .venv with the locked dependencies, dev tools and the project (editable)
	$(PYTHON) -m venv .venv
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation --editable .

# pip-tools lives in its own throwaway venv: it is needed only to write the locks. Pinned: 7.6
# builds a wrong PyPI JSON URL (and hashes every file by downloading it), and with click 8.2+
# 7.5 turns --no-index on. The runtime lock constrains the dev lock: both pin the same versions.
# Index and find-links options stay out of the locks: they belong to the machine, not the project.
PIP_COMPILE = .venv-lock/bin/pip-compile --quiet --generate-hashes --allow-unsafe \
	--strip-extras --build-deps-for=wheel --no-emit-index-url --no-emit-find-links
lock:  ## Re-resolve requirements*.lock after changing pyproject.toml (needs the package index)
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet pip-tools==7.5.3 "click<8.2"
	$(PIP_COMPILE) --output-file requirements.lock pyproject.toml
	$(PIP_COMPILE) --extra dev --constraint requirements.lock \
		--output-file requirements-dev.lock pyproject.toml
	rm -rf .venv-lock

# The editable install sees the whole source tree, so the tests can't tell what the wheel leaves
# out: build it as the image build does, into a throwaway directory, and compare. setuptools
# packs whatever build/ still holds and the files an old *.egg-info lists (the image's build
# context has neither): both go before and after.
SETUPTOOLS_LEFTOVERS = build {{ "src/" if cookiecutter.layout == "src" }}*.egg-info
dist-check:  ## Fail when a file under the packages would not ship in the wheel (and the image)
	rm -rf $(SETUPTOOLS_LEFTOVERS)
	dist=$$(mktemp -d) && trap 'rm -rf "$$dist" $(SETUPTOOLS_LEFTOVERS)' EXIT && \
		$(BIN)/python -m pip wheel --quiet --no-deps --no-build-isolation --no-index \
			--wheel-dir "$$dist" . && \
		$(BIN)/python scripts/check_dist.py "$$dist"/*.whl

# A tool that is no dependency of the project, pinned, in a venv of its own made on first use
# under .tools/: $(call run-tool,<requirement>,<command and arguments>)
run-tool = { test -x .tools/$(1)/bin/$(firstword $(2)) || { $(PYTHON) -m venv .tools/$(1) && \
	.tools/$(1)/bin/python -m pip install --quiet --disable-pip-version-check $(1); }; } && \
	.tools/$(1)/bin/$(2)
# The Python that runs the template's updater (mk/template.mk): without cookiecutter, the updater
# sets up a throwaway venv of its own.
TEMPLATE_PYTHON = $(PYTHON)

# pip-audit reads only the pins (and hashes) of the runtime lock: what the image ships.
# --strict: a package it could not look up fails the audit.
audit:  ## Check the locked runtime dependencies for known vulnerabilities (needs PyPI)
	$(call run-tool,pip-audit==2.10.1,pip-audit) --strict --disable-pip --require-hashes \
		-r requirements.lock
