"""The application factory: `create_app()` builds a configured FastAPI app (uvicorn calls it)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
{%- if cookiecutter.database != "none" %}
from functools import cache
{%- endif %}
from typing import TYPE_CHECKING

from fastapi import FastAPI

from {{ cookiecutter.package_name }} import __version__, health{% if cookiecutter.database != "none" %}, items{% endif %}, metrics, tracing
{%- if cookiecutter.database != "none" %}
from {{ cookiecutter.package_name }}.db import UNAVAILABLE, create_async_db_engine
{%- endif %}
from {{ cookiecutter.package_name }}.errors import add_error_handlers
from {{ cookiecutter.package_name }}.logs import RequestLogMiddleware, configure_logging
{%- if cookiecutter.database != "none" %}
from {{ cookiecutter.package_name }}.schema import schema_is_current
{%- endif %}
from {{ cookiecutter.package_name }}.settings import Settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
{%- if cookiecutter.database != "none" %}
    from sqlalchemy.ext.asyncio import AsyncEngine
{%- endif %}

log = logging.getLogger(__name__)


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
{%- if cookiecutter.database != "none" %}

    # Created on first use: importing the database driver then doesn't delay start-up.
    @cache
    def engine() -> AsyncEngine:
        created = create_async_db_engine(
            settings.database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout,
        )
        metrics.watch_pool(created)
        if tracer_provider is not None:
            tracing.instrument_engine(created, tracer_provider)
        return created
{%- endif %}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        # Runs after in-flight requests finished (on SIGTERM, too).
{%- if cookiecutter.database != "none" %}
        # Close pooled connections.
        if engine.cache_info().currsize:
            await engine().dispose()
        if tracer_provider is not None:
            tracing.uninstrument_engines()
{%- endif %}
        if tracer_provider is not None:
            tracer_provider.shutdown()  # sends the spans not yet sent
        # uvicorn's own start and stop lines are filtered out with the libraries' (logs.py).
        log.info("stopped: requests in flight answered{% if cookiecutter.database != "none" %}, database connections closed{% endif %}")

    app = FastAPI(title={{ cookiecutter.project_name | tojson }}, version=__version__, lifespan=lifespan)
{%- if cookiecutter.database != "none" %}
    app.state.engine = engine
    app.state.readiness_checks = [schema_is_current(engine)]
    add_error_handlers(app, unavailable=UNAVAILABLE)
{%- else %}
    # Add a check here for each dependency (a database, a queue) the service can't work without,
    # and its "try later" exceptions to add_error_handlers.
    app.state.readiness_checks = []
    add_error_handlers(app, unavailable=())
{%- endif %}
    # The last added runs first: the request id is set before anything is measured or logged.
    app.add_middleware(metrics.MetricsMiddleware)
    app.add_middleware(RequestLogMiddleware)
    app.include_router(health.router)
{%- if cookiecutter.database != "none" %}
    app.include_router(items.router)
{%- endif %}
    app.include_router(metrics.router)
    if tracer_provider is not None:
        tracing.instrument_app(app, tracer_provider)
    return app
