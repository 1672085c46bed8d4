"""The database's part of the metrics and traces: how many pooled connections are in use, and a
span per query inside the request's span."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prometheus_client import Gauge
from sqlalchemy import event
from sqlalchemy.pool import QueuePool

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from sqlalchemy.ext.asyncio import AsyncEngine

# livesum: with several workers, the sum over the processes still running.
POOL_IN_USE = Gauge(
    "db_pool_connections_in_use",
    "Database connections checked out of the pool now (all workers together)",
    multiprocess_mode="livesum",
)
POOL_OVERFLOW = Gauge(
    "db_pool_overflow_in_use",
    "Of those, the connections beyond each worker's DB_POOL_SIZE: above 0, the pool is saturated",
    multiprocess_mode="livesum",
)


def watch_pool(engine: AsyncEngine) -> None:
    """Keep the pool gauges current as connections are checked out and returned."""
    pool = engine.sync_engine.pool
    pool_size = pool.size() if isinstance(pool, QueuePool) else 0
    checked_out: set[Any] = set()  # connection records: a failed checkout returns one unseen

    def update() -> None:
        POOL_IN_USE.set(len(checked_out))
        POOL_OVERFLOW.set(max(0, len(checked_out) - pool_size))

    @event.listens_for(pool, "checkout")
    def checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        checked_out.add(record)
        update()

    @event.listens_for(pool, "checkin")
    def checkin(dbapi_connection: Any, record: Any) -> None:
        checked_out.discard(record)
        update()


def instrument_engine(engine: AsyncEngine, provider: TracerProvider) -> None:
    """A span per query, inside the request's span."""
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    # It uses SQLAlchemy's engine events, which 2.1 keeps; its declared range lags behind.
    SQLAlchemyInstrumentor().instrument(
        engine=engine.sync_engine, tracer_provider=provider, skip_dep_check=True
    )


def uninstrument_engines() -> None:
    """Undo instrument_engine (the instrumentor instruments once per process, until undone)."""
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    SQLAlchemyInstrumentor().uninstrument()
