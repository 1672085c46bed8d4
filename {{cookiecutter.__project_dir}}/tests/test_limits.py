"""What one client can cost the service: request bodies (web/limits.py), error answers
(web/errors.py), request heads and connections (server.py: `serve` in a process of its own on
127.0.0.1)."""

import asyncio
import http.client
import json
import os
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from {{ cookiecutter.package_name }}.app import create_app
from {{ cookiecutter.package_name }}.server import connection_limit
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.web.limits import BodyLimitsMiddleware

LIMITS = {
    "max_request_body_bytes": 1000,
    "max_request_bodies_in_flight_bytes": 1500,
    "request_body_timeout": 0.2,
}
# No error answer may hold more than this, whatever the client sent.
MAX_ERROR_BYTES = 4096


class Probe(BaseModel):
    name: str = Field(max_length=10)
    tags: list[int] = Field(default_factory=list, max_length=100)
    nested: list[list[list[list[list[list[list[list[int]]]]]]]] = Field(default_factory=list)


def probed_app(settings: Settings) -> FastAPI:
    """The service, plus the kind of routes a team adds: a body, a query, a detail from input."""
    app = create_app(settings.model_copy(update=LIMITS))

    @app.post("/probe")
    async def probe(body: Probe) -> dict[str, str]:
        return {"name": body.name}

    @app.get("/probe")
    async def probe_query(tag: str = Query(max_length=10)) -> dict[str, str]:
        raise HTTPException(404, detail=f"no probe tagged {tag}")

    @app.get("/probe/structured")
    async def probe_structured() -> None:
        raise HTTPException(404, detail={"code": "missing"})

    @app.get("/probe/cached")
    async def probe_cached() -> None:
        raise HTTPException(304)

    # FastAPI's own limit on a route (README: Limits), below the service's and above it.
    @app.post("/probe/small", max_body_size=10)
    async def probe_small(request: Request) -> None:
        await request.body()

    @app.post("/probe/large", max_body_size=10_000)
    async def probe_large(request: Request) -> None:
        await request.body()

    @app.get("/probe/{name}")
    async def probe_name(name: str) -> None:
        raise HTTPException(404, detail=f"no probe named {name}")

    return app


@pytest.fixture
def limited(settings: Settings) -> Iterator[TestClient]:
    with TestClient(probed_app(settings)) as client:
        yield client


# ---- bodies ----------------------------------------------------------------------------------


def test_a_declared_body_over_the_limit_is_refused_before_it_is_read(limited: TestClient) -> None:
    response = limited.post("/probe", content=b"x" * 1001, headers={"Content-Type": "text/plain"})
    assert response.status_code == 413
    assert response.json() == {"detail": "request body larger than 1000 bytes"}
    assert response.headers["connection"] == "close"
    assert response.headers["x-request-id"]  # answered through the request's middleware


def test_a_streamed_body_is_cut_off_at_the_limit(limited: TestClient) -> None:
    chunks = (b'{"name": "' + b"x" * 300 for _ in range(10))  # no Content-Length: chunked
    response = limited.post("/probe", content=chunks, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.headers["connection"] == "close"


def test_a_routes_own_max_body_size_lowers_the_limit_but_cannot_raise_it(
    limited: TestClient,
) -> None:
    assert limited.post("/probe/small", content=b"x" * 10).status_code == 200
    assert limited.post("/probe/small", content=b"x" * 11).status_code == 413
    refused = limited.post("/probe/large", content=b"x" * 1001)  # the service's limit: 1000
    assert refused.status_code == 413
    assert refused.json() == {"detail": "request body larger than 1000 bytes"}


async def read_body(scope: Any, receive: Any, send: Any) -> None:
    """An app that reads its request's body whole, as a route with a body parameter does."""
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def call(limits: BodyLimitsMiddleware, parts: list[bytes], stall: float = 0) -> list[Any]:
    """What the middleware sends for a request whose body comes in these parts (taken off the
    list as they are received), then stalls."""
    sent: list[Any] = []
    scope = {"type": "http", "method": "POST", "path": "/", "headers": []}

    async def receive() -> dict[str, Any]:
        part = parts.pop(0) if parts else None
        if part is None:
            await asyncio.sleep(stall)
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": part, "more_body": True}

    async def send(message: Any) -> None:
        sent.append(message)

    async def run() -> None:
        await asyncio.wait_for(limits(scope, receive, send), timeout=5)

    asyncio.run(run())
    return sent


def test_bodies_past_the_memory_budget_get_a_503_to_retry() -> None:
    limits = BodyLimitsMiddleware(read_body, max_bytes=1000, max_total_bytes=1500, timeout=5)
    limits.in_flight = 900  # another request's body, being received
    start, body = call(limits, [b"x" * 900])
    assert start["status"] == 503
    assert (b"retry-after", b"5") in start["headers"]
    assert json.loads(body["body"])["detail"].startswith("too many request bodies")
    assert limits.in_flight == 900  # this request's bytes were never counted in


def test_a_body_that_does_not_arrive_in_time_is_a_408() -> None:
    limits = BodyLimitsMiddleware(read_body, max_bytes=1000, max_total_bytes=1500, timeout=0.2)
    began = time.monotonic()
    start, _ = call(limits, [b'{"na'], stall=60)
    assert start["status"] == 408
    assert (b"connection", b"close") in start["headers"]
    assert time.monotonic() - began < 2
    assert limits.in_flight == 0  # released when the request ended


def test_a_client_still_sending_when_refused_has_the_rest_read_first() -> None:
    """Its connection then closes with nothing unread: the client reads the 413, not a reset."""
    limits = BodyLimitsMiddleware(read_body, max_bytes=1000, max_total_bytes=10**6, timeout=5)
    parts = [b"x" * 600] * 5
    start, _ = call(limits, parts, stall=60)
    assert start["status"] == 413
    assert (b"connection", b"close") in start["headers"]
    assert parts == []  # all sent was read (and dropped) before the answer


# ---- answers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/probe", {"name": "x" * 100_000}),  # a long value
        ("POST", "/probe", {"name": "ok", "tags": ["x"] * 20_000}),  # many invalid values
        ("POST", "/probe", {"name": [[[["deep"]]]] * 1000}),  # a large structure
        ("GET", "/probe?tag=" + "x" * 50_000, None),  # a long query value
        ("GET", "/probe/" + "x" * 50_000, None),  # a detail built from input
        ("GET", "/nowhere/" + "x" * 50_000, None),
        ("POST", "/probe", {"name": "ok", "nested": [[[[[[[["x"]]]]]]]]}),  # a deep location
        ("POST", "/probe", {"name": True, "tags": [10**40]}),  # values of other kinds
    ],
)
def test_no_error_answer_repeats_more_than_a_little_of_the_input(
    limited: TestClient, method: str, path: str, body: Any
) -> None:
    content = json.dumps(body).encode() if body is not None else None
    response = limited.request(method, path, content=content)
    assert 400 <= response.status_code < 500
    assert len(response.content) <= MAX_ERROR_BYTES, response.content[:300]


def test_a_422_shows_ten_errors_says_how_many_it_left_out_and_cuts_values(
    limited: TestClient,
) -> None:
    body = {"name": "x" * 500, "tags": ["not a number"] * 20}
    answer = limited.post("/probe", json=body).json()
    assert len(answer["detail"]) == 10
    assert answer["errors_not_shown"] == 11  # 21 errors: the name and each tag
    (name,) = [error for error in answer["detail"] if error["loc"] == ["body", "name"]]
    assert name["input"] == "x" * 100 + "…"


def test_a_detail_that_is_no_text_and_an_answer_without_a_body_pass_unchanged(
    limited: TestClient,
) -> None:
    assert limited.get("/probe/structured").json() == {"detail": {"code": "missing"}}
    cached = limited.get("/probe/cached")
    assert (cached.status_code, cached.content) == (304, b"")


# ---- heads and connections, against the server as `serve` runs it --------------------------------

# The server's limits, small: what the tests below send goes past them. Every setting these tests
# depend on is named here, so a default the team changes (more workers, say) can't fail them.
SERVER_LIMITS = {
    "WORKERS": "1",  # the connection cap is per worker: a second one would take the waiting one
    "LOG_LEVEL": "info",
    "MAX_REQUEST_BODY_BYTES": "1000",
    "MAX_REQUEST_HEAD_BYTES": "8192",
    "REQUEST_HEAD_TIMEOUT": "2",
    "MAX_CONNECTIONS": "16",
    "FORWARDED_ALLOW_IPS": "127.0.0.1",
}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """`{{ cookiecutter.project_slug }} serve` on 127.0.0.1 with the limits above; yields its port
    and its log."""
    directory = tmp_path_factory.mktemp("served")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    database_url = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{directory / 'test.db'}"
    environment = {**os.environ, **SERVER_LIMITS, "HOST": "127.0.0.1", "PORT": str(port),
                   "DATABASE_URL": database_url}  # fmt: skip
    log = directory / "serve.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "{{ cookiecutter.package_name }}", "serve"],
            env=environment, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        # Starting takes a second here, but tens of seconds on a crowded CI machine: a bound,
        # not a measure.
        deadline = time.monotonic() + 90
        while exchange(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                       wait=1)[:12] != b"HTTP/1.1 200":  # fmt: skip
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield port, log
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture
def server(served: tuple[int, Path]) -> int:
    return served[0]


def exchange(port: int, request: bytes, wait: float = 3) -> bytes:
    """Sends the bytes, returns what the server answers before closing (or `wait` passes)."""
    try:
        connection = socket.create_connection(("127.0.0.1", port), timeout=wait)
    except ConnectionRefusedError:
        return b""
    with connection:
        connection.sendall(request)
        answer = b""
        try:
            while chunk := connection.recv(65536):
                answer += chunk
        except TimeoutError:
            pass
    return answer


def test_a_head_past_its_size_or_header_count_is_a_431(server: int) -> None:
    big = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"x" * 9000 + b"\r\n\r\n"
    many = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-N: 1\r\n" * 100 + b"\r\n"
    for request in (big, many):
        assert exchange(server, request).startswith(b"HTTP/1.1 431 ")


def test_a_head_that_does_not_arrive_in_time_is_closed(server: int) -> None:
    began = time.monotonic()
    half_a_head, nothing_at_all = b"GET /healthz HTTP/1.1\r\nHost: x\r\n", b""
    with ThreadPoolExecutor() as pool:  # both connections wait out the timeout at once
        answers = pool.map(partial(exchange, server, wait=10), [half_a_head, nothing_at_all])
        assert list(answers) == [b"", b""]
    assert time.monotonic() - began < 8  # closed by the server, not by the client giving up


def test_an_idle_keep_alive_connection_is_closed(server: int) -> None:
    with socket.create_connection(("127.0.0.1", server), timeout=10) as connection:
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert connection.recv(65536).startswith(b"HTTP/1.1 200 ")
        assert connection.recv(65536) == b""  # closed by the server, idle


def test_past_the_connection_cap_a_new_connection_waits_for_one_to_close(server: int) -> None:
    held = [socket.create_connection(("127.0.0.1", server)) for _ in range(16)]
    try:
        for connection in held:  # each has begun a request: none is done
            connection.sendall(b"GET /healthz HTTP/1.1\r\n")
        with socket.create_connection(("127.0.0.1", server), timeout=0.5) as waiting:
            waiting.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            with pytest.raises(TimeoutError):  # not accepted: it waits in the listen backlog
                waiting.recv(65536)
            for connection in held:
                connection.close()
            waiting.settimeout(10)
            assert waiting.recv(65536).startswith(b"HTTP/1.1 200 ")  # then served
    finally:
        for connection in held:
            connection.close()


def test_a_refused_body_is_answered_before_the_connection_closes(server: int) -> None:
    declared = b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + b"x" * 2000
    assert exchange(server, declared).startswith(b"HTTP/1.1 413 ")


def test_pipelined_requests_are_each_answered(server: int) -> None:
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    last = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    answer = exchange(server, request * 2 + last)
    assert answer.count(b"HTTP/1.1 200 ") == 3


def test_an_invalid_request_is_a_400(server: int) -> None:
    assert exchange(server, b"NOT HTTP AT ALL\r\n\r\n").startswith(b"HTTP/1.1 400 ")


def test_a_trusted_proxy_forwards_the_client_address(served: tuple[int, Path]) -> None:
    port, log = served
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request("GET", "/healthz", headers={"X-Forwarded-For": "203.0.113.7"})
    request_id = connection.getresponse().headers["X-Request-ID"]
    connection.close()
    deadline = time.monotonic() + 5
    while request_id not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)  # the log line follows the answer
    (line,) = [json.loads(text) for text in log.read_text().splitlines() if request_id in text]
    assert line["client"] == "203.0.113.7"


def test_the_connection_cap_stays_within_the_open_file_limit() -> None:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert 16 <= connection_limit(10**9) <= max(soft - 128, 16)
    assert connection_limit(100) == 100
