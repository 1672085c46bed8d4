"""Observability through the built images: /metrics from the running container, counted by
route template across several workers, and a request's trace reaching an OTLP/HTTP receiver.

The receiver is a stand-in run by the test on 127.0.0.1 (the containers share the host's
network): it keeps the bodies POSTed to /v1/traces, OTLP's protobuf encoding.
Needs a Docker engine with BuildKit: deselect with -m "not docker" where there is none.
"""

import json
import re
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1 import trace_pb2
from prometheus_client.parser import text_string_to_metric_families

from harness.commands import free_port
from harness.docker import (
    Container,
    Image,
    StartContainer,
    http_response,
    migrated_database,
    remove_volume,
    wait_for_readyz,
)

pytestmark = pytest.mark.docker

# The route each combination is asked for: one with a path parameter where there is one, so that
# a label or span name that carried the raw path would show.
ITEM_ROUTE, PLAIN_ROUTE = "/items/{item_id}", "/openapi.json"


@pytest.fixture
def served(
    image: Image, start: StartContainer, new_database: Callable[[], str]
) -> Iterator[Callable[..., Container]]:
    """Starts the image on a migrated database (PostgreSQL or a SQLite volume) with more
    environment variables: served(NAME=value, ...)."""
    volume = f"template-test-observability-{time.monotonic_ns()}"
    url = new_database() if image.context["database"] == "postgresql" else None
    options = migrated_database(image, url, volume)

    def serve(**environment: str) -> Container:
        container = start(
            image, **{**options, "environment": {**options["environment"], **environment}}
        )
        assert wait_for_readyz(container) == 200, container.logs()
        return container

    yield serve
    remove_volume(volume)


def traced_request(image: Image, container: Container) -> tuple[str, str, str]:
    """Asks for the combination's route: its template, the path asked and the request id."""
    if image.context["database"] == "none":
        status, headers, _ = http_response(container, "GET", PLAIN_ROUTE)
        assert status == 200
        return PLAIN_ROUTE, PLAIN_ROUTE, headers["X-Request-ID"]
    status, _, item = http_response(container, "POST", "/items", {"name": "observed"})
    assert status == 201, item
    path = f"/items/{item['id']}"  # type: ignore[index]
    status, headers, _ = http_response(container, "GET", path)
    assert status == 200
    return ITEM_ROUTE, path, headers["X-Request-ID"]


def scrape(container: Container) -> tuple[str, dict[tuple[str, frozenset[Any]], float]]:
    """The /metrics text and its samples, by name and labels."""
    with urllib.request.urlopen(container.url + "/metrics", timeout=5) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        text = response.read().decode()
    samples = {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    return text, samples


def test_metrics_add_up_every_worker_by_route_template_and_status(
    image: Image, served: Callable[..., Container]
) -> None:
    container = served(WORKERS="2")
    route, path, _ = traced_request(image, container)
    for _ in range(19):  # 20 in all, new connections: both workers take some
        assert http_response(container, "GET", path)[0] == 200
    assert http_response(container, "GET", "/no/such/route")[0] == 404

    ok = frozenset({("method", "GET"), ("route", route), ("status", "200")})
    unmatched = frozenset({("method", "GET"), ("route", "unmatched"), ("status", "404")})
    # A request is counted just after its response is sent: the last ones may still be counting.
    expected = {("http_requests_total", ok): 20, ("http_requests_total", unmatched): 1}
    deadline = time.monotonic() + 5
    while not expected.items() <= scrape(container)[1].items():
        assert time.monotonic() < deadline, scrape(container)[0]
        time.sleep(0.1)
    # Whichever worker answers the scrape, it reports the requests of both.
    for _ in range(6):
        text, samples = scrape(container)
        assert samples[("http_requests_total", ok)] == 20, text
        assert samples[("http_request_duration_seconds_count", ok)] == 20, text
        assert samples[("http_requests_total", unmatched)] == 1, text
        assert path not in text or path == route  # the raw path is no label value
        assert "process_resident_memory_bytes" not in text  # per process: left out
    if image.context["database"] != "none":
        assert samples[("db_pool_connections_in_use", frozenset())] == 0, text


def test_metrics_of_one_worker_include_the_process(
    image: Image, served: Callable[..., Container]
) -> None:
    container = served()
    text, samples = scrape(container)
    assert samples.get(("process_resident_memory_bytes", frozenset()), 0) > 0, text


class Span(NamedTuple):
    service: str
    trace_id: str
    name: str
    kind: int


class Receiver(ThreadingHTTPServer):
    """A stand-in OTLP/HTTP collector: keeps the spans POSTed to /v1/traces, decoded."""

    def __init__(self, port: int) -> None:
        self.spans: list[Span] = []
        self.content_types: list[str] = []
        super().__init__(("127.0.0.1", port), ReceiverHandler)


class ReceiverHandler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/v1/traces":
            self.server.content_types.append(self.headers["Content-Type"])
            self.server.spans += decoded_spans(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def decoded_spans(body: bytes) -> list[Span]:
    request = ExportTraceServiceRequest.FromString(body)
    spans = []
    for resource_spans in request.resource_spans:
        attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            spans += [
                Span(attributes["service.name"], span.trace_id.hex(), span.name, span.kind)
                for span in scope_spans.spans
            ]
    return spans


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(free_port())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def request_line(container: Container, request_id: str) -> dict[str, Any]:
    """The request's JSON log line (written once the response is sent)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for line in container.logs().splitlines():
            entry = json.loads(line) if line.startswith("{") else {}
            if entry.get("request_id") == request_id and entry["logger"].endswith(".access"):
                return dict(entry)
        time.sleep(0.1)
    raise AssertionError(f"no request line for {request_id}:\n{container.logs()[-3000:]}")


def test_a_request_trace_reaches_the_otlp_endpoint_with_the_logged_trace_id(
    image: Image, served: Callable[..., Container], receiver: Receiver
) -> None:
    service = f"observed-{image.key}"
    container = served(
        OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{receiver.server_port}",
        OTEL_SERVICE_NAME=service,
        OTEL_BSP_SCHEDULE_DELAY="100",  # ms; the default (5 s) only slows the test
    )
    route, _, request_id = traced_request(image, container)
    line = request_line(container, request_id)
    trace_id = str(line["trace_id"])
    assert re.fullmatch(r"[0-9a-f]{32}", trace_id) and int(trace_id, 16) != 0
    if image.issuer and route == ITEM_ROUTE:  # the caller its token names, never the token
        assert (line["caller"], line["client_id"]) == ("template-tests", "template-tests"), line
        token = container.headers["Authorization"].split()[1]
        assert token.split(".")[2] not in container.logs()

    # The server span of this very request (its trace id), named after the route template, from
    # this service; the receiver only sees it once its batch is sent (a span that ended earlier,
    # the query's, may come in an earlier batch).
    server_span = Span(service, trace_id, f"GET {route}", trace_pb2.Span.SPAN_KIND_SERVER)
    deadline = time.monotonic() + 20
    while server_span not in receiver.spans:
        if time.monotonic() > deadline:
            pytest.fail(
                f"{server_span} never received: {receiver.spans}\n{container.logs()[-3000:]}"
            )
        time.sleep(0.1)
    if image.context["database"] != "none":  # and its query, a client span in the same trace
        queries = [s for s in receiver.spans if s.kind == trace_pb2.Span.SPAN_KIND_CLIENT]
        assert trace_id in {query.trace_id for query in queries}, receiver.spans
    assert set(receiver.content_types) == {"application/x-protobuf"}
