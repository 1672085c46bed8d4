"""The database, installed into the app in one call (create_app makes it: part.py): the engine
(created on first use), the readiness check, 503 answers while the database can't serve, pool
metrics and query spans, and closing the pool on shutdown. The routes that use it are the
resources' own (api/), which app.py includes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse

from {{ cookiecutter.package_name }}.database.engines import (
    TRY_LATER_ERRORS,
    create_async_db_engine,
    is_unavailable,
)
from {{ cookiecutter.package_name }}.database.migrations import schema_is_current
from {{ cookiecutter.package_name }}.database.observability import (
    instrument_engine,
    uninstrument_engines,
    watch_pool,
)
from {{ cookiecutter.package_name }}.database.settings import DatabaseSettings
from {{ cookiecutter.package_name }}.web.errors import RETRY_AFTER_SECONDS

log = logging.getLogger(__package__)  # `<package>.database`: the outage line names the database

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from sqlalchemy.ext.asyncio import AsyncEngine


def install_database(app: FastAPI, tracer_provider: TracerProvider | None) -> None:
    """Routes reach the engine through `app.state.get_engine()` and
    `app.state.get_read_engine()` (database.engines' dependencies call them)."""
    settings = DatabaseSettings()

    # Created on first use: importing the database driver then doesn't delay start-up.
    @cache
    def get_engine() -> AsyncEngine:
        engine = create_async_db_engine(
            settings.database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout,
            statement_timeout=settings.db_statement_timeout,
            prepared_statements=settings.db_prepared_statements,
        )
        watch_pool(engine)
        if tracer_provider is not None:
            instrument_engine(engine, tracer_provider)
        return engine

    # The same pool, its connections used without a transaction: no BEGIN and ROLLBACK around a
    # read. Not behind a pooler without prepared statements: asyncpg prepares a statement, then
    # runs it, and outside a transaction such a pooler may send the two to different servers.
    @cache
    def get_read_engine() -> AsyncEngine:
        if not settings.db_prepared_statements:
            return get_engine()
        return get_engine().execution_options(isolation_level="AUTOCOMMIT")

    async def close() -> None:
        if get_engine.cache_info().currsize:
            await get_engine().dispose()
        if tracer_provider is not None:
            uninstrument_engines()

    app.state.get_engine = get_engine
    app.state.get_read_engine = get_read_engine
    app.state.readiness_checks.append(schema_is_current(get_engine))
    app.state.shutdown_steps.append(("database connections closed", close))
    answer_unavailable(app, TRY_LATER_ERRORS, when=is_unavailable)


def answer_unavailable(
    app: FastAPI,
    exception_types: tuple[type[Exception], ...],
    when: Callable[[Exception], bool] = lambda error: True,
) -> None:
    """Exceptions of these types answer 503 with Retry-After, those for which `when` says the
    database can't serve now; the others stay errors (a logged 500)."""

    async def service_unavailable(request: Request, exc: Exception) -> JSONResponse:
        if not when(exc):
            raise exc  # a bug, not an outage: the JSON 500, its traceback logged
        # One line, no traceback: an outage would otherwise bury the logs in identical stacks.
        log.error("database unavailable: %s: %s", type(exc).__name__, str(exc).partition("\n")[0])
        return JSONResponse(
            {"detail": "service temporarily unavailable, retry later"},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

    for exception_type in exception_types:
        app.add_exception_handler(exception_type, service_unavailable)
