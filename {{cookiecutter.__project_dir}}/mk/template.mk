# Template updates. .cruft.json records the template this project was generated from (its URL
# or path), the commit it was generated from or last updated to, and the answers. Both targets
# run the template's own updater, scripts/template-update, from a fresh clone of the template:
# the newest updater runs, whatever version this project is at. Its one dependency, cookiecutter,
# comes in a throwaway environment (TEMPLATE_PYTHON, the package manager's part says how): it is
# no dependency of the project. README: Template updates.
.PHONY: template-check template-update

# A release (0.3.0), tag, branch or commit of the template; empty: its newest release.
REF ?=
# More options for the updater, e.g. --answer kubernetes=no, --no-check, --json.
TEMPLATE_UPDATE_FLAGS ?=
TEMPLATE_UPDATER = tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	template=$$($(TEMPLATE_PYTHON) -c 'import json; print(json.load(open(".cruft.json"))["template"])') && \
	git clone --quiet "$$template" "$$tmp/template" && \
	$(TEMPLATE_PYTHON) "$$tmp/template/scripts/template-update"

template-check:  ## Say whether the template has a newer release (exits non-zero when behind)
	@$(TEMPLATE_UPDATER) --check

template-update:  ## Update from the template's newest release (REF=0.3.0: that one); uncommitted, for review
	@$(TEMPLATE_UPDATER) $(if $(REF),--ref $(REF)) $(TEMPLATE_UPDATE_FLAGS)
