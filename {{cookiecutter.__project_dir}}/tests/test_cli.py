import runpy
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from {{ cookiecutter.package_name }} import __version__, cli


@pytest.mark.parametrize(("workers", "builds_the_app_itself"), [("1", True), ("3", False)])
def test_serve_runs_uvicorn_with_the_settings_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, workers: str, builds_the_app_itself: bool
) -> None:
    # Metrics of an earlier run of several workers: they must not add to this one's.
    stale = tmp_path / "counter_123.db"
    stale.write_bytes(b"")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(cli.uvicorn, "run", lambda app, **options: calls.append((app, options)))
    monkeypatch.setenv("PORT", "9001")
    monkeypatch.setenv("WORKERS", workers)
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "10.0.0.0/8")

    assert cli.main(["serve"]) == 0

    ((app, options),) = calls
    assert isinstance(app, FastAPI) is builds_the_app_itself
    assert options["port"] == 9001
    assert options["forwarded_allow_ips"] == "10.0.0.0/8"
    assert options["proxy_headers"] is True
    assert options["access_log"] is False  # the app logs each request itself
    assert stale.exists() is builds_the_app_itself
    if not builds_the_app_itself:
        assert (app, options["factory"], options["workers"]) == (cli.APP_FACTORY, True, 3)


def test_the_package_version_is_the_released_one() -> None:
    assert __version__ == version("{{ cookiecutter.project_slug }}")


def test_the_module_runs_as_a_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["{{ cookiecutter.project_slug }}", "--help"])
    with pytest.raises(SystemExit) as exited:
        runpy.run_module("{{ cookiecutter.package_name }}", run_name="__main__")
    assert exited.value.code == 0


def test_invalid_settings_exit_with_the_variable_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PORT", "http")
    with pytest.raises(SystemExit) as exited:
        cli.main(["serve"])
    assert exited.value.code == 2
    assert "error: PORT is invalid" in capsys.readouterr().err
