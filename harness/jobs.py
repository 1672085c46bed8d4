"""The background jobs of a generated project (worker=yes), seen from outside: its web and worker
containers on one database, the queue's tables read with psql, the measurements the worker's
tests and the job benchmark share."""

import json
import statistics
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from harness.commands import free_port
from harness.docker import Container, Image, StartContainer, wait_for_readyz
from harness.postgres import postgres_bin, psql

# Quick enough for tests: heartbeats every 0.5 s and a lease of 2 s (a killed worker's job runs
# again within the lease plus the worker's 5 s maintenance round), retries after 0.2 s doubling.
FAST_WORKER = {
    "WORKER_HEARTBEAT_INTERVAL": "0.5",
    "WORKER_STALLED_AFTER": "2",
    "WORKER_POLL_INTERVAL": "0.2",
    "WORKER_SHUTDOWN_TIMEOUT": "5",
    "JOB_MAX_ATTEMPTS": "3",
    "JOB_RETRY_DELAY": "0.2",
    "JOB_RETRY_MAX_DELAY": "1",
}


def scalar(url: str, query: str) -> int:
    ((value,),) = psql(url, query)
    return int(value)


class RowLock:
    """A transaction holding one item's row (SELECT ... FOR UPDATE): the item's job blocks in its
    UPDATE, mid-job, until `release()`. A real condition (a lock held elsewhere), no test hook."""

    def __init__(self, url: str, item_id: int) -> None:
        self.process = subprocess.Popen(
            [postgres_bin("psql"), url, "-X", "-q", "-v", "ON_ERROR_STOP=1"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(
            f"BEGIN;\nSELECT id FROM items WHERE id = {item_id} FOR UPDATE;\n\\echo locked\n"
        )
        self.process.stdin.flush()
        while "locked" not in self.process.stdout.readline():
            assert self.process.poll() is None, "psql ended before taking the lock"

    def release(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.write("COMMIT;\n\\q\n")
            self.process.stdin.close()
            self.process.wait(timeout=30)


@dataclass
class Stack:
    """A web container and worker containers of one image, on one database."""

    image: Image
    start: StartContainer
    database_url: str
    environment: dict[str, str]
    web: Container | None = None

    def serve(self) -> Container:
        self.web = self.start(self.image, environment=self.env())
        assert wait_for_readyz(self.web) == 200, self.web.logs()[-3000:]
        return self.web

    def worker(self, **environment: str) -> Container:
        """A worker container, answering its /healthz (on a port of its own)."""
        port = free_port()
        env = self.env() | {"WORKER_PORT": str(port)} | environment
        container = self.start(self.image, command=(self.image.command, "worker"), environment=env)
        container.worker_port = port  # type: ignore[attr-defined]
        deadline = time.monotonic() + 30
        while worker_get(container, "/healthz")[0] != 200:
            assert time.monotonic() < deadline, container.logs()[-3000:]
            assert container.state()["Running"], container.logs()[-3000:]
            time.sleep(0.1)
        return container

    def env(self) -> dict[str, str]:
        return {"DATABASE_URL": self.database_url, **self.environment}


def worker_get(container: Container, path: str) -> tuple[int, str]:
    port = container.worker_port  # type: ignore[attr-defined]
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:
        return 0, ""


def metric(container: Container, name: str, **labels: str) -> float:
    """One sample of the worker's /metrics (0 when absent)."""
    wanted = name + ("{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}")
    for line in worker_get(container, "/metrics")[1].splitlines():
        if line.startswith(wanted + " ") or (not labels and line.startswith(name + " ")):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def post_items(
    web: Container, names: list[str], clients: int = 32, retry_for: float = 0
) -> list[tuple[str, int, int | None]]:
    """POST /items for each name from `clients` threads: (request id, status, item id). A 503
    is tried again for up to `retry_for` seconds (a database outage)."""

    def post(index_name: tuple[int, str]) -> tuple[str, int, int | None]:
        index, name = index_name
        request_id = f"req-{index}-{time.monotonic_ns()}"
        request = urllib.request.Request(
            f"{web.url}/items", method="POST", data=json.dumps({"name": name}).encode(),
            headers={"Content-Type": "application/json", "X-Request-ID": request_id, **web.headers},
        )  # fmt: skip
        deadline = time.monotonic() + retry_for
        while True:
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    return request_id, response.status, int(json.loads(response.read())["id"])
            except urllib.error.HTTPError as error:
                if error.code != 503 or time.monotonic() > deadline:
                    return request_id, error.code, None
            time.sleep(0.2)

    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(post, enumerate(names)))


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Seconds until `condition()` held; fails naming `what` after `timeout`."""
    began = time.monotonic()
    while not condition():
        if time.monotonic() - began > timeout:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.2)
    return time.monotonic() - began


def processed(url: str) -> int:
    return scalar(url, "SELECT count(*) FROM items WHERE processed_at IS NOT NULL")


def job_lines(*containers: Container) -> list[dict[str, Any]]:
    """The JSON log lines of these containers that name a job."""
    lines = []
    for container in containers:
        for line in container.logs().splitlines():
            if line.startswith("{") and '"job_id"' in line:
                lines.append(json.loads(line))
    return lines


def start_delays(url: str) -> list[float]:
    """Seconds from each process_item job's enqueueing (its row's commit: the `deferred` event,
    the database's clock) to its first start."""
    rows = psql(url, """
        SELECT extract(epoch FROM min(s.at) - min(d.at)) FROM procrastinate_jobs j
        JOIN procrastinate_events d ON d.job_id = j.id AND d.type = 'deferred'
        JOIN procrastinate_events s ON s.job_id = j.id AND s.type = 'started'
        WHERE j.task_name = 'process_item' GROUP BY j.id""")  # fmt: skip
    return sorted(float(value) for (value,) in rows)


def percentile(values: list[float], share: float) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]
