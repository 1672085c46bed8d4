"""Metrics, traces and request logs: what the service is operated through."""

import asyncio
import json
import logging
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client.parser import text_string_to_metric_families

from {{ cookiecutter.package_name }}.app import create_app
from {{ cookiecutter.package_name }}.observability import metrics, tracing
from {{ cookiecutter.package_name }}.observability.logs import ACCESS_LOGGER, configure_logging
from {{ cookiecutter.package_name }}.settings import Settings

# A route every service has (the database's tests use one with a path parameter).
TRACED_ROUTE = "/openapi.json"


def samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample /metrics shows, by name and labels."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def requests_counted(client: TestClient, route: str, status: str) -> float:
    labels = (("method", "GET"), ("route", route), ("status", status))
    return samples(client).get(("http_requests_total", labels), 0)


def test_metrics_count_requests_by_route_and_status(client: TestClient) -> None:
    before = {
        (route, status): requests_counted(client, route, status)
        for route, status in [(TRACED_ROUTE, "200"), ("unmatched", "404")]
    }
    for _ in range(3):
        assert client.get(TRACED_ROUTE).status_code == 200
    assert client.get("/nowhere/at/all").status_code == 404

    assert requests_counted(client, TRACED_ROUTE, "200") == before[TRACED_ROUTE, "200"] + 3
    assert requests_counted(client, "unmatched", "404") == before["unmatched", "404"] + 1
    shown = samples(client)
    # A path no route matches never becomes a label value; latency and in-flight are there too.
    assert not any(dict(labels).get("route") == "/nowhere/at/all" for _, labels in shown)
    latency = ("method", "GET"), ("route", TRACED_ROUTE), ("status", "200")
    assert shown[("http_request_duration_seconds_count", latency)] >= 3
    assert ("http_requests_in_flight", ()) in shown
    assert ("process_resident_memory_bytes", ()) in shown


def test_metrics_stay_out_of_the_openapi_document(client: TestClient) -> None:
    assert "/metrics" not in client.get("/openapi.json").json()["paths"]


def test_with_several_workers_metrics_come_from_the_shared_directory(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "metrics"
    shared.mkdir()
    # A live gauge file of a process that has exited: its values must no longer count.
    exited = subprocess.Popen(["true"])  # noqa: S607
    exited.wait()
    dead = shared / f"gauge_livesum_{exited.pid}.db"
    dead.write_bytes(b"")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(shared))

    metrics.forget_dead_workers()
    shown = samples(client)

    assert not dead.exists()
    # Process metrics can't be added up across workers: they are left out.
    assert ("process_resident_memory_bytes", ()) not in shown


@pytest.fixture
def spans() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def traced(client: TestClient, settings: Settings, spans: InMemorySpanExporter) -> TestClient:
    """An app traced into `spans`, beside `client` (which prepared the database, if any)."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    return TestClient(create_app(settings, tracer_provider=provider))


def test_each_request_is_a_span_named_by_its_route_with_its_ids_in_the_log_line(
    traced: TestClient, spans: InMemorySpanExporter, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("info")  # binds the handler to the captured stdout
    with traced:
        capsys.readouterr()
        assert traced.get(TRACED_ROUTE).status_code == 200
        assert traced.get("/healthz").status_code == 200  # probes aren't traced

    (server,) = [span for span in spans.get_finished_spans() if span.kind is SpanKind.SERVER]
    assert server.name == f"GET {TRACED_ROUTE}"
    assert server.attributes is not None
    assert server.attributes["http.route"] == TRACED_ROUTE
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    (request_line,) = [line for line in lines if line.get("route") == TRACED_ROUTE]
    assert request_line["trace_id"] == f"{server.context.trace_id:032x}"
    assert "trace_id" not in next(line for line in lines if line.get("route") == "/healthz")


def test_an_otlp_endpoint_turns_tracing_on(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not tracing.tracing_enabled()
    # Nothing listens on port 9; /healthz isn't traced, so nothing is sent there.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "renamed")
    assert tracing.tracing_enabled()
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").status_code == 200
        # Traced (the spans of a traced app, above): what is left of them is sent at shutdown.
        assert "spans sent" in [done for done, _ in client.app.state.shutdown_steps]
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    assert provider.resource.attributes["service.name"] == "renamed"
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert not tracing.tracing_enabled()


def test_each_request_logs_one_line_of_fields(
    client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("info")  # binds the handler to the captured stdout
    response = client.get("/healthz", headers={"X-Request-ID": "req-42"})

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    (line,) = [line for line in lines if line["logger"] == "{{ cookiecutter.package_name }}.access"]
    assert line["request_id"] == "req-42" == response.headers["X-Request-ID"]
    assert {key: line[key] for key in ("method", "route", "status", "client")} == {
        "method": "GET",
        "route": "/healthz",
        "status": 200,
        "client": "testclient",
    }
    assert 0 < line["duration_ms"] < 5000
    assert line["message"] == "GET /healthz 200"


def test_console_format_is_readable_lines_not_json(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info", "console")
    fields = {"method": "GET", "path": "/items/1", "route": "/items/{item_id}", "status": 200}
    log = logging.getLogger("{{ cookiecutter.package_name }}.test")
    log.warning("GET /items/1 200", extra={"fields": fields})

    (line,) = capsys.readouterr().out.splitlines()
    assert not line.startswith("{")
    # The level, the message, then only the fields it doesn't already say.
    assert line.split()[1:5] == ["WARNING", "GET", "/items/1", "200"]
    assert line.endswith("  route=/items/{item_id}  [{{ cookiecutter.package_name }}.test]")


def test_libraries_log_warnings_only_unless_debugging(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info")
    logging.getLogger("alembic.runtime.plugins").info("setup plugin")
    logging.getLogger("_granian").info("Spawning worker-1")
    logging.getLogger("sqlalchemy.engine").warning("a warning")
    assert [json.loads(line)["message"] for line in capsys.readouterr().out.splitlines()] == [
        "a warning"
    ]
    configure_logging("debug")
    logging.getLogger("alembic.runtime.plugins").info("setup plugin")
    assert "setup plugin" in capsys.readouterr().out


def test_the_servers_request_lines_go_out_together_and_in_order(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("info", request_lines_delay=0.05)  # as the server does (server.py)
    access, service = logging.getLogger(ACCESS_LOGGER), logging.getLogger(__name__)

    def written() -> list[str]:
        return [json.loads(line)["message"] for line in capsys.readouterr().out.splitlines()]

    async def requests_answered() -> list[list[str]]:
        access.info("GET /1 200")
        access.info("GET /2 200")
        waiting = written()
        await asyncio.sleep(0.2)
        after_the_delay = written()
        access.info("GET /3 200")
        service.warning("a line of the service's")  # writes the request line before it
        return [waiting, after_the_delay, written()]

    assert asyncio.run(requests_answered()) == [
        [],
        ["GET /1 200", "GET /2 200"],
        ["GET /3 200", "a line of the service's"],
    ]
    access.info("GET /4 200")  # no event loop to write it later: written at once
    assert written() == ["GET /4 200"]
