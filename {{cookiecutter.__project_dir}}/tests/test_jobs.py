"""The background jobs, in this process: the worker runs on procrastinate's in-memory queue (its
jobs' queries on the test database), so what it does is proven on SQLite too. What needs the
real queue in PostgreSQL is in test_job_queue.py."""

import asyncio
import datetime
import io
import json
import logging
import os
import signal
import socket
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any, ClassVar

import procrastinate
import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from procrastinate import JobContext
from procrastinate.exceptions import ConnectorException
from procrastinate.testing import InMemoryConnector
from prometheus_client import REGISTRY
from pydantic import ValidationError
from sqlalchemy import Engine, select

from {{ cookiecutter.package_name }} import cli
from {{ cookiecutter.package_name }}.database.models import Item
from {{ cookiecutter.package_name }}.jobs import observability, worker
from {{ cookiecutter.package_name }}.jobs.enqueue import META, job_meta
from {{ cookiecutter.package_name }}.jobs.queue import RETRY, PermanentError, Retry, app
from {{ cookiecutter.package_name }}.jobs.settings import WorkerSettings
from {{ cookiecutter.package_name }}.jobs.tasks import process_item, remove_old_jobs
from {{ cookiecutter.package_name }}.observability.logs import (
    add_request_fields,
    configure_logging,
    request_fields,
)


class Queue(InMemoryConnector):
    """procrastinate's in-memory queue, which also answers the worker's queue-depth query and
    can fail its next fetches (the database going away)."""

    def __init__(self) -> None:
        super().__init__()
        self.reverse_queries[worker.QUEUE_DEPTH_SQL] = "queue_depth"
        self.failures = 0  # the next queries that fail

    def fail(self) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectorException("the database went away")

    async def queue_depth_all(self) -> list[dict[str, Any]]:
        self.fail()
        depths: dict[tuple[str, str], int] = {}
        for job in self.jobs.values():
            if job["status"] in ("todo", "doing"):
                key = (job["queue_name"], job["status"])
                depths[key] = depths.get(key, 0) + 1
        return [{"queue_name": q, "status": s, "jobs": n} for (q, s), n in depths.items()]

    async def fetch_job_one(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self.fail()
        return await super().fetch_job_one(*args, **kwargs)

    async def update_heartbeat_run(self, *args: Any, **kwargs: Any) -> None:
        self.fail()
        await super().update_heartbeat_run(*args, **kwargs)

    async def retry_job_run(self, *args: Any, **kwargs: Any) -> None:
        self.fail()
        await super().retry_job_run(*args, **kwargs)


# ---- tasks written for these tests: they wait, fail, or fail for good ------------------------


class Gate:
    """What the `test_waits` task waits for: released by the test (a new one in each test's
    event loop)."""

    released: ClassVar[asyncio.Event] = asyncio.Event()
    started: ClassVar[list[int]] = []  # the ids of the jobs that started waiting


@app.task(name="test_waits", queue="test", retry=RETRY, pass_context=True)
async def waits(context: JobContext) -> None:
    assert context.job.id is not None
    Gate.started.append(context.job.id)
    await Gate.released.wait()


@app.task(name="test_fails", queue="test", retry=RETRY)
async def fails(permanently: bool = False) -> None:
    if permanently:
        raise PermanentError("this can't work")
    raise RuntimeError("not this time")


# ---- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def settings(database_url: str) -> WorkerSettings:
    """Quick: retries after 10 ms, heartbeats every 50 ms, a lease of 200 ms."""
    return WorkerSettings(
        database_url=database_url,
        worker_poll_interval=0.05,
        worker_heartbeat_interval=0.05,
        worker_stalled_after=0.2,
        worker_shutdown_timeout=2,
        job_max_attempts=3,
        job_retry_delay=0.01,
        job_retry_max_delay=0.04,
    )


@pytest.fixture
def queue() -> Iterator[Queue]:
    connector = Queue()
    with app.replace_connector(connector):
        yield connector


@pytest.fixture
def item_id(client: TestClient) -> int:
    """A new item (the client fixture migrated the database). On SQLite its job isn't queued."""
    response = client.post("/items", json={"name": "new"})
    assert response.status_code == 201
    return int(response.json()["id"])


@pytest.fixture
def logged() -> Callable[[], list[dict[str, Any]]]:
    """The JSON lines logged from now on, as the worker logs them."""
    configure_logging("info", "json")
    observability.install_log_fields()
    (handler,) = logging.getLogger().handlers
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream := io.StringIO())
    return lambda: [json.loads(line) for line in stream.getvalue().splitlines()]


@asynccontextmanager
async def running_worker(
    settings: WorkerSettings, queue: Queue, provider: TracerProvider | None = None
) -> AsyncIterator[asyncio.Task[None]]:
    """The worker, started on the in-memory queue; stopped with a SIGTERM, as in production."""
    liveness = observability.Liveness()
    Gate.released, Gate.started = asyncio.Event(), []
    task = asyncio.create_task(worker.work(settings, lambda: queue, liveness, provider))
    await until(lambda: bool(queue.workers) or task.done())  # it handles SIGTERM from now on
    try:
        yield task
    finally:
        if not task.done():
            os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(task, 10)


async def until(condition: Callable[[], bool], timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


def status(queue: Queue, job_id: int) -> tuple[str, int]:
    job = queue.jobs[job_id]
    return job["status"], job["attempts"]


def processed_at(engine: Engine, item_id: int) -> datetime.datetime | None:
    with engine.connect() as connection:
        return connection.execute(select(Item.processed_at).where(Item.id == item_id)).scalar()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def counted(name: str, task: str) -> float:
    return REGISTRY.get_sample_value(name, {"task": task}) or 0


# ---- the example job ---------------------------------------------------------------------------


def test_the_worker_processes_an_item_once_with_the_enqueuing_request_in_its_log_lines(
    settings: WorkerSettings,
    queue: Queue,
    engine: Engine,
    item_id: int,
    logged: Callable[[], list[dict[str, Any]]],
) -> None:
    done_before = counted("jobs_done_total", "process_item")

    async def scenario() -> tuple[int, int]:
        fields = {"caller": "alice", "client_id": "reporting"}  # e.g. the request's caller
        meta = {"request_id": "req-42", "enqueued_at": time.time(), "request_fields": fields}
        first = await process_item.defer_async(item_id=item_id, **{META: meta})
        async with running_worker(settings, queue):
            await until(lambda: status(queue, first)[0] == "succeeded")
            # Delivered twice (a lost worker's job runs again): the second run changes nothing.
            second = await process_item.defer_async(item_id=item_id)
            await until(lambda: status(queue, second)[0] == "succeeded")
        return first, second

    first, second = asyncio.run(scenario())

    assert processed_at(engine, item_id) is not None
    assert counted("jobs_done_total", "process_item") == done_before + 2
    lines = logged()
    of_first = [line for line in lines if line.get("job_id") == first]
    assert {line["request_id"] for line in of_first} == {"req-42"}
    assert {(line["caller"], line["client_id"]) for line in of_first} == {("alice", "reporting")}
    messages = [line["message"] for line in of_first]
    assert f"item {item_id} processed" in messages
    assert any(m.startswith("Starting job process_item") for m in messages)
    assert any("ended with status: Success" in m for m in messages)
    of_second = [line["message"] for line in lines if line.get("job_id") == second]
    assert f"item {item_id} already processed" in of_second


def test_a_failing_job_is_retried_with_backoff_then_failed_without_blocking_others(
    settings: WorkerSettings, queue: Queue, engine: Engine, item_id: int
) -> None:
    retried_before = counted("jobs_retried_total", "test_fails")
    failed_before = counted("jobs_failed_total", "test_fails")

    async def scenario() -> tuple[int, int, int]:
        failing = await fails.defer_async()
        permanent = await fails.defer_async(permanently=True)
        other = await process_item.defer_async(item_id=item_id)
        async with running_worker(settings, queue):
            await until(lambda: status(queue, failing) == ("failed", 3))
            await until(lambda: status(queue, permanent)[0] == "failed")
        return failing, permanent, other

    failing, permanent, other = asyncio.run(scenario())

    assert status(queue, other) == ("succeeded", 1)
    assert status(queue, permanent) == ("failed", 1)  # no retry
    events = [e["type"] for e in queue.events[failing]]
    assert events.count("started") == settings.job_max_attempts
    assert events[-1] == "failed"
    assert counted("jobs_retried_total", "test_fails") == retried_before + 2
    assert counted("jobs_failed_total", "test_fails") == failed_before + 2


def test_retry_delays_double_up_to_the_cap_and_stop_at_the_limit() -> None:
    retry = Retry(max_attempts=5, delay=1, max_delay=5)

    def delay(error: BaseException, attempts: int) -> float | None:
        job = fails.configure().job.evolve(attempts=attempts)
        decision = retry.get_retry_decision(exception=error, job=job)
        if decision is None:
            return None
        assert decision.retry_at is not None
        return (decision.retry_at - datetime.datetime.now(datetime.UTC)).total_seconds()

    waits_ = [delay(RuntimeError(), attempts) for attempts in range(5)]
    assert [round(w) if w is not None else None for w in waits_] == [1, 2, 4, 5, None]
    assert delay(PermanentError(), 0) is None
    stopped = delay(asyncio.CancelledError(), 4)  # at shutdown: back at once, whatever its attempts
    assert stopped is not None
    assert stopped < 1


# ---- shutdown, lost workers, outages -----------------------------------------------------------


def test_sigterm_lets_a_running_job_finish_within_the_timeout(
    settings: WorkerSettings, queue: Queue
) -> None:
    async def scenario() -> int:
        job = await waits.defer_async()
        async with running_worker(settings, queue) as task:
            await until(lambda: job in Gate.started)
            os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.sleep(0.3)
            assert not task.done()  # draining: the job is still running
            Gate.released.set()
        return job

    job = asyncio.run(scenario())
    assert status(queue, job) == ("succeeded", 1)


def test_sigterm_puts_a_job_still_running_at_the_timeout_back_in_the_queue(
    settings: WorkerSettings, queue: Queue
) -> None:
    short = settings.model_copy(update={"worker_shutdown_timeout": 0.2})

    async def scenario() -> tuple[int, float]:
        job = await waits.defer_async()
        async with running_worker(short, queue) as task:
            await until(lambda: job in Gate.started)
            began = time.monotonic()
            os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.wait_for(task, 5)
        return job, time.monotonic() - began

    job, took = asyncio.run(scenario())
    assert took < 2
    assert status(queue, job) == ("todo", 1)  # back in the queue, to run again at once
    assert queue.jobs[job]["scheduled_at"] <= datetime.datetime.now(datetime.UTC)


def test_the_heartbeat_goes_on_while_running_jobs_drain(
    settings: WorkerSettings, queue: Queue
) -> None:
    """procrastinate 3.10 stops it first: a drain longer than the lease made another worker run
    the job a second time. worker.beat_while_draining keeps it beating."""

    async def scenario() -> list[datetime.datetime]:
        job = await waits.defer_async()
        beats = []
        async with running_worker(settings, queue):
            await until(lambda: job in Gate.started)
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(6):  # 0.6 s of draining: three times the lease
                await asyncio.sleep(0.1)
                beats += list(queue.workers.values())
            stale = await app.job_manager.get_stalled_jobs(
                seconds_since_heartbeat=settings.worker_stalled_after
            )
            assert stale == []  # no other worker would take the job
            Gate.released.set()
        return beats

    beats = asyncio.run(scenario())
    assert len(set(beats)) >= 4, beats


def test_a_lost_workers_job_goes_back_to_the_queue_and_fails_when_lost_too_often(
    settings: WorkerSettings, queue: Queue
) -> None:
    async def scenario() -> list[tuple[str, int]]:
        job = await fails.defer_async()
        outcomes = []
        for _ in range(settings.job_max_attempts):
            lost = (await queue.register_worker_one())["worker_id"]
            await app.job_manager.fetch_job(queues=None, worker_id=lost)  # it took the job...
            queue.workers[lost] -= datetime.timedelta(seconds=1)  # ...and its heartbeat stopped
            await worker.requeue_stalled_jobs(settings)
            outcomes.append(status(queue, job))
        return outcomes

    assert asyncio.run(scenario()) == [("todo", 1), ("todo", 2), ("failed", 3)]


def test_the_worker_starts_again_when_the_database_fails_it(
    settings: WorkerSettings,
    queue: Queue,
    engine: Engine,
    item_id: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(worker, "RESTART_DELAYS", (0.01, 0.05))
    monkeypatch.setattr(worker, "MAINTENANCE_INTERVAL", 0.05)

    async def scenario() -> None:
        async with running_worker(settings, queue) as task:
            queue.failures = 8  # its fetches, heartbeats and queue-depth queries fail a while
            job = await process_item.defer_async(item_id=item_id)
            await until(lambda: status(queue, job)[0] == "succeeded", timeout=10)
            assert not task.done()

    asyncio.run(scenario())
    assert queue.failures == 0
    assert processed_at(engine, item_id) is not None


def test_a_lost_workers_job_another_worker_moved_first_is_left_alone(
    settings: WorkerSettings, queue: Queue
) -> None:
    async def scenario() -> tuple[str, int]:
        job = await fails.defer_async()
        lost = (await queue.register_worker_one())["worker_id"]
        await app.job_manager.fetch_job(queues=None, worker_id=lost)
        queue.workers[lost] -= datetime.timedelta(seconds=1)
        queue.failures = 1  # its retry fails: another worker's sweep got there first
        await worker.requeue_stalled_jobs(settings)
        return status(queue, job)

    assert asyncio.run(scenario()) == ("doing", 0)


# ---- what the worker is operated through -------------------------------------------------------


def test_the_queue_depth_is_measured_by_queue_and_status(queue: Queue) -> None:
    async def scenario() -> None:
        await fails.defer_async()
        await fails.defer_async()
        await worker.measure_queue_depth()

    asyncio.run(scenario())
    depth = REGISTRY.get_sample_value("job_queue_depth", {"queue": "test", "status": "todo"})
    assert depth == 2
    queue.reset()
    asyncio.run(worker.measure_queue_depth())
    assert REGISTRY.get_sample_value("job_queue_depth", {"queue": "test", "status": "todo"}) == 0


def test_metrics_and_health_are_served_on_the_workers_port() -> None:
    liveness = observability.Liveness(timeout=30)
    server = observability.serve_metrics_and_health("127.0.0.1", 0, liveness)
    port = server.server_address[1]

    def get(path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    try:
        assert get("/healthz")[0] == 200
        status_, metrics = get("/metrics")
        assert status_ == 200
        assert "job_duration_seconds" in metrics
        assert get("/elsewhere")[0] == 404
        liveness.last -= 60  # the event loop stopped beating a minute ago
        assert get("/healthz") == (503, '{"status": "event loop stuck"}')
    finally:
        server.shutdown()


def test_a_jobs_span_is_a_child_of_the_enqueuing_requests(
    settings: WorkerSettings, queue: Queue, engine: Engine, item_id: int
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    meta = {"traceparent": f"00-{trace_id}-{parent_id}-01"}

    async def scenario() -> None:
        job = await process_item.defer_async(item_id=item_id, **{META: meta})
        async with running_worker(settings, queue, provider):
            await until(lambda: status(queue, job)[0] == "succeeded")

    asyncio.run(scenario())
    (span,) = exporter.get_finished_spans()
    assert span.name == "job process_item"
    assert f"{span.context.trace_id:032x}" == trace_id
    assert span.parent is not None
    assert f"{span.parent.span_id:016x}" == parent_id


def test_the_worker_refuses_a_database_without_a_queue(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'no-queue.db'}")
    with pytest.raises(SystemExit) as exited:
        cli.main(["worker"])
    assert "the worker needs PostgreSQL" in str(exited.value.code)


def test_a_lease_shorter_than_three_heartbeats_is_refused() -> None:
    with pytest.raises(ValidationError, match="at least 3 x WORKER_HEARTBEAT_INTERVAL"):
        WorkerSettings(worker_heartbeat_interval=10, worker_stalled_after=20)


def test_the_periodic_job_removes_old_finished_jobs_and_keeps_failed_ones(
    settings: WorkerSettings, queue: Queue
) -> None:
    async def scenario() -> tuple[int, int, int]:
        done = await fails.defer_async()
        failed = await fails.defer_async()
        await queue.finish_job_run(done, "succeeded", delete_job=False)
        await queue.finish_job_run(failed, "failed", delete_job=False)
        for job in (done, failed):  # finished three days and an hour ago
            for event in queue.events[job]:
                event["at"] -= datetime.timedelta(hours=73)
        cleanup = await remove_old_jobs.defer_async(timestamp=int(time.time()))
        async with running_worker(settings, queue):
            await until(lambda: status(queue, cleanup)[0] == "succeeded")
        return done, failed, cleanup

    done, failed, _ = asyncio.run(scenario())
    assert done not in queue.jobs
    assert status(queue, failed)[0] == "failed"


def test_the_command_serves_metrics_and_health_while_it_works(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    monkeypatch.setenv("DATABASE_URL", "postgresql://user:secret@db.example:5432/app")
    monkeypatch.setenv("WORKER_PORT", str(port))
    seen: dict[str, Any] = {}

    async def work(
        settings: WorkerSettings,
        connector: Callable[[], Any],
        liveness: observability.Liveness,
        tracer_provider: TracerProvider | None,
    ) -> None:
        seen["conninfo"] = connector()["conninfo"]  # what the queue's connector is given
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            seen["health"] = response.status

    monkeypatch.setattr(worker, "work", work)
    monkeypatch.setattr(procrastinate, "PsycopgConnector", dict)  # its options, not connected
    assert cli.main(["worker"]) == 0
    assert seen == {"conninfo": "postgresql://user:secret@db.example:5432/app", "health": 200}
    with pytest.raises(urllib.error.URLError, match="Connection refused"):  # stopped with it
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)


def test_the_jobs_of_a_request_carry_its_own_fields() -> None:
    assert "request_fields" not in job_meta()
    token = request_fields.set({"caller": "alice"})  # as a request's would be (web/middleware.py)
    try:
        add_request_fields(client_id="reporting")
        meta = job_meta()
    finally:
        request_fields.reset(token)
    assert meta.get("request_fields") == {"caller": "alice", "client_id": "reporting"}


def test_the_jobs_of_a_traced_request_carry_its_trace() -> None:
    provider = TracerProvider()
    assert "traceparent" not in job_meta()
    with provider.get_tracer(__name__).start_as_current_span("POST /items") as span:
        meta = job_meta()
    trace_id = f"{span.get_span_context().trace_id:032x}"
    assert meta.get("traceparent", "").split("-")[1] == trace_id
