"""What one client can cost the service: request bodies (limits.py), error answers (errors.py),
request heads and connections (server.py, against a real server on 127.0.0.1)."""

import asyncio
import json
import resource
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI, HTTPException, Query
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from {{ cookiecutter.package_name }}.app import create_app
from {{ cookiecutter.package_name }}.limits import BodyLimitsMiddleware
from {{ cookiecutter.package_name }}.server import GuardedHttpToolsProtocol, connection_limit
from {{ cookiecutter.package_name }}.settings import Settings

LIMITS = {
    "max_request_body_bytes": 1000,
    "max_request_bodies_in_flight_bytes": 1500,
    "request_body_timeout": 0.2,
    "max_request_head_bytes": 2048,
    "max_request_headers": 20,
    "request_head_timeout": 0.5,
    "max_connections": 16,
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


async def read_body(scope: Any, receive: Any, send: Any) -> None:
    """An app that reads its request's body whole, as a route with a body parameter does."""
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def call(limits: BodyLimitsMiddleware, parts: list[bytes], stall: float = 0) -> list[Any]:
    """What the middleware sends for a request whose body comes in these parts, then stalls."""
    sent: list[Any] = []
    remaining = iter(parts)
    scope = {"type": "http", "method": "POST", "path": "/", "headers": []}

    async def receive() -> dict[str, Any]:
        part = next(remaining, None)
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


# ---- heads and connections, against a real server ---------------------------------------------


@pytest.fixture
def server(settings: Settings) -> Iterator[int]:
    """The service on 127.0.0.1, served as `serve` does, with small limits; yields its port."""
    limited = settings.model_copy(update=LIMITS)
    GuardedHttpToolsProtocol.configure(limited)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    config = uvicorn.Config(probed_app(settings), host="127.0.0.1", port=port, log_config=None,
                            http=GuardedHttpToolsProtocol, timeout_keep_alive=1)  # fmt: skip
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    while not running.started:
        time.sleep(0.01)
    yield port
    running.should_exit = True
    thread.join(timeout=10)
    GuardedHttpToolsProtocol.configured = False  # the next server configures it afresh


def exchange(port: int, request: bytes, wait: float = 3) -> bytes:
    """Sends the bytes, returns what the server answers before closing (or `wait` passes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as connection:
        connection.sendall(request)
        answer = b""
        try:
            while chunk := connection.recv(65536):
                answer += chunk
        except TimeoutError:
            pass
    return answer


def test_a_head_past_its_size_or_header_count_is_a_431(server: int) -> None:
    big = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"x" * 4096 + b"\r\n\r\n"
    many = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-N: 1\r\n" * 30 + b"\r\n"
    for request in (big, many):
        assert exchange(server, request).startswith(b"HTTP/1.1 431 ")


def test_a_head_that_does_not_arrive_in_time_is_a_408_and_closed(server: int) -> None:
    began = time.monotonic()
    answer = exchange(server, b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never finished
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert time.monotonic() - began < 2
    silent = exchange(server, b"")  # a connection that says nothing at all
    assert silent.startswith(b"HTTP/1.1 408 ")


def test_past_the_connection_cap_a_new_connection_gets_a_503(server: int) -> None:
    held = [socket.create_connection(("127.0.0.1", server)) for _ in range(16)]
    try:
        for connection in held:  # each has begun a request: none is idle, none can be closed
            connection.sendall(b"GET /healthz HTTP/1.1\r\n")
        time.sleep(0.1)
        # Answered as it is accepted (a client that had sent its request may see a reset).
        assert exchange(server, b"").startswith(b"HTTP/1.1 503 ")
    finally:
        for connection in held:
            connection.close()


def test_a_refused_body_is_answered_before_the_connection_closes(server: int) -> None:
    declared = b"POST /probe HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + b"x" * 2000
    assert exchange(server, declared).startswith(b"HTTP/1.1 413 ")


def test_pipelined_requests_are_each_answered(server: int) -> None:
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    last = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    answer = exchange(server, request * 2 + last)
    assert answer.count(b"HTTP/1.1 200 ") == 3


def test_an_invalid_request_is_a_400(server: int) -> None:
    assert exchange(server, b"NOT HTTP AT ALL\r\n\r\n").startswith(b"HTTP/1.1 400 ")


def test_an_idle_keep_alive_connection_is_closed(server: int) -> None:
    with socket.create_connection(("127.0.0.1", server), timeout=5) as connection:
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert connection.recv(65536).startswith(b"HTTP/1.1 200 ")
        began = time.monotonic()
        assert connection.recv(65536) == b""  # closed by the server, idle
        assert time.monotonic() - began < 3


def test_at_the_cap_the_longest_idle_connection_makes_room(
    server: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(GuardedHttpToolsProtocol, "evict_after", 0.1)
    idle = [socket.create_connection(("127.0.0.1", server), timeout=5) for _ in range(16)]
    try:
        for connection in idle:  # each answered and kept alive, idle
            connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert connection.recv(65536).startswith(b"HTTP/1.1 200 ")
        time.sleep(0.2)
        answer = exchange(server, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 200 ")
        assert idle[0].recv(65536) == b""  # the oldest was closed for it
    finally:
        for connection in idle:
            connection.close()


def test_the_connection_cap_stays_within_the_open_file_limit() -> None:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert 16 <= connection_limit(10**9) <= max(soft - 128, 16)
    assert connection_limit(100) == 100
