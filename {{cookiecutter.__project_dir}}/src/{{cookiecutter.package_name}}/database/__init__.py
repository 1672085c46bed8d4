"""The database, installed into the app in one call: the engine (created on first use), the
readiness check, 503 answers while the database can't serve, the example resource's routes, pool
metrics and query spans, and closing the pool on shutdown."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from fastapi import FastAPI

from {{ cookiecutter.package_name }} import items
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
from {{ cookiecutter.package_name }}.errors import answer_unavailable
from {{ cookiecutter.package_name }}.settings import Settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from sqlalchemy.ext.asyncio import AsyncEngine


def install(app: FastAPI, settings: Settings, tracer_provider: TracerProvider | None) -> None:
    """Routes reach the engine through `app.state.get_engine()` and
    `app.state.get_read_engine()` (database.engines' dependencies call them)."""

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
    app.include_router(items.router)
