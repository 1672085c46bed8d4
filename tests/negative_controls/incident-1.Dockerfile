# Negative control, from the first incident (docs/incidents.md): the builder stage copies only
# pyproject.toml, then installs the project, whose explicit `packages = ["backend"]` is missing.
ARG PYTHON_IMAGE=python:3.11-slim-trixie
FROM ${PYTHON_IMAGE} AS builder
WORKDIR /build
COPY pyproject.toml .
RUN --mount=type=secret,id=ca-bundle \
    PIP_CERT=/run/secrets/ca-bundle python -m pip install --user --no-cache-dir .

FROM ${PYTHON_IMAGE} AS production
COPY --from=builder /root/.local /root/.local
COPY backend/ /app/
CMD ["backend", "serve"]
