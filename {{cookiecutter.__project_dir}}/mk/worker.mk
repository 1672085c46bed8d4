# The background job worker (README: Background jobs).
.PHONY: worker

worker: export LOG_FORMAT ?= console
worker:  ## Run the job worker (DATABASE_URL=postgresql://...; `make migrate` first)
	$(BIN)/{{ cookiecutter.project_slug }} worker
