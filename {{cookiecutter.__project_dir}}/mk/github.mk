# The GitHub workflows are linted with the code: `make lint` runs this too.
.PHONY: lint-workflows
lint: lint-workflows

lint-workflows:  ## Lint the GitHub workflows and Dependabot's configuration (zizmor)
	$(BIN)/zizmor --offline --min-severity medium .github
