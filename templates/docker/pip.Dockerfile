{#- The pip stages of the generated Dockerfile: builder, build-dependencies, project, dependencies
    (the venv, without the build tools). -#}
FROM ${PYTHON_IMAGE} AS builder
WORKDIR /app
# Runs a command with the optional ca-bundle and index-url build secrets applied.
COPY docker/build-env /usr/local/bin/build-env
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PIP_NO_INPUT=1
# A venv without pip of its own: the base image's pip installs into it (--python), so no
# installer ships in the runtime image.
RUN python -m venv --without-pip /app/.venv

FROM builder AS build-dependencies
# Only the lock: this stage is reused until it changes.
COPY requirements.lock ./
# Every file must match a hash in the lock, and every dependency must be pinned there.
# Package caches live in a BuildKit cache mount: fast rebuilds, nothing cached in a layer.
RUN --mount=type=secret,id=ca-bundle --mount=type=secret,id=index-url \
    --mount=type=cache,target=/root/.cache/pip \
    build-env python -m pip --python /app/.venv/bin/python install --require-hashes \
        -r requirements.lock

FROM build-dependencies AS project
WORKDIR /src
# The build context is mounted for this one step (writes discarded, nothing lands in a layer), so
# whatever pyproject.toml declares is there without a list of packages here to keep in step.
# Build the wheel (no build isolation, no index: setuptools and wheel come from the lock); fail
# when a file under the packages would not ship (the check `make test` runs, same message);
# install it non-editable and without dependencies into /staging, laid out like the venv: the
# runtime adds it as a layer of its own, so a code change ships only these few files.
# Then the lock must still satisfy pyproject.toml: a dependency added without `make lock` fails
# `pip check`.
RUN --mount=type=bind,target=/src,rw --mount=type=tmpfs,target=/tmp \
    python -m pip --python /app/.venv/bin/python wheel --quiet --no-deps --no-build-isolation \
        --no-index --wheel-dir /tmp/dist . \
    && python scripts/check_dist.py /tmp/dist/*.whl \
    && python -m pip --python /app/.venv/bin/python install --no-deps --no-index \
        --prefix /staging /tmp/dist/*.whl \
    && { PYTHONPATH="$(echo /staging/lib/python3*/site-packages)" \
        python -m pip --python /app/.venv/bin/python check \
    || { echo "requirements.lock does not match pyproject.toml: run 'make lock'" >&2; exit 1; }; }

FROM build-dependencies AS dependencies
# setuptools and wheel are pinned only to build the project: the runtime's venv goes without.
RUN python -m pip --python /app/.venv/bin/python uninstall --yes setuptools wheel
