"""Hostile clients against the built image, run with a memory limit, while a well-behaved client
runs alongside: oversized bodies (declared and streamed), oversized and numerous headers, slow
heads and slow bodies from many connections at once, a burst of connections beyond the limit, a
deliberately slow query. Each attack is bounded in connections and time, on 127.0.0.1.

Asserted: each hostile request is answered 4xx/5xx at once, or cut off at its timeout; no answer
is larger than ANSWER_BOUND; connections past MAX_CONNECTIONS wait for a free one and are served,
the server's descriptors bounded; the good client sees only 2xx, with bounded latency; and at the
end the container was never OOM-killed or restarted and its processes' peak RSS stayed under
RSS_BOUND.
"""

import asyncio
import contextlib
import http.client
import os
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness.commands import processes
from harness.docker import (
    Container,
    Image,
    container_starter,
    migrated_database,
    wait_for_readyz,
)
from harness.postgres import postgres_bin
from tests.params import image_keys_with, image_params

MEMORY_LIMIT = "256m"
RSS_BOUND = 200 * 1024 * 1024  # the server processes' peak resident memory, all attacks included
ANSWER_BOUND = 4096  # bytes of any answer to a hostile request, head and body
MAX_CONNECTIONS = 300
# Short timeouts keep the suite quick; the defaults (README: Limits) are longer, not different.
LIMITS = {
    "REQUEST_HEAD_TIMEOUT": "2",
    "REQUEST_BODY_TIMEOUT": "3",
    "MAX_CONNECTIONS": str(MAX_CONNECTIONS),
    "DB_STATEMENT_TIMEOUT": "1",
    "DB_POOL_TIMEOUT": "2",
}
# The default combination (PostgreSQL: the slow query needs it).
pytestmark = [
    pytest.mark.docker,
    pytest.mark.parametrize(
        "image", image_params(image_keys_with("postgresql")[:1]), indirect=True
    ),
]


@dataclass
class GoodClient:
    """Asks /healthz and /readyz every 50 ms on a keep-alive connection, as a client's connection
    pool does (a new connection after the server closed one)."""

    port: int
    statuses: list[int] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        paths = ["/healthz", "/readyz"]
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        while not self.stop.is_set():
            began = time.monotonic()
            try:
                connection.request("GET", paths[len(self.statuses) % 2])
                response = connection.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                connection.close()  # reconnects on the next request
                status = 0
            self.statuses.append(status)
            self.latencies.append(time.monotonic() - began)
            self.stop.wait(0.05)
        connection.close()


@dataclass
class Served:
    container: Container
    database_url: str
    good: GoodClient

    @property
    def token(self) -> str:
        """The container's headers (its token, auth=oidc) as head lines: the attacks on routes
        that need one reach what lies behind the token check."""
        return "".join(f"{name}: {value}\r\n" for name, value in self.container.headers.items())


@pytest.fixture(scope="module")
def served(image: Image, new_database: Callable[[], str]) -> Iterator[Served]:
    """One container for the module's attacks, one after the other, with the good client."""
    url = new_database()
    options = migrated_database(image, url, None)
    start, remove_all = container_starter()
    environment = {**options["environment"], **LIMITS}
    container = start(image, **{**options, "environment": environment}, mem_limit=MEMORY_LIMIT)
    assert wait_for_readyz(container) == 200, container.logs()
    good = GoodClient(container.port)
    thread = threading.Thread(target=good.run, daemon=True)
    thread.start()
    yield Served(container, url, good)
    good.stop.set()
    thread.join(timeout=15)
    remove_all()


@pytest.fixture
def good(served: Served) -> Iterator[GoodClient]:
    """The good client's results during one test (and at least a second of them): only 2xx,
    none slow."""
    first = len(served.good.statuses)
    yield served.good
    while len(served.good.statuses) < first + 20:
        time.sleep(0.05)
    statuses, latencies = served.good.statuses[first:], served.good.latencies[first:]
    assert statuses and set(statuses) == {200}, statuses
    assert max(latencies) < 5 and statistics.quantiles(latencies, n=100)[98] < 1.5, latencies


# ---- raw connections --------------------------------------------------------------------------


@dataclass
class Answer:
    status: int | None  # None: closed or reset without one
    size: int  # bytes received
    seconds: float  # from connecting to the answer's end (or the close)


async def attack(
    port: int, head: bytes, body: Sequence[bytes] = (), pause: float = 0, deadline: float = 15
) -> Answer:
    """Sends a head, then the body's parts `pause` seconds apart until the server answers or
    closes; reads what it answers (counting, not keeping it)."""
    began = time.monotonic()
    received = b""
    size = 0
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return Answer(None, 0, time.monotonic() - began)

    async def read() -> None:
        nonlocal received, size
        while chunk := await reader.read(65536):
            size += len(chunk)
            received = (received + chunk)[:64]

    reading = asyncio.ensure_future(read())
    try:
        writer.write(head)
        for part in body:
            if reading.done():
                break
            writer.write(part)
            await writer.drain()
            await asyncio.sleep(pause)
        await asyncio.wait_for(reading, timeout=deadline - (time.monotonic() - began))
    except (OSError, TimeoutError):
        reading.cancel()
    finally:
        writer.close()
    status = int(received[9:12]) if received.startswith(b"HTTP/1.1 ") else None
    return Answer(status, size, time.monotonic() - began)


def together(*attacks: object) -> list[Answer]:
    """Runs the attacks at once; prints what they got (for the record: `pytest -s`)."""

    async def run() -> list[Answer]:
        return list(await asyncio.gather(*attacks))  # type: ignore[call-overload]

    answers = asyncio.run(run())
    statuses = sorted({str(answer.status) for answer in answers})
    slowest, largest = max(a.seconds for a in answers), max(a.size for a in answers)
    print(f"{len(answers)} connections: {statuses}, {slowest:.2f} s, {largest} bytes at most")
    return answers


def head(method: str = "POST", path: str = "/items", headers: str = "") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: service\r\n{headers}\r\n".encode()


# ---- the attacks ------------------------------------------------------------------------------


def test_a_declared_300_mb_body_is_refused_before_it_is_read(
    served: Served, good: GoodClient
) -> None:
    length = f"Content-Length: {300 << 20}\r\n"
    declared = head(headers=f"{served.token}Content-Type: application/json\r\n{length}")
    (answer,) = together(attack(served.container.port, declared, [b"x" * 65536] * 16))
    assert (answer.status, answer.seconds < 2) == (413, True), answer
    assert answer.size <= ANSWER_BOUND


def test_a_streamed_body_is_cut_off_at_the_limit(served: Served, good: GoodClient) -> None:
    chunked = head(
        headers=f"{served.token}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
    )
    chunk = b"10000\r\n" + b"x" * 65536 + b"\r\n"  # 200 MB would follow; the server stops it
    (answer,) = together(attack(served.container.port, chunked, [chunk] * 3200))
    assert (answer.status, answer.seconds < 10) == (413, True), answer
    assert answer.size <= ANSWER_BOUND


def test_oversized_and_numerous_headers_are_a_431(served: Served, good: GoodClient) -> None:
    port = served.container.port
    big = head("GET", "/healthz", "X-Big: " + "x" * (1 << 20) + "\r\n")
    many = head("GET", "/healthz", "".join(f"X-{n}: {n}\r\n" for n in range(200)))
    answers = together(attack(port, big), attack(port, many))
    assert [answer.status for answer in answers] == [431, 431], answers
    assert all(answer.size <= ANSWER_BOUND for answer in answers)


def test_slow_heads_from_many_connections_are_cut_off_at_their_timeout(
    served: Served, good: GoodClient
) -> None:
    trickle = [b"X-Slow: 1\r\n"] * 20  # a header line every half second, never the end
    started = b"GET /healthz HTTP/1.1\r\n"
    port = served.container.port
    answers = together(*[attack(port, started, trickle, pause=0.5) for _ in range(200)])
    assert {answer.status for answer in answers} <= {408, None}, answers[:5]
    assert all(2 <= answer.seconds < 5 for answer in answers), [a.seconds for a in answers][:5]
    assert all(answer.size <= ANSWER_BOUND for answer in answers)


def test_slow_bodies_from_many_connections_are_cut_off_at_their_timeout(
    served: Served, good: GoodClient
) -> None:
    declared = head(
        headers=f"{served.token}Content-Type: application/json\r\nContent-Length: 1000000\r\n"
    )
    answers = together(*[attack(served.container.port, declared, [b" "] * 20, pause=0.5)
                         for _ in range(100)])  # fmt: skip
    assert {answer.status for answer in answers} == {408}, answers[:5]
    assert all(3 <= answer.seconds < 6 for answer in answers), [a.seconds for a in answers][:5]
    assert all(answer.size <= ANSWER_BOUND for answer in answers)


def open_descriptors(pid: int) -> int:
    """The most descriptors any of the container's processes has open (one that ended: 0)."""
    counts = [0]
    for process in processes(pid):
        with contextlib.suppress(FileNotFoundError):
            counts.append(len(os.listdir(f"/proc/{process}/fd")))
    return max(counts)


def test_a_burst_beyond_the_connection_limit_waits_and_is_served_not_dropped(
    served: Served, good: GoodClient
) -> None:
    burst = 2 * MAX_CONNECTIONS
    pid = int(served.container.state()["Pid"])
    descriptors: list[int] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            descriptors.append(open_descriptors(pid))
            done.wait(0.1)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        answers = together(*[attack(served.container.port, head("GET", "/healthz"), deadline=15)
                             for _ in range(burst)])  # fmt: skip
    finally:
        done.set()
        sampler.join()
    statuses = [answer.status for answer in answers]
    # Past MAX_CONNECTIONS a connection waits in the listen backlog until one closes (idle ones
    # at REQUEST_HEAD_TIMEOUT), then is served; none is dropped or left hanging.
    assert set(statuses) == {200}, statuses
    assert all(answer.seconds < 15 for answer in answers)
    # Never more connections open than the cap allows (and a reserve for the rest).
    print(f"open descriptors at most {max(descriptors)}")
    assert max(descriptors) <= MAX_CONNECTIONS + 128, max(descriptors)


def test_a_slow_query_is_cancelled_at_its_timeout_and_answers_503(
    served: Served, good: GoodClient
) -> None:
    lock = "BEGIN; LOCK TABLE items IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(6); COMMIT;"
    holder = subprocess.Popen([postgres_bin("psql"), served.database_url, "-c", lock],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        time.sleep(0.5)  # the lock is held
        port = served.container.port
        answers = together(*[attack(port, head("GET", "/items", served.token)) for _ in range(20)])
    finally:
        holder.wait(timeout=30)
    assert {answer.status for answer in answers} == {503}, answers[:5]
    # Cancelled at DB_STATEMENT_TIMEOUT, or given no connection within DB_POOL_TIMEOUT after it.
    assert all(answer.seconds < 5 for answer in answers), [a.seconds for a in answers]


def test_the_container_was_never_oom_killed_restarted_or_over_its_memory_bound(
    served: Served,
) -> None:
    state = served.container.state()
    assert state["Running"] and not state["OOMKilled"], state
    assert served.container.attrs()["RestartCount"] == 0
    peak_kib = 0
    for process in processes(int(state["Pid"])):
        status = Path(f"/proc/{process}/status").read_text()
        peak_kib += int(
            next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1]
        )
    latencies = served.good.latencies
    p99 = statistics.quantiles(latencies, n=100)[98]
    print(
        f"peak RSS {peak_kib // 1024} MiB (processes added up); good client: "
        f"{len(latencies)} requests, p99 {p99:.3f} s, max {max(latencies):.3f} s"
    )
    assert peak_kib * 1024 < RSS_BOUND, f"peak RSS {peak_kib // 1024} MiB"
