# Authentication (README: Authentication). `make dev` serves behind a local OpenID provider
# (scripts/dev_issuer.py: keys made when it starts, a token printed), unless AUTH_ISSUER names
# a real one; `make dev-token` prints another token from it.
.PHONY: dev-token

export DEV_TOKEN_SCOPES ?= {{ "items:read items:write" if cookiecutter.database != "none" }}
# `make migration` too: Alembic reads the service's settings, which need an issuer.
dev dev-token{{ " migration" if cookiecutter.database != "none" }}: export AUTH_ISSUER ?= http://127.0.0.1:9400
dev{{ " migration" if cookiecutter.database != "none" }}: export AUTH_AUDIENCE ?= {{ cookiecutter.project_slug }}
dev: DEV_SERVER_LAUNCHER = $(BIN)/python scripts/dev_issuer.py serve
# The image needs them: `AUTH_ISSUER=... AUTH_AUDIENCE=... make docker-run` passes them in.
DOCKER_RUN_FLAGS += --env AUTH_ISSUER --env AUTH_AUDIENCE

dev-token:  ## Print a token from `make dev`'s issuer (DEV_TOKEN_SCOPES="items:read" for fewer scopes)
	@$(BIN)/python scripts/dev_issuer.py token $(DEV_TOKEN_SCOPES)
