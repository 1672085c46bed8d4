"""Load, and what it costs the server: wrk cells, the process's CPU time and RSS, and the new
sessions PostgreSQL opened for it."""

import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from benchmarking.services import Route, Server
from harness.commands import MissingRequirement, processes
from harness.postgres import PostgresServer, postgres_bin

# A JSON body with a distinct name per request; the method (POST, PUT) from WRK_METHOD; the
# Authorization header of the command line (-H), which headers given to wrk.format replace.
BODY_LUA = """local method = os.getenv("WRK_METHOD") or "POST"
local counter = 0
request = function()
  counter = counter + 1
  local headers = {["Content-Type"] = "application/json",
                   ["Authorization"] = wrk.headers["Authorization"]}
  return wrk.format(method, nil, headers, '{"name":"benchmark-' .. counter .. '"}')
end
"""
# A request wrk gives up on counts as a socket error (timeout); the default 2 s would count the
# slow tail at 256 clients as errors rather than latency.
WRK_TIMEOUT = "10s"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass
class Timing:
    warmup: int  # seconds of load before each cell, not measured (the pool fills, code warms)
    seconds: int  # seconds measured per cell


def wrk_binary() -> str:
    found = shutil.which(os.environ.get("WRK", "wrk"))
    if found is None:
        raise MissingRequirement("wrk not found (Debian: apt-get install wrk), or set WRK")
    return found


def wrk(
    url: str, route: Route, clients: int, seconds: int, body_lua: Path, headers: dict[str, str]
) -> dict[str, object]:
    """One wrk run: one thread (it needs ~15 % of a core), `clients` connections, each request
    with `headers`."""
    command = [wrk_binary(), "-t1", f"-c{clients}", f"-d{seconds}s", "--latency",
               "--timeout", WRK_TIMEOUT]  # fmt: skip
    command += [option for name, value in headers.items() for option in ("-H", f"{name}: {value}")]
    env = dict(os.environ)
    if route.method != "GET":
        command += ["-s", str(body_lua)]
        env["WRK_METHOD"] = route.method
    output = subprocess.run(
        [*command, url], capture_output=True, text=True, env=env, check=True
    ).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", output, re.MULTILINE))
    socket = re.search(r"connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return {
        "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1]),  # type: ignore[index]
        "requests": int(re.search(r"(\d+) requests in", output)[1]),  # type: ignore[index]
        "p50_ms": to_ms(latency.get("50")),
        "p99_ms": to_ms(latency.get("99")),
        "non_2xx": int(m[1]) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", output)) else 0,
        "socket_errors": dict(zip(("connect", "read", "write", "timeout"),
                                  map(int, socket.groups()), strict=True)) if socket else {},
    }  # fmt: skip


def to_ms(text: str | None) -> float | None:
    """wrk's 1.23ms, 456.78us, 2.01s as milliseconds (None: no request completed)."""
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text or "")
    return float(found[1]) * UNITS_MS[found[2]] if found else None


class SessionCounter:
    """New PostgreSQL sessions per database, counted in the server's log with log_connections on:
    exact and immediate (pg_stat_database.sessions is flushed by each backend in its own time)."""

    def __init__(self, server: PostgresServer):
        self.server, self.log = server, server.directory / "log"
        self.psql("ALTER SYSTEM SET log_connections = on")
        self.psql("SELECT pg_reload_conf()")  # new sessions log; the running ones don't matter

    def psql(self, sql: str, database: str = "postgres") -> str:
        command = [postgres_bin("psql"), "-h", "127.0.0.1", "-p", str(self.server.port),
                   "-U", "postgres", "-d", database, "-XAtq", "-v", "ON_ERROR_STOP=1",
                   "-c", sql]  # fmt: skip
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()

    def mark(self) -> int:
        return self.log.stat().st_size

    def since(self, mark: int, database: str) -> int:
        with self.log.open("rb") as log:
            log.seek(mark)
            text = log.read().decode(errors="replace")
        pattern = rf"connection authorized: user=\S+ database={re.escape(database)}(?:\s|$)"
        return len(re.findall(pattern, text, re.MULTILINE))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a server's processes (their threads included)."""
    total = 0
    for process in processes(pid):
        with open(f"/proc/{process}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def rss_mib(pid: int) -> float:
    """Resident memory of a server's processes, added up."""
    total = 0
    for process in processes(pid):
        with open(f"/proc/{process}/status") as status:
            found = re.search(r"^VmRSS:\s+(\d+) kB", status.read(), re.MULTILINE)
        total += int(found[1]) if found else 0
    return total / 1024


def request(
    url: str, route: Route, timeout: float = 5, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    body = b'{"name": "benchmark-check"}' if route.method != "GET" else None
    sent_headers = {"Content-Type": "application/json"} if body else {}
    sent_headers |= headers or {}
    sent = urllib.request.Request(url, data=body, method=route.method, headers=sent_headers)
    try:
        with urllib.request.urlopen(sent, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_ready(server: Server, health: Route, started: float, timeout: float = 60) -> float:
    """Seconds from `started` (time.monotonic()) to the first 200 from the health route."""
    while time.monotonic() - started < timeout:
        try:
            if request(server.url + health.path, health, timeout=1)[0] == health.status:
                return time.monotonic() - started
        except OSError:
            if not server.running():
                break
        time.sleep(0.02)
    raise RuntimeError(f"no answer from {server.url}{health.path}:\n{server.output()}")


def check_routes(server: Server, routes: dict[str, Route], headers: dict[str, str]) -> None:
    """One request on each route, which must answer its status: what wrk measures works (and the
    code each route runs is imported and warm; with auth, the issuer's keys fetched)."""
    for name, route in routes.items():
        status, body = request(server.url + route.path, route, headers=headers)
        if status != route.status:
            raise RuntimeError(
                f"{name} {route.method} {route.path} answered {status}, not {route.status}: "
                f"{body[:500]!r}\n{server.output()}"
            )


def measure(
    server: Server,
    route: Route,
    clients: int,
    timing: Timing,
    sessions: SessionCounter,
    database: str | None,
    body_lua: Path,
    headers: dict[str, str],
) -> dict[str, object]:
    """A warm-up, then the measured run; CPU per request, new sessions, and the RSS after it."""
    url = server.url + route.path
    wrk(url, route, clients, timing.warmup, body_lua, headers)
    mark, cpu = sessions.mark(), cpu_seconds(server.pid)
    result = wrk(url, route, clients, timing.seconds, body_lua, headers)
    cpu = cpu_seconds(server.pid) - cpu
    time.sleep(0.2)  # a backend logs its session as it starts; give the last ones the time
    requests = int(result["requests"])  # type: ignore[call-overload]
    return {
        **result,
        "cpu_us_per_request": round(cpu / requests * 1e6, 1) if requests else None,
        "new_sessions": sessions.since(mark, database) if database else None,
        "rss_mib": round(rss_mib(server.pid), 1),
    }
