"""Test fixtures every part of the service shares: its settings, and a client of its app.

Each part brings its own fixtures as a pytest plugin, a module `tests/<part>_fixtures.py` (the
database's, authentication's), kept in the project with the part: every such module here is
loaded, so the files present say which fixtures the tests have.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.app import create_app
from {{ cookiecutter.package_name }}.settings import Settings

PLUGINS = sorted(Path(__file__).parent.glob("*_fixtures.py"))
pytest_plugins = [f"tests.{plugin.stem}" for plugin in PLUGINS]


@pytest.fixture
def settings() -> Settings:
    """From the environment, as the service reads them (the parts' fixtures set theirs there)."""
    return Settings()


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client
