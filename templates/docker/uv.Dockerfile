{#- The uv stages of the generated Dockerfile: builder, dependencies (the venv), project. -#}
FROM ${PYTHON_IMAGE} AS builder
WORKDIR /app
# Runs a command with the optional ca-bundle and index-url build secrets applied.
COPY docker/build-env /usr/local/bin/build-env
# uv comes from PyPI, pinned (no other registry needed), and stays in the builder stages.
ARG UV_VERSION=0.13.9
# Build the venv on the base image's Python, never a downloaded one; compile bytecode at build
# time; copy files out of the cache mount instead of hard-linking into it.
ENV UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=python3 \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
# Package caches live in BuildKit cache mounts: fast rebuilds, nothing cached in a layer.
RUN --mount=type=secret,id=ca-bundle --mount=type=secret,id=index-url \
    --mount=type=cache,target=/root/.cache/pip \
    build-env python -m pip install "uv==${UV_VERSION}"

FROM builder AS dependencies
# Only the dependency declarations: this stage is reused until they change.
COPY pyproject.toml uv.lock ./
# The locked third-party dependencies, without the project. --locked fails the build when
# uv.lock no longer matches pyproject.toml (fix: `make lock`).
RUN --mount=type=secret,id=ca-bundle --mount=type=secret,id=index-url \
    --mount=type=cache,target=/root/.cache/uv \
    build-env uv sync --locked --no-dev --no-install-project

FROM dependencies AS project
WORKDIR /src
# The build context is mounted for this one step (writes discarded, nothing lands in a layer), so
# whatever pyproject.toml declares is there without a list of packages here to keep in step.
# Build the wheel; fail when a file under the packages would not ship (the check `make test`
# runs, same message); install it non-editable and without dependencies into /staging, laid out
# like the venv: the runtime adds it as a layer of its own, so a code change ships only these files.
RUN --mount=type=bind,target=/src,rw --mount=type=tmpfs,target=/tmp \
    --mount=type=secret,id=ca-bundle --mount=type=secret,id=index-url \
    --mount=type=cache,target=/root/.cache/uv \
    build-env uv build --quiet --wheel --out-dir /tmp/dist \
    && python scripts/check_dist.py /tmp/dist/*.whl \
    && uv pip install --python /app/.venv/bin/python --prefix /staging --no-deps /tmp/dist/*.whl
