"""Engines, request-scoped sessions, and the errors that mean "try later".

Requests use an async engine, so a request waiting for a connection waits on the event loop, not
in a thread: however many clients arrive, nothing deadlocks on the thread pool. Migrations and the
tests use a plain engine on the same database (Alembic is synchronous).
"""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import Request
from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.exc import OperationalError, TimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine


def _sqlite_file(url: URL) -> None:
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


def _use_wal(engine: Engine) -> None:
    """Readers don't wait for the writer, and a commit doesn't wait for the disk to sync."""

    @event.listens_for(engine, "connect")
    def configure(connection: Any, _: object) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def create_db_engine(url: str) -> Engine:
    """A plain engine: for migrations, the CLI and the tests."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        _sqlite_file(parsed)
        engine = create_engine(parsed)
        _use_wal(engine)
        return engine
    return create_engine(parsed, pool_pre_ping=True, connect_args={"connect_timeout": 5})


def create_async_db_engine(
    url: str, *, pool_size: int, max_overflow: int, pool_timeout: float
) -> AsyncEngine:
    """The engine requests use. A request that gets no connection within `pool_timeout` seconds
    fails with TimeoutError (a 503): an overload sheds requests instead of queueing them forever."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        _sqlite_file(parsed)
        # SQLite has one writer at a time: one connection queues writes in the pool, on the event
        # loop, instead of each connection polling for the file lock. Waits beyond the pool's
        # timeout fail the same way.
        engine = create_async_engine(
            parsed.set(drivername="sqlite+aiosqlite"),
            pool_size=1,
            max_overflow=0,
            pool_timeout=pool_timeout,
            connect_args={"timeout": pool_timeout},
        )
        _use_wal(engine.sync_engine)
        return engine
    return create_async_engine(
        parsed,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout,
        # pre_ping replaces connections the server closed (a restart, a failover).
        pool_pre_ping=True,
        # A server that doesn't answer fails the request after 5 s instead of hanging it.
        connect_args={"connect_timeout": 5},
    )


# The database can't serve this request now (unreachable, or no pooled connection came free in
# time); the app answers 503 with Retry-After instead of a 500.
TRY_LATER_ERRORS = (OperationalError, TimeoutError)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session per request (a FastAPI dependency), closed when the request is done."""
    async with AsyncSession(request.app.state.get_engine(), expire_on_commit=False) as session:
        yield session
