"""Enqueueing a job from a route: in the route's own transaction, on its own connection.

The job's row is written by the queue's SQL function (procrastinate_defer_jobs_v1, part of the
schema migrations/versions/0002_job_queue.sql created) on the connection the route already
holds, so the route's commit stores its rows and its jobs together, or neither: no job without
its row, no row without its job. Workers are woken by the NOTIFY the function sends, which
PostgreSQL delivers at that commit. Nothing of the queue library is imported here: the web
process only writes rows.
"""

import logging
import sys
import time
from typing import Any, TypedDict

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

from {{ cookiecutter.package_name }}.observability.logs import request_fields, request_id

log = logging.getLogger(__name__)

# The argument every job carries beside its task's own: who enqueued it and when. The worker
# takes it off before the task runs (jobs/observability.py).
META = "meta"
# What the example resource's job is called, and where it waits (jobs/tasks.py registers it).
PROCESS_ITEM, ITEMS_QUEUE = "process_item", "items"

DEFER = text(
    "SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[ROW(:queue, :task, 0, NULL, NULL, :arguments,"
    " NULL::timestamptz)::procrastinate_job_to_defer_v1]))"
).bindparams(bindparam("arguments", type_=JSONB))


class JobMeta(TypedDict, total=False):
    request_id: str | None  # the request that enqueued the job: in the worker's log lines
    # That request's own fields (logs.add_request_fields: e.g. its caller): in them too.
    request_fields: dict[str, Any]
    traceparent: str  # its trace (W3C Trace Context): the job's span joins the request's trace
    enqueued_at: float  # time.time() at enqueueing: the job's start delay is measured from it


def job_meta() -> JobMeta:
    meta = JobMeta(request_id=request_id.get(), enqueued_at=time.time())
    if fields := request_fields.get():
        meta["request_fields"] = dict(fields)
    # Tracing on (observability/tracing.py) has imported OpenTelemetry; off, nothing is imported
    # for this.
    if "opentelemetry.trace" in sys.modules:
        from opentelemetry import propagate

        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        if "traceparent" in carrier:
            meta["traceparent"] = carrier["traceparent"]
    return meta


async def defer(connection: AsyncConnection, task: str, queue: str, **arguments: Any) -> int | None:
    """Enqueue `task` with these (JSON) arguments in the connection's open transaction; returns
    the job's id. On SQLite (`make dev` and the tests without PostgreSQL) there is no queue:
    nothing is enqueued, and a warning says so."""
    if connection.dialect.name != "postgresql":
        log.warning("no job queue on %s: %s not enqueued", connection.dialect.name, task)
        return None
    values = {"queue": queue, "task": task, "arguments": {**arguments, META: job_meta()}}
    job_id: int = (await connection.execute(DEFER, values)).scalar_one()
    return job_id


async def defer_process_item(connection: AsyncConnection, item_id: int) -> int | None:
    """The example resource's job (jobs/tasks.py: process_item), for a new item."""
    return await defer(connection, PROCESS_ITEM, ITEMS_QUEUE, item_id=item_id)
