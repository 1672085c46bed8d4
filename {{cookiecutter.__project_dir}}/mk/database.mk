# The database: migrations, run before `make dev` serves.
.PHONY: migrate migration

migrate:  ## Upgrade the database at DATABASE_URL to the latest migration
	$(BIN)/{{ cookiecutter.project_slug }} migrate

# Autogenerate compares the models with a database at the latest migration: a scratch SQLite
# file, so no database of yours needs to be running or up to date. The new file is a draft to read.
migration:  ## Write a migration for what the models changed (MESSAGE="create notes"), to read
	@test -n "$(MESSAGE)" || { echo 'make migration: say what it does: MESSAGE="create notes"' >&2; exit 2; }
	scratch=$$(mktemp -d) && trap 'rm -rf "$$scratch"' EXIT && \
		export DATABASE_URL="sqlite:///$$scratch/head.db" && \
		$(BIN)/alembic upgrade head && \
		$(BIN)/alembic revision --autogenerate -m "$(MESSAGE)"

dev: migrate
{%- if cookiecutter.database == "postgresql" %}
# No database server needed locally: development uses a SQLite file unless DATABASE_URL is set.
dev: export DATABASE_URL ?= sqlite:///data/dev.db
# The image needs the database: `DATABASE_URL=... make docker-run` passes it in.
DOCKER_RUN_FLAGS += --env DATABASE_URL
{%- endif %}
