# The template this project was generated from, recorded in .cruft.json.
.PHONY: template-check

# Exits non-zero when the project is behind. cruft is no dependency of the project.
template-check:  ## Say whether the template has changed since this project took its changes
	$(call run-tool,cruft==2.16.0,cruft) check
