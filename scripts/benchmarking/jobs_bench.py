"""--jobs, the background job worker of a worker=yes project: its image, one worker container.

Bakes the worker's full-run combination (src/uv/postgresql/3.13, worker=yes; locking on), builds
its image, and starts a throwaway PostgreSQL on 127.0.0.1, then:
  throughput  N items and their jobs enqueued in one transaction while no worker runs (the
              queue's own SQL function, as the create route calls it); then one worker starts
              (WORKER_CONCURRENCY as given, default 10): jobs/s = N / (last job done - first job
              started), both from the queue's events (the database's clock). The worker's CPU
              time per job from its container's cgroup.
  reference   the same, through procrastinate's own worker (`App.run_worker_async`) in the same
              image, on the same task and engine, without what `<slug> worker` adds (its
              metrics, health server, drain, lost-worker and outage handling): what those cost.
  latency     the worker idle, items POSTed through the web container at RATE per second for
              SECONDS: each job's enqueue -> start delay, from its `deferred` event (its row's
              commit) to its `started` event; p50, p90, p99 and the largest.
Each job is the example's: one UPDATE of its item in its own transaction. Prints a table and
writes OUT/jobs.json.
"""

import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.baking import bake
from harness.docker import Image, container_starter, make_build, migrated_database, remove_image
from harness.jobs import (
    Stack,
    percentile,
    post_items,
    processed,
    start_delays,
    wait_until,
)
from harness.oidc import Issuer, uses_oidc
from harness.options import FULL_RUNS, WORKER_KEY
from harness.postgres import postgres_server, psql
from harness.pythons import project_env

TAG = "template-benchmark-jobs:latest"


def enqueue_in_bulk(url: str, count: int) -> None:
    """`count` items and their jobs, committed together, as the create route writes them."""
    psql(url, f"""
        WITH new AS (
            INSERT INTO items (name) SELECT 'bench ' || n FROM generate_series(1, {count}) n
            RETURNING id)
        SELECT count(*) FROM (SELECT unnest(procrastinate_defer_jobs_v1(array_agg(
            ROW('items', 'process_item', 0, NULL, NULL,
                jsonb_build_object('item_id', id, 'meta', jsonb_build_object()),
                NULL)::procrastinate_job_to_defer_v1))) FROM new) AS deferred""",
        timeout=300)  # fmt: skip


def throughput(stack: Stack, count: int, concurrency: int) -> dict[str, Any]:
    enqueue_in_bulk(stack.database_url, count)
    worker = stack.worker(WORKER_CONCURRENCY=str(concurrency))
    cpu_before = cpu_seconds(worker)
    wait_until(lambda: processed(stack.database_url) >= count, 600, f"{count} jobs done")
    return throughput_result(stack, worker, count, concurrency, cpu_seconds(worker) - cpu_before)


def throughput_result(
    stack: Stack, worker: Any, count: int, concurrency: int, cpu: float
) -> dict[str, Any]:
    """jobs/s from the queue's events: first start to last success."""
    ((seconds,),) = psql(stack.database_url, """
        SELECT extract(epoch FROM max(at) FILTER (WHERE type = 'succeeded')
                                 - min(at) FILTER (WHERE type = 'started'))
        FROM procrastinate_events e JOIN procrastinate_jobs j ON j.id = e.job_id
        WHERE j.task_name = 'process_item'""")  # fmt: skip
    worker.stop(timeout=30)
    return {
        "jobs": count,
        "concurrency": concurrency,
        "seconds": round(float(seconds), 3),
        "jobs_per_second": round(count / float(seconds), 1),
        "worker_cpu_ms_per_job": round(cpu * 1000 / count, 2),
    }


# procrastinate's own worker on the project's task and engine: the reference for `throughput`.
BARE_WORKER = """
import asyncio
from {package}.database.engines import create_async_db_engine
from {package}.jobs.enqueue import ITEMS_QUEUE, META
from {package}.jobs.queue import app
from {package}.jobs.worker import queue_connector
from {package}.settings import Settings

async def without_meta(call_next, context, worker):
    context.job.task_kwargs.pop(META, None)  # the enqueuer's meta: tasks don't declare it
    return await call_next()

async def main():
    settings = Settings()
    engine = create_async_db_engine(
        settings.database_url, pool_size=settings.worker_concurrency, max_overflow=0,
        pool_timeout=settings.db_pool_timeout, statement_timeout=settings.db_statement_timeout,
        prepared_statements=settings.db_prepared_statements)
    with app.replace_connector(queue_connector(settings)):
        async with app.open_async():
            await app.run_worker_async(
                queues=[ITEMS_QUEUE], concurrency=settings.worker_concurrency,
                additional_context={{"engine": engine}}, worker_middleware=[without_meta])

asyncio.run(main())
"""


def reference_throughput(stack: Stack, count: int, concurrency: int) -> dict[str, Any]:
    """`throughput` through procrastinate's own worker, on a queue emptied of the first run's
    jobs. It starts first (its imports outside the CPU counted) and is woken by the commit."""
    psql(stack.database_url, "TRUNCATE procrastinate_jobs, items CASCADE")
    package = next(p.name for p in (stack.image.project / "src").iterdir() if p.is_dir())
    worker = stack.start(
        stack.image,
        command=("python", "-c", BARE_WORKER.format(package=package)),
        environment=stack.env() | {"WORKER_CONCURRENCY": str(concurrency)},
    )
    time.sleep(5)  # started and listening (it has no health endpoint)
    assert worker.state()["Running"], worker.logs()[-3000:]
    cpu_before = cpu_seconds(worker)
    enqueue_in_bulk(stack.database_url, count)
    wait_until(lambda: processed(stack.database_url) >= count, 120, f"{count} reference jobs")
    return throughput_result(stack, worker, count, concurrency, cpu_seconds(worker) - cpu_before)


def cpu_seconds(container: Any) -> float:
    stats = container.handle.stats(stream=False)
    return float(stats["cpu_stats"]["cpu_usage"]["total_usage"]) / 1e9


def latency(stack: Stack, rate: float, seconds: float) -> dict[str, Any]:
    psql(stack.database_url, "TRUNCATE procrastinate_jobs, items CASCADE")
    web = stack.serve()
    worker = stack.worker()
    time.sleep(2)  # idle: the worker waits on LISTEN
    count = int(rate * seconds)
    began = time.monotonic()
    statuses = []
    for n in range(count):
        statuses += [status for _, status, _ in post_items(web, [f"latency {n}"], clients=1)]
        time.sleep(max(0.0, began + (n + 1) / rate - time.monotonic()))
    assert set(statuses) == {201}, statuses
    wait_until(lambda: processed(stack.database_url) >= count, 120, "every job done")
    delays = start_delays(stack.database_url)
    worker.stop(timeout=30)
    web.stop(timeout=30)
    return {
        "jobs": count,
        "rate_per_second": rate,
        "p50_ms": round(percentile(delays, 0.5) * 1000, 1),
        "p90_ms": round(percentile(delays, 0.9) * 1000, 1),
        "p99_ms": round(percentile(delays, 0.99) * 1000, 1),
        "max_ms": round(max(delays) * 1000, 1),
    }


@dataclass(frozen=True)
class JobOptions:
    jobs: int  # throughput: jobs enqueued before the worker starts
    concurrency: int  # WORKER_CONCURRENCY
    rate: float  # latency: POSTs per second
    seconds: float  # latency: for how long
    out: Path


def measure_jobs(options: JobOptions) -> None:
    context = FULL_RUNS[WORKER_KEY]
    start, remove_all = container_starter()
    with tempfile.TemporaryDirectory() as out, postgres_server() as server, Issuer() as issuer:
        os.environ.update(project_env(context["python_version"]))  # the post-gen hook's lock
        project = bake(Path(out), **context, _lock=True)
        make_build(project, TAG, context["python_version"])
        image = Image(TAG, WORKER_KEY, project, issuer if uses_oidc(context) else None)
        try:
            url = server.create_database("jobs")
            migrated_database(image, url, None)
            stack = Stack(image, start, url, {})
            results = {
                "throughput": throughput(stack, options.jobs, options.concurrency),
                "reference": reference_throughput(stack, options.jobs, options.concurrency),
                "latency": latency(stack, options.rate, options.seconds),
            }
        finally:
            remove_all()
            remove_image(TAG)
    options.out.mkdir(parents=True, exist_ok=True)
    (options.out / "jobs.json").write_text(json.dumps(results, indent=2) + "\n")
    lat = results["latency"]
    for name, t in (
        ("`<slug> worker`", results["throughput"]),
        ("procrastinate's own", results["reference"]),
    ):
        print(
            f"| {name}, concurrency {t['concurrency']} | {t['jobs']} jobs in {t['seconds']} s: "
            f"{t['jobs_per_second']} jobs/s, {t['worker_cpu_ms_per_job']} ms CPU/job |"
        )
    print(
        f"| enqueue -> start, idle worker, {lat['rate_per_second']}/s x {lat['jobs']} | "
        f"p50 {lat['p50_ms']} ms, p90 {lat['p90_ms']} ms, p99 {lat['p99_ms']} ms, "
        f"max {lat['max_ms']} ms |"
    )
