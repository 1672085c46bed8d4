"""The job queue in PostgreSQL itself (TEST_DATABASE_URL; the CI workflow sets it): a created
item's job is committed with its row or not at all, and the worker runs it from there."""

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from functools import partial

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from {{ cookiecutter.package_name }}.app import create_app
from {{ cookiecutter.package_name }}.database.engines import create_async_db_engine
from {{ cookiecutter.package_name }}.database.models import Item
from {{ cookiecutter.package_name }}.jobs import observability, worker
from {{ cookiecutter.package_name }}.jobs.enqueue import defer_process_item
from {{ cookiecutter.package_name }}.jobs.settings import WorkerSettings

JOBS_OF_ITEM = text(
    "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'process_item'"
    " AND (args->>'item_id')::int = :item_id"
)


@pytest.fixture
def async_engine(migrated_postgresql: str) -> Iterator[AsyncEngine]:
    engine = create_async_db_engine(
        migrated_postgresql,
        pool_size=2,
        max_overflow=0,
        pool_timeout=5,
        statement_timeout=5,
        prepared_statements=True,
    )
    yield engine
    asyncio.run(engine.dispose())


def jobs_of(connection: Connection, item_id: int) -> int:
    return int(connection.execute(JOBS_OF_ITEM, {"item_id": item_id}).scalar_one())


def test_a_created_item_has_its_job_with_the_request_that_created_it(
    migrated_postgresql: str, client: TestClient, engine: Engine
) -> None:
    response = client.post("/items", json={"name": "queued"}, headers={"X-Request-ID": "req-7"})
    assert response.status_code == 201
    with engine.connect() as connection:
        (job,) = connection.execute(
            text("SELECT status::text, queue_name, args FROM procrastinate_jobs")
        ).all()
    assert job.status == "todo"
    assert job.queue_name == "items"
    assert job.args["item_id"] == response.json()["id"]
    assert job.args["meta"]["request_id"] == "req-7"


@pytest.mark.parametrize("outcome", ["rollback", "commit"])
def test_the_job_is_committed_with_its_row_or_not_at_all(
    async_engine: AsyncEngine, engine: Engine, outcome: str
) -> None:
    async def scenario() -> tuple[int, tuple[int, int]]:
        async with async_engine.connect() as connection:
            insert_item = insert(Item).values(name=outcome).returning(Item.id)
            item_id = (await connection.execute(insert_item)).scalar_one()
            assert await defer_process_item(connection, item_id)
            with engine.connect() as other:  # neither is visible outside before the commit
                rows = len(other.execute(select(Item.id).where(Item.id == item_id)).all())
                seen = (rows, jobs_of(other, item_id))
            await getattr(connection, outcome)()
        return item_id, seen

    item_id, seen_before = asyncio.run(scenario())
    assert seen_before == (0, 0)
    with engine.connect() as connection:
        rows = len(connection.execute(select(Item.id).where(Item.id == item_id)).all())
        expected = 1 if outcome == "commit" else 0
        assert (rows, jobs_of(connection, item_id)) == (expected, expected)


# The queue refusing every job, as a full disk or a broken queue schema would.
REFUSE_JOBS = """
CREATE FUNCTION refuse_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'the queue takes no jobs'; END $$;
CREATE TRIGGER refuse_jobs BEFORE INSERT ON procrastinate_jobs
    FOR EACH ROW EXECUTE FUNCTION refuse_jobs();
"""


def test_an_item_whose_job_cannot_be_enqueued_is_not_created(
    migrated_postgresql: str, engine: Engine
) -> None:
    """No row without its job: the route enqueues before its commit, so a failed enqueue leaves
    no item behind (committing the row first would keep an item whose job never runs)."""
    with engine.begin() as connection:
        connection.execute(text(REFUSE_JOBS))
    try:
        # An app and client of its own, which answers 500s instead of raising. Not the client
        # fixture's app: what its requests share (a lock, pooled connections) belongs to that
        # client's event loop, and a request from another loop that waits on it is never woken.
        app = create_app()
        with TestClient(app, raise_server_exceptions=False) as refusing_client:
            response = refusing_client.post("/items", json={"name": "unqueued"})
    finally:
        with engine.begin() as connection:
            connection.execute(text("DROP FUNCTION refuse_jobs() CASCADE"))
    assert response.status_code == 500
    with engine.connect() as connection:
        assert connection.scalars(select(Item.id).where(Item.name == "unqueued")).all() == []


def test_the_worker_runs_the_job_from_postgresql(
    migrated_postgresql: str, client: TestClient, engine: Engine
) -> None:
    item_id = client.post("/items", json={"name": "worked"}).json()["id"]
    settings = WorkerSettings(worker_heartbeat_interval=0.5)

    def processed() -> bool:
        with engine.connect() as connection:
            query = select(Item.processed_at).where(Item.id == item_id)
            return connection.execute(query).scalar() is not None

    async def scenario() -> None:
        liveness = observability.Liveness()
        connector = partial(worker.queue_connector, settings)
        task = asyncio.create_task(worker.work(settings, connector, liveness))
        deadline = time.monotonic() + 20
        while not processed():
            assert time.monotonic() < deadline, "not processed in 20 s"
            assert not task.done(), "the worker stopped"
            await asyncio.sleep(0.1)
        await worker.measure_queue_depth()
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(task, 20)

    asyncio.run(scenario())
    with engine.connect() as connection:
        statuses = connection.execute(
            text("SELECT status::text, count(*) FROM procrastinate_jobs GROUP BY 1")
        ).all()
        workers = connection.scalar(text("SELECT count(*) FROM procrastinate_workers"))
    assert dict(statuses) == {"succeeded": 1}
    assert workers == 0  # it unregistered on SIGTERM
