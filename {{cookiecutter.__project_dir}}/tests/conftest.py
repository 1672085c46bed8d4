"""Test fixtures. The database is a fresh SQLite file, or TEST_DATABASE_URL (e.g. PostgreSQL)."""

{% if cookiecutter.database != "none" -%}
import os
{% endif -%}
from collections.abc import Iterator
{%- if cookiecutter.database != "none" %}
from pathlib import Path
{%- endif %}

import pytest
from fastapi.testclient import TestClient
{%- if cookiecutter.database != "none" %}
from sqlalchemy import Engine, MetaData
{%- endif %}

from {{ cookiecutter.package_name }}.app import create_app
{%- if cookiecutter.database != "none" %}
from {{ cookiecutter.package_name }}.db import create_db_engine
from {{ cookiecutter.package_name }}.schema import upgrade_to_head
{%- endif %}
from {{ cookiecutter.package_name }}.settings import Settings


{% if cookiecutter.database != "none" -%}
@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on an empty database: whatever an earlier test left is dropped first."""
    engine = create_db_engine(database_url)
    existing = MetaData()
    existing.reflect(engine)
    existing.drop_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url)


@pytest.fixture
def client(engine: Engine, settings: Settings) -> Iterator[TestClient]:
    upgrade_to_head(engine)
    with TestClient(create_app(settings)) as client:
        yield client
{%- else -%}
@pytest.fixture
def settings() -> Settings:
    return Settings()


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client
{%- endif %}
