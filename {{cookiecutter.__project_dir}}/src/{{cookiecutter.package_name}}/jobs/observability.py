"""How the worker is operated: its metrics and health on WORKER_PORT, its log lines (each job's
carry the job's id, the id of the request that enqueued it and that request's own fields, such
as its caller) and its traces (a job's span is a child of that request's span)."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

from {{ cookiecutter.package_name }}.jobs.enqueue import META
from {{ cookiecutter.package_name }}.observability.logs import (
    add_line_fields,
    request_fields,
    request_id,
)

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from procrastinate import JobContext
    from procrastinate.middleware import WorkerMiddleware

JOBS_DONE = Counter("jobs_done", "Jobs that succeeded", ["task"])
JOBS_FAILED = Counter("jobs_failed", "Jobs that failed for good (status failed)", ["task"])
JOBS_RETRIED = Counter(
    "jobs_retried", "Job runs that failed and were put back to run again", ["task"]
)
JOB_DURATION = Histogram("job_duration_seconds", "Time a job's task ran", ["task"])
JOB_START_DELAY = Histogram(
    "job_start_delay_seconds",
    "Time from a job's enqueueing to its start",
    ["task"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900),
)
QUEUE_DEPTH = Gauge(
    "job_queue_depth",
    "Jobs waiting (todo, retries included) or running (doing)",
    ["queue", "status"],
)

# The job a log line belongs to (the request that enqueued it is logs.request_id).
current_job: ContextVar[dict[str, Any] | None] = ContextVar("current_job", default=None)


def job_fields() -> dict[str, Any]:
    job = current_job.get()
    return job if job is not None else {}


class JobLogFields(logging.Filter):
    """procrastinate's own lines about a job (started, ended with its status) name it in
    `extra={"job": ...}`: they get the same fields as the task's own lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        job = getattr(record, "job", None)
        if isinstance(job, dict) and "id" in job:
            meta = (job.get("task_kwargs") or {}).get(META) or {}
            fields = {"job_id": job["id"], "task": job.get("task_name")}
            if meta.get("request_id"):
                fields["request_id"] = meta["request_id"]
            fields |= meta.get("request_fields") or {}
            record.fields = fields | getattr(record, "fields", {})
        return True


def install_log_fields() -> None:
    """After configure_logging: every line says which job (and request) it belongs to."""
    add_line_fields(job_fields)
    for handler in logging.getLogger().handlers:
        handler.addFilter(JobLogFields())


@contextmanager
def job_span(
    tracer_provider: TracerProvider | None, task: str, job_id: int | None, meta: dict[str, Any]
) -> Iterator[None]:
    """A span for the job's run, a child of the enqueuing request's (W3C traceparent)."""
    if tracer_provider is None:
        yield
        return
    from opentelemetry import propagate, trace

    parent = propagate.extract(
        {"traceparent": meta["traceparent"]} if "traceparent" in meta else {}
    )
    tracer = tracer_provider.get_tracer(__name__)
    attributes = {"messaging.system": "procrastinate", "messaging.message.id": str(job_id)}
    with tracer.start_as_current_span(
        f"job {task}", context=parent, kind=trace.SpanKind.CONSUMER, attributes=attributes
    ):
        yield


def observe_jobs(tracer_provider: TracerProvider | None) -> WorkerMiddleware:
    """A procrastinate worker middleware around every job: its log fields, span and metrics.
    The job's `meta` argument is taken off for the task's run (tasks don't declare it) and put
    back for procrastinate's closing log line."""

    async def middleware(
        call_next: Callable[[], Awaitable[Any]], context: JobContext, worker: Any
    ) -> Any:
        job = context.job
        popped = job.task_kwargs.pop(META, None)
        meta: dict[str, Any] = popped if isinstance(popped, dict) else {}
        task = job.task_name
        if "enqueued_at" in meta:
            JOB_START_DELAY.labels(task).observe(max(0.0, time.time() - meta["enqueued_at"]))
        tokens = (
            current_job.set({"job_id": job.id, "task": task}),
            request_id.set(meta.get("request_id")),
            request_fields.set(meta.get("request_fields")),
        )
        began = time.perf_counter()
        try:
            with job_span(tracer_provider, task, job.id, meta):
                result = await call_next()
        except BaseException as error:
            strategy = context.task.retry_strategy
            retried = strategy is not None and (
                strategy.get_retry_decision(exception=error, job=job) is not None
            )
            (JOBS_RETRIED if retried else JOBS_FAILED).labels(task).inc()
            raise
        else:
            JOBS_DONE.labels(task).inc()
            return result
        finally:
            JOB_DURATION.labels(task).observe(time.perf_counter() - began)
            current_job.reset(tokens[0])
            request_id.reset(tokens[1])
            request_fields.reset(tokens[2])
            if meta:
                job.task_kwargs[META] = meta

    return middleware


# ---- GET /metrics and GET /healthz on WORKER_PORT ---------------------------------------------


class Liveness:
    """The worker's event loop beats (`beat()`, every second); /healthz answers 503 when it
    hasn't for `timeout` seconds: a loop blocked for good (a task that never yields). A database
    outage leaves it alive: the worker waits for the database and recovers by itself."""

    def __init__(self, timeout: float = 30) -> None:
        self.timeout = timeout
        self.last = time.monotonic()

    def beat(self) -> None:
        self.last = time.monotonic()

    def alive(self) -> bool:
        return time.monotonic() - self.last < self.timeout


def serve_metrics_and_health(host: str, port: int, liveness: Liveness) -> ThreadingHTTPServer:
    """Serves in a thread of its own, so /healthz answers even when the loop is stuck."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                self.answer(200, generate_latest(), CONTENT_TYPE_LATEST)
            elif self.path == "/healthz":
                alive = liveness.alive()
                body = b'{"status": "ok"}' if alive else b'{"status": "event loop stuck"}'
                self.answer(200 if alive else 503, body, "application/json")
            else:
                self.answer(404, b'{"detail": "Not Found"}', "application/json")

        def answer(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Probes and scrapes every few seconds: not logged."""

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    Thread(target=server.serve_forever, name="metrics-and-health", daemon=True).start()
    return server
