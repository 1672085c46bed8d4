"""The application factory: `create_app()` builds a configured FastAPI app (server.py serves it).

It composes the package: what every request crosses (web/) and what it reports
(observability/), each optional part the service has installed in one call of its own (parts.py),
then the routers: the probes, the metrics and the resources, a module each in api/. No part
imports a resource.
"""

from __future__ import annotations

import logging
import pkgutil
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from importlib import import_module
from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI

from {{ cookiecutter.package_name }} import __version__, api, parts
from {{ cookiecutter.package_name }}.observability import metrics, tracing
from {{ cookiecutter.package_name }}.observability.logs import configure_logging
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.web import health
from {{ cookiecutter.package_name }}.web.errors import add_error_handlers
from {{ cookiecutter.package_name }}.web.limits import BodyLimitsMiddleware
from {{ cookiecutter.package_name }}.web.middleware import RequestMiddleware
from {{ cookiecutter.package_name }}.web.swagger_ui import add_swagger_ui

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

log = logging.getLogger(__name__)

# What shutdown runs after the last request in flight was answered: (what it did, the step).
ShutdownStep = tuple[str, Callable[[], Awaitable[None]]]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    # Runs after requests in flight finished (on SIGTERM, too). The server's own start and stop
    # lines are filtered out with the libraries' (observability/logs.py): the service says what
    # it closed.
    steps: list[ShutdownStep] = app.state.shutdown_steps
    for done, step in steps:
        await step()
        log.info(done)
    log.info("stopped: requests in flight answered")


def resources() -> list[APIRouter]:
    """The `router` of each module in api/, by name: a resource is served once its module is
    there."""
    modules = sorted(module.name for module in pkgutil.iter_modules(api.__path__))
    return [import_module(f"{api.__name__}.{name}").router for name in modules]


def create_app(
    settings: Settings | None = None, tracer_provider: TracerProvider | None = None
) -> FastAPI:
    """`tracer_provider` (the tests pass one) overrides the OTLP exporter the OTEL_* variables
    configure; with neither, the app isn't traced."""
    settings = settings or Settings()
    configure_logging(settings.log_level, settings.log_format)
    metrics.forget_dead_workers()
    if tracer_provider is None and tracing.tracing_enabled():
        tracer_provider = tracing.otlp_tracer_provider()

    # The docs page is web/swagger_ui.py's: FastAPI's own pages load Swagger UI and ReDoc from a
    # CDN. The telemetry is observability/'s: FastAPI's built-in OpenTelemetry stays off, and
    # with it the look at the global OpenTelemetry providers it takes on every request.
    app = FastAPI(
        title={{ cookiecutter.project_name | tojson }},
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    # Each dependency the service can't work without (a database, a queue) adds its check to
    # /readyz and its step to the shutdown, and names the errors that answer 503 while it is down.
    app.state.readiness_checks = []
    app.state.shutdown_steps = []
    add_error_handlers(app)
    add_swagger_ui(app, settings)
    # The last added runs first: each request's id, metrics and log line (web/middleware.py), then
    # what its body may cost (web/limits.py).
    app.add_middleware(
        BodyLimitsMiddleware,
        max_bytes=settings.max_request_body_bytes,
        max_total_bytes=settings.max_request_bodies_in_flight_bytes,
        timeout=settings.request_body_timeout,
    )
    app.add_middleware(RequestMiddleware)
    app.include_router(health.router)
    app.include_router(metrics.router)
    for part in parts.present():
        if part.INSTALL is not None:
            pkgutil.resolve_name(part.INSTALL)(app, tracer_provider)
    for router in resources():
        app.include_router(router)
    if tracer_provider is not None:
        tracing.instrument_app(app, tracer_provider)
        send_spans = partial(tracing.send_remaining_spans, tracer_provider)
        app.state.shutdown_steps.append(("spans sent", send_spans))
    return app
