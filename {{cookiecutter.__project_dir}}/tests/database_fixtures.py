"""The database's test fixtures (a pytest plugin: conftest.py). The database is a fresh SQLite
file, or TEST_DATABASE_URL (e.g. PostgreSQL)."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, MetaData, text

from {{ cookiecutter.package_name }}.database.engines import create_db_engine
from {{ cookiecutter.package_name }}.database.migrations import upgrade_to_head


# Every test's: code that reads its settings from the environment (the CLI, the `settings`
# fixture) finds it there.
@pytest.fixture(autouse=True)
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'test.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    return url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on an empty database: whatever an earlier test left is dropped first."""
    engine = create_db_engine(database_url)
    if engine.dialect.name == "postgresql":  # tables, and the types and functions beside them
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    else:
        existing = MetaData()
        existing.reflect(engine)
        existing.drop_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture(autouse=True)
def migrated_for_the_client(request: pytest.FixtureRequest) -> None:
    """A test using the `client` fixture gets the app on an empty, migrated database (autouse
    fixtures run before the fixtures a test names)."""
    if "client" in request.fixturenames:
        upgrade_to_head(request.getfixturevalue("engine"))


@pytest.fixture
def migrated_postgresql(database_url: str, client: TestClient) -> str:
    """The URL of a migrated PostgreSQL database (the client fixture migrated it), for tests of
    what only PostgreSQL does; skipped on SQLite."""
    if not database_url.startswith(("postgres://", "postgresql")):
        pytest.skip("needs TEST_DATABASE_URL=postgresql://... (what CI runs the tests with)")
    return database_url
