"""The database's part of the service: readiness, 503s while it can't serve, pool gauges, query
spans, and metrics labelled by a route with a path parameter."""

import asyncio
import errno
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client import REGISTRY
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, TimeoutError
from sqlalchemy.ext.asyncio import create_async_engine

from {{ cookiecutter.package_name }}.app import create_app
from {{ cookiecutter.package_name }}.database.engines import is_unavailable
from {{ cookiecutter.package_name }}.database.migrations import alembic_config, head_revision
from {{ cookiecutter.package_name }}.database.observability import watch_pool
from {{ cookiecutter.package_name }}.settings import Settings
from tests.part_settings import app_with

# The example resource's route with a path parameter: metrics and spans name it, not the path.
ITEM_ROUTE = "/items/{item_id}"


def test_readiness_is_unavailable_before_migrations(engine: Engine, settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    head = head_revision(alembic_config())
    assert response.json()["reason"] == f"database schema at no revision, expected {head}"


def unreachable(tmp_path: Path) -> FastAPI:
    return app_with(Settings(), DATABASE_URL=f"sqlite:///{tmp_path}")  # a directory can't be opened


def test_readiness_is_unavailable_without_a_database(tmp_path: Path) -> None:
    with TestClient(unreachable(tmp_path)) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "reason": "database unreachable"}


def test_an_unreachable_database_is_a_503_to_retry(tmp_path: Path) -> None:
    with TestClient(unreachable(tmp_path)) as client:
        response = client.get("/items")
    assert response.status_code == 503
    assert response.headers["Retry-After"].isdigit()
    assert response.json() == {"detail": "service temporarily unavailable, retry later"}


def test_a_request_that_gets_no_connection_in_time_is_a_503(settings: Settings) -> None:
    app = app_with(settings, DB_POOL_SIZE=1, DB_MAX_OVERFLOW=0, DB_POOL_TIMEOUT=0.1)
    with TestClient(app) as client:
        client.get("/readyz")  # creates the engine
        assert client.portal is not None
        held = client.portal.call(app.state.get_engine().connect().start)  # the only connection
        try:
            response = client.get("/items")
        finally:
            client.portal.call(held.close)
    assert response.status_code == 503
    assert "Retry-After" in response.headers


def test_metrics_name_the_route_template_not_the_path(client: TestClient) -> None:
    def counted(status: str) -> float:
        labels = {"method": "GET", "route": ITEM_ROUTE, "status": status}
        return REGISTRY.get_sample_value("http_requests_total", labels) or 0

    item_id = client.post("/items", json={"name": "counted"}).json()["id"]
    before = counted("200"), counted("404")
    for path in (f"/items/{item_id}", f"/items/{item_id}", "/items/999999"):
        client.get(path)

    # 404: the route matched, the item didn't. No sample is ever labelled with a raw path.
    assert (counted("200") - before[0], counted("404") - before[1]) == (2, 1)
    routes = {s.labels.get("route") for m in REGISTRY.collect() for s in m.samples}
    assert f"/items/{item_id}" not in routes


def test_pool_gauges_follow_connections_checked_out(tmp_path: Path) -> None:
    def gauges() -> tuple[float | None, float | None]:
        return (
            REGISTRY.get_sample_value("db_pool_connections_in_use"),
            REGISTRY.get_sample_value("db_pool_overflow_in_use"),
        )

    async def check() -> None:
        engine = create_async_engine(
            f"sqlite+aiosqlite:///{tmp_path / 'pool.db'}", pool_size=1, max_overflow=1
        )
        watch_pool(engine)
        try:
            async with engine.connect():
                assert gauges() == (1, 0)
                async with engine.connect():
                    assert gauges() == (2, 1)
            assert gauges() == (0, 0)
        finally:
            await engine.dispose()

    asyncio.run(check())


def test_each_query_is_a_span_inside_its_requests_span(
    client: TestClient, settings: Settings
) -> None:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    with TestClient(create_app(settings, tracer_provider=provider)) as traced:
        item_id = traced.post("/items", json={"name": "traced"}).json()["id"]
        spans.clear()
        assert traced.get(f"/items/{item_id}").status_code == 200

    (server,) = [span for span in spans.get_finished_spans() if span.kind is SpanKind.SERVER]
    assert server.name == f"GET {ITEM_ROUTE}"
    queries = [span for span in spans.get_finished_spans() if span.kind is SpanKind.CLIENT]
    assert queries, "no span for the database query"
    assert all(query.context.trace_id == server.context.trace_id for query in queries)


class DriverError(Exception):
    def __init__(self, sqlstate: str | None) -> None:
        super().__init__("from the driver")
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("error", "try_later"),
    [
        (DBAPIError("SELECT 1", {}, DriverError("57014")), True),  # cancelled at its timeout
        (DBAPIError("SELECT 1", {}, DriverError("08006")), True),  # the connection failed
        (DBAPIError("SELECT 1", {}, DriverError("55P03")), True),  # a lock not available
        (DBAPIError("SELECT 1", {}, DriverError("23505")), False),  # a unique violation: a bug
        (OperationalError("SELECT 1", {}, DriverError(None)), True),  # SQLite: locked, unopenable
        (IntegrityError("SELECT 1", {}, DriverError(None)), False),
        (TimeoutError("no connection came free"), True),  # the pool's
        (ConnectionRefusedError(), True),
        (OSError(errno.EHOSTUNREACH, "no route to host"), True),
        (FileNotFoundError("a bug, not an outage"), False),
    ],
)
def test_only_errors_that_mean_try_later_answer_503(error: Exception, try_later: bool) -> None:
    assert is_unavailable(error) is try_later
