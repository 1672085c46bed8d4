"""The jobs the worker runs: the example resource's, and a periodic one.

A job may run more than once: a worker killed mid-job has it run again elsewhere once its lease
ends (README: Background jobs). Write every task so that a second run changes nothing: here the
UPDATE applies only to an item not yet processed, in one transaction with the check.

A task gets the worker's database engine from its context (`engine(context)`): the same async
engine, pool and settings as the web process's requests.
"""

import logging

from procrastinate import JobContext, builtin_tasks
from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncEngine

from {{ cookiecutter.package_name }}.database.models import Item
from {{ cookiecutter.package_name }}.jobs.enqueue import ITEMS_QUEUE, PROCESS_ITEM
from {{ cookiecutter.package_name }}.jobs.queue import RETRY, app

log = logging.getLogger(__name__)

# Periodic jobs wait in a queue of their own, so a backlog of items never delays them.
MAINTENANCE_QUEUE = "maintenance"


def engine(context: JobContext) -> AsyncEngine:
    """The worker's engine (worker.py passes it in every job's context)."""
    found: AsyncEngine = context.additional_context["engine"]
    return found


@app.task(name=PROCESS_ITEM, queue=ITEMS_QUEUE, retry=RETRY, pass_context=True)
async def process_item(context: JobContext, item_id: int) -> None:
    """What a new item needs done after its creation (a thumbnail, a search index entry, a
    notification...): here, it is marked processed. Idempotent: done once, whatever the runs."""
    async with engine(context).begin() as connection:
        done = await connection.execute(
            update(Item)
            .where(Item.id == item_id, Item.processed_at.is_(None))
            .values(processed_at=func.now())
        )
    if done.rowcount:
        log.info("item %d processed", item_id, extra={"fields": {"item_id": item_id}})
    else:  # a second run (after a lost worker), or an item no longer there: nothing to do
        log.info("item %d already processed", item_id, extra={"fields": {"item_id": item_id}})


# Every day at 04:00 UTC (cron; every worker defers it, the queue runs it once a day).
@app.periodic(cron="0 4 * * *", periodic_id="remove_old_jobs")
@app.task(name="remove_old_jobs", queue=MAINTENANCE_QUEUE, retry=RETRY, pass_context=True)
async def remove_old_jobs(context: JobContext, timestamp: int) -> None:
    """Finished jobs (and their events) older than JOB_RETENTION_HOURS are deleted; failed ones
    are kept until someone looks at them."""
    hours: int = context.additional_context["retention_hours"]
    await builtin_tasks.remove_old_jobs(context, max_hours=hours)
    log.info("jobs finished over %d hours ago removed", hours)
