"""`<command> worker`: runs the queue's jobs until SIGTERM, and keeps running through what a
worker meets in production.

- SIGTERM (or Ctrl-C): no new job is taken; running jobs get WORKER_SHUTDOWN_TIMEOUT seconds to
  finish, then go back to the queue to run again at once; the process exits 0.
- A worker killed outright (SIGKILL, a lost node): its heartbeat stops, and once it is older than
  WORKER_STALLED_AFTER any other worker puts its running jobs back in the queue (a job a worker
  is lost on again and again fails instead, like one failing its attempts).
- The database goes away: the worker stops its run, waits, and starts again when it is back,
  in the same process.

Only procrastinate's documented interfaces are used: the worker runs through
`App.run_worker_async` (its options, and cancelling its task: the graceful stop), a worker
middleware, `Job.worker_id` and the `JobManager`'s calls. procrastinate (3.10) stops a worker's
heartbeat as soon as it is asked to stop, before its running jobs end: a drain longer than
WORKER_STALLED_AFTER would have them look abandoned, and another worker would run them a second
time. So while the jobs drain, this module beats for the worker itself
(`JobManager.update_heartbeat`, with the worker's id as its jobs carry it), until the worker has
stopped. A release that keeps its own heartbeat through the drain makes that a few redundant
updates of one row, nothing more.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import procrastinate
from procrastinate.exceptions import ConnectorException
from procrastinate.jobs import Status
from sqlalchemy import make_url

from {{ cookiecutter.package_name }}.database.engines import create_async_db_engine
from {{ cookiecutter.package_name }}.jobs.observability import (
    JOBS_FAILED,
    JOBS_RETRIED,
    QUEUE_DEPTH,
    Liveness,
    install_log_fields,
    observe_jobs,
    serve_metrics_and_health,
)
from {{ cookiecutter.package_name }}.jobs.queue import RETRY, app
from {{ cookiecutter.package_name }}.jobs.settings import WorkerSettings
from {{ cookiecutter.package_name }}.jobs.tasks import process_item
from {{ cookiecutter.package_name }}.observability import tracing

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from procrastinate import JobContext
    from procrastinate.middleware import WorkerMiddleware

log = logging.getLogger(__name__)

# How the queue's connections name themselves to PostgreSQL (pg_stat_activity).
APPLICATION_NAME = "{{ cookiecutter.project_slug }}-worker"
# How often the worker measures the queue's depth and looks for jobs of lost workers, seconds.
MAINTENANCE_INTERVAL = 5
# After the database failed the worker: first wait before starting again, and the longest.
RESTART_DELAYS = (0.5, 5.0)
QUEUE_DEPTH_SQL = (
    "SELECT queue_name, status::text AS status, count(*) AS jobs FROM procrastinate_jobs"
    " WHERE status IN ('todo', 'doing') GROUP BY queue_name, status"
)
TASKS = (process_item,)  # importing tasks.py registers every task with the app


def run() -> None:
    """`<command> worker`: metrics and health on WORKER_PORT, jobs until SIGTERM."""
    settings = WorkerSettings()
    url = make_url(settings.database_url)
    if url.get_backend_name() != "postgresql":
        raise SystemExit(
            f"error: the worker needs PostgreSQL (its queue is there): DATABASE_URL is a "
            f"{url.get_backend_name()} URL"
        )
    install_log_fields()
    tracer_provider = tracing.otlp_tracer_provider() if tracing.tracing_enabled() else None
    liveness = Liveness()
    server = serve_metrics_and_health(settings.host, settings.worker_port, liveness)
    log.info("worker metrics and health on http://%s:%d", settings.host, settings.worker_port)
    try:
        asyncio.run(work(settings, lambda: queue_connector(settings), liveness, tracer_provider))
    finally:
        server.shutdown()
        server.server_close()  # the port refuses connections from now on
        if tracer_provider is not None:
            tracer_provider.shutdown()
    log.info("stopped: running jobs finished or back in the queue")


def queue_connector(settings: WorkerSettings) -> procrastinate.PsycopgConnector:
    """The queue's own connections (psycopg): fetching and finishing jobs, LISTEN, heartbeats."""
    url = make_url(settings.database_url).set(drivername="postgresql")
    return procrastinate.PsycopgConnector(
        conninfo=url.render_as_string(hide_password=False),
        min_size=1,
        max_size=settings.worker_queue_pool_size,
        timeout=5,  # no connection within 5 s (the database is down): fail, and start again
        kwargs={"connect_timeout": 5, "application_name": APPLICATION_NAME},
    )


async def work(
    settings: WorkerSettings,
    connector: Callable[[], procrastinate.BaseConnector],
    liveness: Liveness,
    tracer_provider: TracerProvider | None = None,
) -> None:
    """Run jobs until SIGTERM or SIGINT, starting again with a new `connector()` whenever the
    database fails the worker."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    RETRY.configure(settings)
    # The tasks' own queries: the web process's engine and settings, a connection per job.
    engine = create_async_db_engine(
        settings.database_url,
        pool_size=settings.worker_concurrency,
        max_overflow=0,
        pool_timeout=settings.db_pool_timeout,
        statement_timeout=settings.db_statement_timeout,
        prepared_statements=settings.db_prepared_statements,
    )
    context = {"engine": engine, "retention_hours": settings.job_retention_hours}
    chores = [
        asyncio.create_task(keep_beating(liveness, stop)),
        asyncio.create_task(maintain(settings, stop)),
    ]
    try:
        delay = RESTART_DELAYS[0]
        while not stop.is_set():
            began = time.monotonic()
            with app.replace_connector(connector()):
                try:
                    await run_worker(settings, context, stop, tracer_provider)
                except Exception as error:  # the database: unreachable, or gone mid-run
                    log.warning("the job queue is unreachable (%s): starting again", error)
            if stop.is_set():
                break
            if time.monotonic() - began > 10 * RESTART_DELAYS[1]:
                delay = RESTART_DELAYS[0]  # it ran for a while: this is a new outage
            log.info("worker starting again in %.1f s", delay)
            await wait(stop, delay)
            delay = min(delay * 2, RESTART_DELAYS[1])
    finally:
        for chore in chores:
            chore.cancel()
        await asyncio.gather(*chores, return_exceptions=True)
        await engine.dispose()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


async def run_worker(
    settings: WorkerSettings,
    context: dict[str, Any],
    stop: asyncio.Event,
    tracer_provider: TracerProvider | None,
) -> None:
    """One worker's run, from opening the queue until `stop` (then it drains) or a failure."""
    worker_ids: set[int] = set()  # this run's worker, as its jobs name it
    async with app.open_async():
        running = asyncio.create_task(
            app.run_worker_async(
                concurrency=settings.worker_concurrency,
                fetch_job_polling_interval=settings.worker_poll_interval,
                shutdown_graceful_timeout=settings.worker_shutdown_timeout,
                update_heartbeat_interval=settings.worker_heartbeat_interval,
                stalled_worker_timeout=settings.worker_stalled_after,
                install_signal_handlers=False,  # SIGTERM is `stop`'s
                additional_context=context,
                worker_middleware=[observe_jobs(tracer_provider), note_worker(worker_ids)],
            )
        )
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not running.done():
            log.info(
                "stopping: running jobs get up to %s s to finish", settings.worker_shutdown_timeout
            )
            running.cancel()  # procrastinate's graceful stop: no new job, running ones drain
            await beat_while_draining(running, worker_ids, settings.worker_heartbeat_interval)
        if not running.cancelled():
            running.result()  # a failure raises here
        if not stop.is_set():  # it stopped itself: one of its connections failed
            raise ConnectorException("the worker stopped")


def note_worker(worker_ids: set[int]) -> WorkerMiddleware:
    """A worker middleware: the id of the worker running each job goes in `worker_ids`."""

    async def middleware(
        call_next: Callable[[], Awaitable[Any]], context: JobContext, worker: Any
    ) -> Any:
        if context.job.worker_id is not None:
            worker_ids.add(context.job.worker_id)
        return await call_next()

    return middleware


async def beat_while_draining(
    running: asyncio.Task[None], worker_ids: set[int], interval: float
) -> None:
    """The workers' heartbeats, every `interval` seconds until `running` (the stopping worker)
    is done: its draining jobs never look abandoned (see the module's docstring)."""
    while not running.done():
        for worker_id in worker_ids:
            try:
                await app.job_manager.update_heartbeat(worker_id)
            except Exception as error:  # the database is down: the worker's run says so
                log.debug("heartbeat skipped: %s", error)
        await asyncio.wait({running}, timeout=interval)


async def keep_beating(liveness: Liveness, stop: asyncio.Event) -> None:
    """The event loop turns: what /healthz checks."""
    while not stop.is_set():
        liveness.beat()
        await wait(stop, 1)


async def maintain(settings: WorkerSettings, stop: asyncio.Event) -> None:
    """Every few seconds: jobs of lost workers back in the queue, and the queue's depth."""
    while not stop.is_set():
        try:
            await requeue_stalled_jobs(settings)
            await measure_queue_depth()
        except Exception as error:  # the database is down: the worker's run says so
            log.debug("maintenance skipped: %s", error)
        await wait(stop, MAINTENANCE_INTERVAL)


async def requeue_stalled_jobs(settings: WorkerSettings) -> None:
    """Running jobs of workers whose heartbeat is older than WORKER_STALLED_AFTER go back to
    the queue; one whose workers were lost JOB_MAX_ATTEMPTS times (a job that kills its worker)
    fails instead."""
    manager = app.job_manager
    stalled = await manager.get_stalled_jobs(seconds_since_heartbeat=settings.worker_stalled_after)
    for job in stalled:
        fields = {"job_id": job.id, "task": job.task_name}
        try:
            if job.attempts + 1 >= settings.job_max_attempts:
                await manager.finish_job(job, status=Status.FAILED, delete_job=False)
                JOBS_FAILED.labels(job.task_name).inc()
                log.error("a lost worker's job failed: its last attempt", extra={"fields": fields})
            else:
                await manager.retry_job(job)
                JOBS_RETRIED.labels(job.task_name).inc()
                log.warning("a lost worker's job is back in the queue", extra={"fields": fields})
        except ConnectorException:  # another worker moved it first
            log.debug("a lost worker's job was already moved", extra={"fields": fields})


_depths_seen: set[tuple[str, str]] = set()


async def measure_queue_depth() -> None:
    rows = await app.connector.execute_query_all_async(QUEUE_DEPTH_SQL)
    depths = {(row["queue_name"], row["status"]): row["jobs"] for row in rows}
    for labels in _depths_seen | depths.keys():  # a queue emptied reads 0, not its last depth
        QUEUE_DEPTH.labels(*labels).set(depths.get(labels, 0))
    _depths_seen.update(depths)


async def wait(stop: asyncio.Event, seconds: float) -> None:
    """Sleep, or less when `stop` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
