# uv: the environment, the lock, what ships, the audit.
.PHONY: install lock dist-check audit

install:  ## Create .venv with the locked dependencies, dev tools and the project (editable)
	uv sync --locked

lock:  ## Re-resolve uv.lock after changing dependencies in pyproject.toml (needs the package index)
	uv lock

# The editable install sees the whole source tree, so the tests can't tell what the wheel leaves
# out: build it as the image build does, into a throwaway directory, and compare.
dist-check:  ## Fail when a file under the packages would not ship in the wheel (and the image)
	dist=$$(mktemp -d) && trap 'rm -rf "$$dist"' EXIT && \
		uv build --quiet --wheel --out-dir "$$dist" && \
		$(BIN)/python scripts/check_dist.py "$$dist"/*.whl

# A tool that is no dependency of the project, pinned, from uv's cache:
# $(call run-tool,<requirement>,<command and arguments>)
run-tool = uvx --from $(1) $(2)
# The Python that runs the template's updater (mk/template.mk), with cookiecutter.
TEMPLATE_PYTHON = uv run --quiet --no-project --with cookiecutter==2.7.1 python

# pip-audit reads only the pins (and hashes) of the runtime dependencies: what the image ships.
# --strict: a package it could not look up fails the audit.
audit:  ## Check the locked runtime dependencies for known vulnerabilities (needs PyPI)
	requirements=$$(mktemp) && trap 'rm -f "$$requirements"' EXIT && \
		uv export --quiet --locked --no-dev --no-emit-project --format requirements-txt \
			--output-file "$$requirements" && \
		$(call run-tool,pip-audit==2.10.1,pip-audit) --strict --disable-pip --require-hashes \
			-r "$$requirements"
