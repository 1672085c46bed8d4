"""The engine, request-scoped sessions and the declarative base every model derives from."""

from collections.abc import Callable, Iterator
from functools import cache, partial
from pathlib import Path

from fastapi import Request
from sqlalchemy import Engine, MetaData, create_engine, make_url
from sqlalchemy.orm import DeclarativeBase, Session

# Deterministic constraint names, so a later migration can alter or drop a constraint by name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def create_db_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # FastAPI runs sync endpoints in a thread pool, so a connection may change threads.
        return create_engine(parsed, connect_args={"check_same_thread": False})
    # pre_ping replaces connections the server closed; the timeout keeps /readyz from hanging.
    return create_engine(parsed, pool_pre_ping=True, connect_args={"connect_timeout": 5})


def lazy_engine(url: str) -> Callable[[], Engine]:
    """The engine, created on first call: importing the driver then doesn't delay start-up."""
    return cache(partial(create_db_engine, url))


def get_session(request: Request) -> Iterator[Session]:
    """A session per request (a FastAPI dependency), closed when the response is sent."""
    with Session(request.app.state.engine()) as session:
        yield session
