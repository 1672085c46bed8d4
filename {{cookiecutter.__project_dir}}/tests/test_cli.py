import json
import runpy
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.types import Receive, Scope, Send

from {{ cookiecutter.package_name }} import __version__, cli, server


@pytest.mark.parametrize("workers", ["1", "3"])
def test_serve_runs_granian_with_the_settings_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, workers: str
) -> None:
    # Metrics of an earlier run of several workers: they must not add to this one's.
    stale = tmp_path / "counter_123.db"
    stale.write_bytes(b"")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    servers: list[tuple[str, dict[str, Any]]] = []

    class Granian:
        def __init__(self, target: str, **options: Any) -> None:
            servers.append((target, options))

        def serve(self) -> None:
            pass

    monkeypatch.setattr(server, "Granian", Granian)
    monkeypatch.setenv("PORT", "9001")
    monkeypatch.setenv("WORKERS", workers)
    monkeypatch.setenv("REQUEST_HEAD_TIMEOUT", "2.5")

    assert cli.main(["serve"]) == 0

    ((target, options),) = servers
    assert (target, options["factory"]) == (server.APP_FACTORY, True)  # built in each worker
    assert (options["port"], options["workers"]) == (9001, int(workers))
    assert options["http1_settings"].header_read_timeout == 2500  # milliseconds
    assert options["http1_settings"].max_buffer_size == 16 * 1024
    assert options["workers_kill_timeout"] == 15
    assert stale.exists() is (workers == "1")


def test_each_worker_serves_the_app_with_the_clients_its_proxies_forward(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "*")
    served = server.app()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:  # what TestClient takes
        await served(scope, receive, send)

    with TestClient(app) as client:
        response = client.get("/healthz", headers={"X-Forwarded-For": "203.0.113.7"})
    assert response.status_code == 200
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["client"] for line in lines if "client" in line] == ["203.0.113.7"]


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
