# Negative control for the second incident (docs/incidents.md): an image that builds and then
# can't import its package. Here the venv holds an editable install (a .pth pointing at /app/src)
# and the runtime stage copies the venv without the source, the "optimized multi-stage" trap.
ARG PYTHON_IMAGE=python:3.13-slim-trixie
FROM ${PYTHON_IMAGE} AS builder
WORKDIR /app
RUN python -m venv /app/.venv
COPY requirements.lock ./
RUN --mount=type=secret,id=ca-bundle \
    PIP_CERT=/run/secrets/ca-bundle /app/.venv/bin/pip install --require-hashes -r requirements.lock
COPY pyproject.toml README.md LICENSE ./
COPY src/ src/
RUN /app/.venv/bin/pip install --no-deps --no-build-isolation -e .

FROM ${PYTHON_IMAGE}
COPY --from=builder /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH
USER 10001:10001
CMD ["python", "-c", "import PACKAGE"]
