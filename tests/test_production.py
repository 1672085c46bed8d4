"""Production proof: the built image of each database flavour under load at 256 clients, against
its own OpenAPI schema (schemathesis, every check, with a token and without), through a database
outage, and through a SIGTERM with requests in flight. Against a real PostgreSQL on 127.0.0.1 and
against SQLite. With auth=oidc, every request carries a token of the session's local issuer.

Needs a Docker engine (deselect with -m "not docker"), wrk (Debian's package) and schemathesis
(requirements-test.txt). Everything talks to 127.0.0.1 only; every run is bounded in time.
"""

import http.client
import json
import re
import shutil
import subprocess
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from harness.commands import tool
from harness.docker import (
    Container,
    Image,
    StartContainer,
    http_response,
    migrated_database,
    remove_volume,
    wait_for_readyz,
)
from harness.postgres import postgres_server
from tests.params import image_keys_with, image_params

pytestmark = pytest.mark.docker

POSTGRES_KEY, SQLITE_KEY = image_keys_with("postgresql")[0], image_keys_with("sqlite")[0]
BOTH_DATABASES = image_params([POSTGRES_KEY, SQLITE_KEY])
POSTGRES_ONLY = image_params([POSTGRES_KEY])


def wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        pytest.fail("wrk not found: apt-get install wrk (.ci/run installs it)", pytrace=False)
    return found


@pytest.fixture
def serving(
    image: Image, start: StartContainer, new_database: Callable[[], str], tmp_path: Path
) -> Iterator[Container]:
    """A container of the image serving a migrated database: a fresh PostgreSQL database on the
    session's server, or a new SQLite volume; ready (with auth: the issuer's keys fetched)."""
    volume = f"template-test-{tmp_path.name}-{time.monotonic_ns()}"
    url = new_database() if image.context["database"] == "postgresql" else None
    try:
        container = start(image, **migrated_database(image, url, volume))
        assert wait_for_readyz(container) == 200, container.logs()
        yield container
    finally:
        remove_volume(volume)  # and the container using it


# ---- load: wrk at 32, then 256 concurrent clients ---------------------------------------------

# wrk counts a status above 399 as a status error; the service answers these paths without
# redirects, so no error means every response was a 2xx. Socket errors come per kind.
SUMMARY_SCRIPT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'wrk-summary {"requests": %d, "seconds": %f, "max_latency_ms": %f, "connect": %d, '
    .. '"read": %d, "write": %d, "timeout": %d, "status": %d}\\n',
    summary.requests, summary.duration / 1e6, latency.max / 1e3, e.connect, e.read, e.write,
    e.timeout, e.status))
end
"""
POST_SCRIPT = """
wrk.method = "POST"
wrk.body = '{"name": "under load"}'
wrk.headers["Content-Type"] = "application/json"
"""
LOAD_SECONDS, REQUEST_TIMEOUT = 8, 10


def wrk_headers(container: Container) -> list[str]:
    """The container's headers (its token) as wrk's options: wrk sends them with each request."""
    return [
        option for name, value in container.headers.items() for option in ("-H", f"{name}: {value}")
    ]


def load(
    container: Container, database: str, method: str, clients: int, script: Path
) -> dict[str, float]:
    """One bounded wrk run (two threads, `clients` connections, LOAD_SECONDS) on /items."""
    command = [
        wrk(), "-t2", f"-c{clients}", f"-d{LOAD_SECONDS}s", f"--timeout={REQUEST_TIMEOUT}s",
        "--script", str(script), *wrk_headers(container), f"{container.url}/items",
    ]  # fmt: skip
    # The bound: the run, then every request still open reaching its timeout.
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=LOAD_SECONDS + REQUEST_TIMEOUT + 20
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.split("wrk-summary ", 1)[1])
    rate = summary["requests"] / summary["seconds"]
    print(
        f"load: {database} {method} /items c={clients} {rate:.0f} req/s "
        f"(max latency {summary['max_latency_ms']:.0f} ms)"
    )
    return summary


@pytest.mark.parametrize("image", BOTH_DATABASES, indirect=True)
def test_256_concurrent_clients_get_only_2xx_with_no_socket_errors_or_stall(
    image: Image, serving: Container, tmp_path: Path
) -> None:
    scripts = {"GET": SUMMARY_SCRIPT, "POST": POST_SCRIPT + SUMMARY_SCRIPT}
    for method, script in scripts.items():
        path = tmp_path / f"{method.lower()}.lua"
        path.write_text(script)
        for clients in (32, 256):
            summary = load(serving, image.context["database"], method, clients, path)
            errors = {kind: summary[kind] for kind in ("connect", "read", "write", "timeout")}
            assert summary["requests"] > 0, f"{method} c={clients}: no request completed"
            assert summary["status"] == 0, f"{method} c={clients}: {summary['status']} non-2xx"
            assert not any(errors.values()), f"{method} c={clients}: socket errors {errors}"
    assert serving.state()["Running"], serving.logs()[-3000:]


# ---- the service against its own OpenAPI schema -----------------------------------------------

# Every check schemathesis has runs; none is excluded. (Name any check excluded here, with why.)
EXCLUDED_CHECKS: dict[str, str] = {}


def schemathesis(
    container: Container, tmp_path: Path, headers: Mapping[str, str]
) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    """Every check against the container's OpenAPI document, each request sent with `headers`:
    the result and the requests and responses it saw (HAR entries)."""
    har = tmp_path / "schemathesis.har"
    command = [
        tool("schemathesis"), "run", f"{container.url}/openapi.json",
        "--checks", "all", "--max-examples", "50", "--request-timeout", "10",
        "--workers", "2", "--seed", "1", "--no-color", "--generation-database", "none",
        # The answers' headers as sent (sanitized, WWW-Authenticate would read [Filtered]).
        "--report-har-path", str(har), "--output-sanitize", "false",
    ]  # fmt: skip
    command += [option for name, value in headers.items() for option in ("-H", f"{name}: {value}")]
    if EXCLUDED_CHECKS:
        command += ["--exclude-checks", ",".join(EXCLUDED_CHECKS)]
    # Its caches (.hypothesis/, .schemathesis/) go to the working directory: the test's own.
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    cases = re.search(r"Test cases:\s*(.*)", result.stdout)
    print(f"schemathesis: {'with' if headers else 'without'} a token: {cases[1] if cases else '?'}")
    entries = json.loads(har.read_text())["log"]["entries"] if har.exists() else []
    return result, entries


@pytest.mark.parametrize("image", BOTH_DATABASES, indirect=True)
def test_every_schemathesis_check_passes_against_the_running_container(
    image: Image, serving: Container, tmp_path: Path
) -> None:
    result, _ = schemathesis(serving, tmp_path, serving.headers)
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]


def protected_operations(container: Container) -> list[tuple[str, re.Pattern[str]]]:
    """The operations the OpenAPI document says need a token: method and path pattern."""
    document = http_response(container, "GET", "/openapi.json")[2]
    assert isinstance(document, dict) and document["components"]["securitySchemes"], document
    return [
        (method.upper(), re.compile(re.sub(r"\{[^/]+\}", "[^/]+", path) + "$"))
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if operation.get("security")
    ]


# FastAPI reads and parses a JSON body before any dependency runs: a body that isn't JSON is
# refused there (422, or 400 when it isn't even text), never reaching the token check or the route.
NOT_JSON = {422: '"json_invalid"', 400: '"There was an error parsing the body"'}


def refusal(entry: dict[str, Any]) -> str:
    """How a request sent without a valid token was refused: `401` with a Bearer challenge, or
    `not JSON` before the token check (NOT_JSON); anything else, with the request."""
    response = entry["response"]
    answered = {h["name"].lower(): h["value"] for h in response["headers"]}
    text = response["content"].get("text", "")
    if response["status"] == 401 and answered.get("www-authenticate", "").startswith("Bearer"):
        return "401"
    if NOT_JSON.get(response["status"], "\0") in text:
        return "not JSON"
    return f"{response['status']} {answered} {text[:200]} to {entry['request']}"


@pytest.mark.parametrize("image", POSTGRES_ONLY, indirect=True)
def test_without_a_token_protected_operations_answer_401_or_refuse_a_body_that_isnt_json(
    image: Image, serving: Container, tmp_path: Path
) -> None:
    protected = protected_operations(serving)
    result, entries = schemathesis(serving, tmp_path, {})
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    answered: Counter[str] = Counter()
    for entry in entries:
        request = entry["request"]
        path = urllib.parse.urlsplit(request["url"]).path
        if any(request["method"] == m and pattern.match(path) for m, pattern in protected):
            answered[refusal(entry)] += 1
    print(f"schemathesis without a token: protected operations answered {dict(answered)}")
    assert answered["401"] > 0 and set(answered) <= {"401", "not JSON"}, answered


# ---- a database outage: 503 fast, ready again when the database is back, same process ----------


def get_items(container: Container) -> tuple[int, Any, Any, float]:
    """Status, headers, body and seconds taken of GET /items (bounded: a hang fails here)."""
    began = time.monotonic()
    status, headers, body = http_response(container, "GET", "/items", timeout=15)
    return status, headers, body, time.monotonic() - began


def wait_for_items(container: Container, status: int, within: float) -> int:
    deadline, answered = time.monotonic() + within, 0
    while time.monotonic() < deadline:
        answered = get_items(container)[0]
        if answered == status:
            break
        time.sleep(0.25)
    return answered


def logged_failure(logs: str) -> list[dict[str, Any]]:
    """The JSON log lines at warning level or above that carry a request id."""
    lines = []
    for line in logs.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict) or not entry.get("request_id"):
            continue
        if entry.get("level") in ("warning", "error", "critical"):
            lines.append(entry)
    return lines


@pytest.mark.parametrize("image", POSTGRES_ONLY, indirect=True)
def test_a_database_outage_answers_503_fast_and_recovers_without_a_restart(
    image: Image, start: StartContainer
) -> None:
    with postgres_server() as server:
        url = server.create_database("outage")
        container = start(image, **migrated_database(image, url, None))
        assert wait_for_readyz(container) == 200, container.logs()
        assert get_items(container)[0] == 200, container.logs()
        before = container.attrs()

        server.stop()
        status, headers, body, took = get_items(container)
        assert status == 503, (status, body)
        assert isinstance(body, dict), body
        assert headers.get("Retry-After"), dict(headers)
        assert took < 10, f"GET /items took {took:.1f} s with the database down"
        assert http_response(container, "GET", "/readyz")[0] == 503
        assert http_response(container, "GET", "/healthz")[0] == 200
        assert logged_failure(container.logs()), container.logs()[-3000:]

        server.start()
        assert wait_for_items(container, 200, within=15) == 200, container.logs()[-3000:]
        after = container.attrs()
        assert after["RestartCount"] == before["RestartCount"]
        assert after["State"]["StartedAt"] == before["State"]["StartedAt"]
        assert after["State"]["Running"]


# ---- SIGTERM with requests in flight ----------------------------------------------------------

GRACE = 5  # GRACEFUL_SHUTDOWN_TIMEOUT for the test, seconds
IN_FLIGHT, IDLE = 64, 4


class Outcomes(Counter[str]):
    """What happened to the requests of all client threads: a status class (`2xx`; `2xx closing`
    when the server answered and closed the connection: a request in flight as it shut down),
    `refused` (nothing listens any more: never accepted), `unanswered` (the server closed a
    keep-alive connection as a request was sent on it) or `timeout`."""

    lock = threading.Lock()

    def add(self, outcome: str) -> None:
        with self.lock:
            self[outcome] += 1


def keep_requesting(container: Container, stop: threading.Event, outcomes: Outcomes) -> None:
    """GET /items over one keep-alive connection, again and again, until the server is gone."""
    connection = http.client.HTTPConnection("127.0.0.1", container.port, timeout=GRACE + 10)
    while not stop.is_set():
        try:
            connection.request("GET", "/items?limit=5", headers=container.headers)
            response = connection.getresponse()
            response.read()
            closing = " closing" if response.will_close else ""
            outcomes.add(f"{response.status // 100}xx{closing}")
        except ConnectionRefusedError:
            outcomes.add("refused")
            return
        except (http.client.RemoteDisconnected, ConnectionError):
            outcomes.add("unanswered")
            connection.close()  # the next request connects again
        except TimeoutError:
            outcomes.add("timeout")
            return


def idle_connection(port: int) -> http.client.HTTPConnection:
    """A keep-alive connection that made one request and then stays open, idle."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=GRACE + 10)
    connection.request("GET", "/healthz")
    response = connection.getresponse()
    response.read()
    assert response.status == 200
    return connection


def closed_by_the_server(connection: http.client.HTTPConnection) -> bool:
    assert connection.sock is not None
    try:
        return connection.sock.recv(1) == b""
    except ConnectionResetError:
        return True
    finally:
        connection.close()


@pytest.mark.parametrize("image", POSTGRES_ONLY, indirect=True)
def test_sigterm_under_load_answers_accepted_requests_and_exits_0_in_the_grace_period(
    image: Image, start: StartContainer, new_database: Callable[[], str]
) -> None:
    options = migrated_database(image, new_database(), None)
    options["environment"]["GRACEFUL_SHUTDOWN_TIMEOUT"] = str(GRACE)
    container = start(image, **options)
    assert wait_for_readyz(container) == 200, container.logs()
    idle = [idle_connection(container.port) for _ in range(IDLE)]
    outcomes = Outcomes()
    stop = threading.Event()
    clients = [
        threading.Thread(target=keep_requesting, args=(container, stop, outcomes))
        for _ in range(IN_FLIGHT)
    ]
    for client in clients:
        client.start()
    while outcomes["2xx"] < 2 * IN_FLIGHT and all(c.is_alive() for c in clients):
        time.sleep(0.05)  # every client is busy: requests are in flight

    container.handle.kill("SIGTERM")
    killed = time.monotonic()
    try:
        code = container.wait(timeout=GRACE + 5)
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=GRACE + 15)
    took = time.monotonic() - killed
    print(f"sigterm: {dict(outcomes)}; exited {took:.1f} s after SIGTERM")

    logs = container.logs()
    assert code == 0, logs[-3000:]
    assert took <= GRACE + 5
    assert outcomes["2xx closing"] > 0, f"no request in flight was answered: {outcomes}"
    accepted = ("2xx", "2xx closing", "refused", "unanswered")
    unexpected = {k: v for k, v in outcomes.items() if k not in accepted}
    assert not unexpected, f"requests answered with errors or left hanging: {unexpected}"
    # The idle keep-alive connections were closed, not left to hold up the shutdown.
    assert all(closed_by_the_server(connection) for connection in idle)
    # The application's shutdown ran to its end: the engine was disposed.
    # Each shutdown step says what it closed, then the app that it stopped.
    lines = [line for line in logs.splitlines() if '"message": "' in line]
    said = [line.split('"message": "')[1].split('"')[0] for line in lines]
    assert said[-2:] == ["database connections closed", "stopped: requests in flight answered"], (
        logs[-3000:]
    )
