"""What only a PostgreSQL service does: refuse to start without its database, accept its URLs,
cancel a statement at its timeout, reuse a pooled connection without a ping, replace a connection
the server closed."""

import asyncio
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from {{ cookiecutter.package_name }} import cli
from {{ cookiecutter.package_name }}.database.engines import create_async_db_engine
from {{ cookiecutter.package_name }}.database.settings import DatabaseSettings
from {{ cookiecutter.package_name }}.settings import Settings
from tests.part_settings import app_with


def test_production_refuses_to_start_without_database_url(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(SystemExit) as exited:
        cli.main(["serve"])
    assert exited.value.code == 2
    assert "error: DATABASE_URL is not set: expected a PostgreSQL URL" in capsys.readouterr().err


@pytest.mark.parametrize("prepared_statements", [True, False])
def test_requests_use_asyncpg_with_a_statement_timeout(prepared_statements: bool) -> None:
    engine = create_async_db_engine(
        "postgresql+psycopg://user@db/app",
        pool_size=2,
        max_overflow=0,
        pool_timeout=1,
        statement_timeout=2.5,
        prepared_statements=prepared_statements,
    )
    assert engine.url.drivername == "postgresql+asyncpg"  # (it connects on first use only)


def test_postgres_urls_get_the_psycopg_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://user@db/app")
    assert DatabaseSettings().database_url == "postgresql+psycopg://user@db/app"


# ---- against PostgreSQL itself (TEST_DATABASE_URL; the CI workflow sets it) --------------------


def test_a_statement_past_its_timeout_is_cancelled_and_answers_503(
    migrated_postgresql: str, settings: Settings, engine: Engine
) -> None:
    fast = app_with(settings, DB_STATEMENT_TIMEOUT=0.2)
    with engine.connect() as holder, TestClient(fast) as client:
        holder.execute(text("LOCK TABLE items IN ACCESS EXCLUSIVE MODE"))  # until rolled back
        began = time.monotonic()
        response = client.get("/items")
        took = time.monotonic() - began
        holder.rollback()
        assert client.get("/items").status_code == 200  # the connection is fine afterwards
    assert response.status_code == 503
    assert took < 5  # cancelled at its timeout, not when the lock went away


def test_a_pooled_connection_is_reused_without_a_ping_round_trip(
    migrated_postgresql: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pre-ping would cost a round trip before every request's first statement."""
    engine = create_async_db_engine(
        migrated_postgresql,
        pool_size=1,
        max_overflow=0,
        pool_timeout=1,
        statement_timeout=2.5,
        prepared_statements=True,
    )
    pinged: list[Any] = []
    ping = engine.dialect.do_ping

    def counted_ping(connection: Any) -> bool:
        pinged.append(connection)
        return ping(connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted_ping)

    async def read_twice() -> list[int]:
        answers = []
        for _ in range(2):  # the second read takes the pooled connection the first returned
            async with engine.connect() as connection:
                answers.append((await connection.execute(text("SELECT 1"))).scalar_one())
        await engine.dispose()
        return answers

    assert asyncio.run(read_twice()) == [1, 1]
    assert pinged == []


def test_a_connection_the_server_closed_is_replaced_without_failing_a_request(
    migrated_postgresql: str, client: TestClient, engine: Engine
) -> None:
    assert client.get("/items").status_code == 200  # a pooled connection now exists
    with engine.connect() as admin:  # what a restart or a failover does to it
        admin.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    time.sleep(0.2)  # the driver reads the server's goodbye
    assert [client.get("/items").status_code for _ in range(3)] == [200, 200, 200]
