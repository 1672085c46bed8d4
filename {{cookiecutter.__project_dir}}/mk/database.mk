# The database: migrations, run before `make dev` serves.
.PHONY: migrate

migrate:  ## Upgrade the database at DATABASE_URL to the latest migration
	$(BIN)/{{ cookiecutter.project_slug }} migrate

dev: migrate
{%- if cookiecutter.database == "postgresql" %}
# No database server needed locally: development uses a SQLite file unless DATABASE_URL is set.
dev: export DATABASE_URL ?= sqlite:///data/dev.db
# The image needs the database: `DATABASE_URL=... make docker-run` passes it in.
DOCKER_RUN_FLAGS += --env DATABASE_URL
{%- endif %}
