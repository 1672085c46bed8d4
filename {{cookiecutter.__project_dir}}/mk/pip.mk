# pip: the environment, the locks, what ships, the audit.
.PHONY: install lock dist-check audit
PYTHON ?= python{{ cookiecutter.python_version }}

install:  ## Create .venv with the locked dependencies, dev tools and the project (editable)
	$(PYTHON) -m venv .venv
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation --editable .

# The locks are pip-tools' format (hash-pinned requirements, what `pip install --require-hashes`
# reads), written by uv's resolver: seconds where pip-compile takes minutes. uv is pinned and
# installed by pip into .tools/ like the other tools, and resolves for its venv's Python, this
# project's (never a download). The runtime lock constrains the dev lock: both pin the same
# versions. Both hold the build requirements (setuptools, wheel), read from pyproject.toml: the
# wheel is built without build isolation here and in the image. Index URLs stay out of the locks
# (they belong to the machine). uv reads its own settings, not pip's: a private index is
# UV_DEFAULT_INDEX, a TLS proxy's CA bundle SSL_CERT_FILE. Its resolution goes to stdout: only its
# summary is shown.
UV = uv==0.13.9
BUILD_REQUIRES = $(PYTHON) -c 'import tomllib; \
	print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")'
UV_PIP_COMPILE = .tools/$(UV)/bin/uv pip compile --python .tools/$(UV)/bin/python \
	--generate-hashes --custom-compile-command "make lock"
lock:  ## Re-resolve requirements*.lock after changing pyproject.toml (needs the package index)
	$(call run-tool,$(UV),uv --version)
	build_requires=$$($(BUILD_REQUIRES)) && \
	echo "$$build_requires" | $(UV_PIP_COMPILE) --output-file requirements.lock \
		pyproject.toml - >/dev/null && \
	echo "$$build_requires" | $(UV_PIP_COMPILE) --extra dev --constraint requirements.lock \
		--output-file requirements-dev.lock pyproject.toml - >/dev/null

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
