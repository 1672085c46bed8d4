"""Traces: OpenTelemetry spans for each request (and each query, database.observability), sent
over OTLP/HTTP.

On when OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set, unless
OTEL_SDK_DISABLED=true. Off, nothing of OpenTelemetry is even imported: it costs no start-up
time. The SDK reads the other standard OTEL_* variables itself (README: Observability).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI

from {{ cookiecutter.package_name }} import __version__
from {{ cookiecutter.package_name }}.observability.logs import add_line_fields, add_request_field_sink

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
# Probes and scrapes arrive every few seconds and would drown the traces worth reading.
UNTRACED_PATHS = "/healthz,/readyz,/metrics"


def tracing_enabled() -> bool:
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return any(os.environ.get(name) for name in ENDPOINT_VARIABLES)


def otlp_tracer_provider() -> TracerProvider:
    """Spans batched and exported over OTLP/HTTP; also the global provider, so
    `opentelemetry.trace.get_tracer(__name__)` in the service's own code adds to the same traces."""
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES add to (or rename) these.
    resource = Resource.create(
        {
            SERVICE_NAME: os.environ.get("OTEL_SERVICE_NAME", "{{ cookiecutter.project_slug }}"),
            SERVICE_VERSION: __version__,
        }
    )
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider


def trace_ids() -> dict[str, Any]:
    """The current trace and span ids, as the log lines carry them (none outside a span)."""
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}


def add_to_span(fields: dict[str, Any]) -> None:
    """The request's own fields (logs.add_request_fields) as attributes of its span."""
    from opentelemetry import trace

    span = trace.get_current_span()
    span.set_attributes({name: value for name, value in fields.items() if value is not None})


def instrument_app(app: FastAPI, provider: TracerProvider) -> None:
    """A span per request, named after its route template, with the ids in its log lines and the
    request's own fields as its attributes."""
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        excluded_urls=os.environ.get("OTEL_PYTHON_FASTAPI_EXCLUDED_URLS", UNTRACED_PATHS),
    )
    add_line_fields(trace_ids)
    add_request_field_sink(add_to_span)


async def send_remaining_spans(provider: TracerProvider) -> None:
    """On shutdown: export the spans still batched (waits for the exporter's timeout at most)."""
    provider.shutdown()
