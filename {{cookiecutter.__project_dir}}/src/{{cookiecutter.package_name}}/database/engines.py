"""Engines, what routes take to reach the database, and the errors that mean "try later".

Requests use an async engine, so a request waiting for a connection waits on the event loop, not
in a thread: however many clients arrive, nothing deadlocks on the thread pool. On PostgreSQL
that engine is asyncpg (a compiled protocol; SQLAlchemy keeps each connection's prepared
statements); migrations, the CLI and the tests use a plain engine on psycopg, synchronously.
"""

import builtins
import errno
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, TimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

# The database can't serve this request now: unreachable, a lost connection, no pooled connection
# free in time, a statement cancelled at its timeout. The app answers 503 with Retry-After (a bug
# stays a 500: see is_unavailable). OSError: asyncpg's connect failures reach the app unwrapped.
TRY_LATER_ERRORS = (DBAPIError, TimeoutError, OSError)
# SQLSTATE classes and codes that mean "not now": 08 connection exception, 53 insufficient
# resources (too many connections), 57P operator intervention (a server shutting down or
# starting), 57014 a statement cancelled (DB_STATEMENT_TIMEOUT), 55P03 a lock not available.
TRY_LATER_SQLSTATES = ("08", "53", "57P", "57014", "55P03")
NETWORK_ERRNOS = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN, errno.EHOSTDOWN}


def is_unavailable(error: Exception) -> bool:
    """Whether a TRY_LATER_ERRORS error means "retry later" (503) rather than a bug (500)."""
    if isinstance(error, TimeoutError):  # no pooled connection free in time
        return True
    if isinstance(error, OSError):  # no connection at all; any other OSError is a bug
        network = (ConnectionError, builtins.TimeoutError, socket.gaierror)
        return isinstance(error, network) or error.errno in NETWORK_ERRNOS
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:  # lost: SQLAlchemy has already replaced the pool's
        return True
    sqlstate = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
    if sqlstate is None:  # SQLite: a locked or unopenable file is an OperationalError
        return type(error).__name__ == "OperationalError"
    return str(sqlstate).startswith(TRY_LATER_SQLSTATES)


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
    parsed = parsed.set(drivername="postgresql+psycopg")  # the same database, synchronously
    return create_engine(parsed, pool_pre_ping=True, connect_args={"connect_timeout": 5})


def create_async_db_engine(
    url: str,
    *,
    pool_size: int,
    max_overflow: int,
    pool_timeout: float,
    statement_timeout: float,
    prepared_statements: bool,
) -> AsyncEngine:
    """The engine requests use. A request that gets no connection within `pool_timeout` seconds
    fails with TimeoutError (a 503): an overload sheds requests instead of queueing them forever.
    A statement running longer than `statement_timeout` seconds is cancelled by the server (a
    503), so a slow query can't hold a connection for ever."""
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
    connect_args: dict[str, Any] = {"timeout": 5}  # no answer: the request fails after 5 s
    if statement_timeout:
        milliseconds = str(round(statement_timeout * 1000))
        connect_args["server_settings"] = {"statement_timeout": milliseconds}
    if not prepared_statements:
        # Behind a pooler that hands each transaction to any server connection and doesn't track
        # prepared statements (PgBouncer in transaction mode before 1.21, or with
        # max_prepared_statements = 0): none is kept, and each gets a name of its own.
        connect_args |= {
            "statement_cache_size": 0,
            "prepared_statement_cache_size": 0,
            "prepared_statement_name_func": lambda: f"__asyncpg_{uuid.uuid4().hex}__",
        }
    engine = create_async_engine(
        parsed.set(drivername="postgresql+asyncpg"),
        # Connections stay open once made, pool_size of them. (Those beyond it, max_overflow,
        # are closed when returned while the pool is full: under steady load above pool_size
        # that is a new connection, and a new server process, for every request.)
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout,
        # No pre-ping: it costs a round trip (three on asyncpg) before every request's first
        # statement. _replace_closed_connections does its job without one.
        pool_pre_ping=False,
        connect_args=connect_args,
    )
    _replace_closed_connections(engine)
    return engine


def _replace_closed_connections(engine: AsyncEngine) -> None:
    """A pre-ping without the round trip. A connection the server closed (a restart, a
    failover, an idle timeout) is known to be closed on this side: asyncpg reads its socket all
    the time and marks it closed. The pool then replaces it before a request uses it. One that
    dies later, mid-request, fails that request with a 503; SQLAlchemy then invalidates the pool
    (every connection opened before is replaced when next checked out), so the next requests
    succeed without a restart."""

    @event.listens_for(engine.sync_engine, "checkout")
    def check(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        if dbapi_connection.driver_connection.is_closed():
            raise DisconnectionError("the server closed this connection")


async def database(request: Request) -> AsyncEngine:
    """The engine, for routes that write (a FastAPI dependency): `async with db.connect() as
    connection:` runs their statements in one transaction, committed with
    `await connection.commit()` before the route answers; leaving the block returns the
    connection to the pool, rolling back what wasn't committed. (Not a `yield` dependency: that
    would hold the connection until the response is sent, and cost an exit stack per request.)"""
    engine: AsyncEngine = request.app.state.get_engine()
    return engine


async def read_database(request: Request) -> AsyncEngine:
    """The engine for routes that only read (a FastAPI dependency): each statement runs without
    a transaction, so no BEGIN and ROLLBACK round trips around the query, and sees what was
    committed when it started. Reads that need one consistent view across statements take
    `database` and its transaction."""
    engine: AsyncEngine = request.app.state.get_read_engine()
    return engine


Database = Annotated[AsyncEngine, Depends(database)]
ReadDatabase = Annotated[AsyncEngine, Depends(read_database)]


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """An ORM session per request (a FastAPI dependency), for routes that work with model
    objects; its statements run in one transaction, which the route commits. It holds its
    connection until the response has been sent, and the ORM costs more per row than the
    statements `database` runs: the example resource (api/items.py) uses those."""
    async with AsyncSession(request.app.state.get_engine(), expire_on_commit=False) as session:
        yield session
