"""What only a PostgreSQL service does: refuse to start without its database, accept its URLs."""

import pytest

from {{ cookiecutter.package_name }} import cli


def test_production_refuses_to_start_without_database_url(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(SystemExit) as exited:
        cli.main(["serve"])
    assert exited.value.code == 2
    assert "error: DATABASE_URL is not set: expected a PostgreSQL URL" in capsys.readouterr().err


def test_postgres_urls_get_the_psycopg_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://user@db/app")
    assert cli.load_settings().database_url == "postgresql+psycopg://user@db/app"
