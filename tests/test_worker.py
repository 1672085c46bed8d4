"""The background job worker (worker=yes), proven on the built image: web and worker containers
(host network) on a real PostgreSQL on 127.0.0.1. 1,000 items created under concurrent load each
have their job's effect exactly once; a worker killed with SIGKILL mid-job has its job run by
the next worker after its lease; SIGTERM mid-job drains within the timeout (or puts the job back)
and exits 0; a database outage is waited out in the same process; a poison job fails after its
retries while the others finish. And the worker's Kubernetes manifests, validated.

A job is held mid-run by a lock on its item's row (harness.jobs.RowLock), and made to fail by a
trigger refusing its item's UPDATE: conditions a real database can have, with no test hook in the
service. Needs a Docker engine (deselect with -m "not docker"), PostgreSQL's server binaries,
and for the manifests kustomize, kubernetes-validate and checkov.
"""

import re
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.commands import run, tool
from harness.docker import Container, Image, StartContainer, migrated_database
from harness.jobs import (
    FAST_WORKER,
    RowLock,
    Stack,
    job_lines,
    metric,
    percentile,
    post_items,
    processed,
    scalar,
    start_delays,
    wait_until,
    worker_get,
)
from harness.options import WORKER_KEY
from harness.postgres import postgres_server, psql
from tests.kubernetes_manifests import checkov, parse, render
from tests.params import image_params
from tests.test_observability import Receiver, receiver

pytestmark = pytest.mark.docker

WORKER_IMAGE = image_params([WORKER_KEY])
__all__ = ["receiver"]  # a fixture, used below


@pytest.fixture
def stack(image: Image, start: StartContainer, new_database: Callable[[], str]) -> Stack:
    """A migrated database of the session's server, and how to start the image's web and worker
    containers on it (quick heartbeats and retries: harness.jobs.FAST_WORKER)."""
    url = new_database()
    migrated_database(image, url, None)
    return Stack(image, start, url, dict(FAST_WORKER))


def job_of(url: str, item_id: int) -> tuple[str, int, int]:
    """Status, attempts and starts of an item's job."""
    ((status, attempts, starts),) = psql(url, f"""
        SELECT j.status::text, j.attempts, count(e.id) FILTER (WHERE e.type = 'started')
        FROM procrastinate_jobs j LEFT JOIN procrastinate_events e ON e.job_id = j.id
        WHERE j.task_name = 'process_item' AND (j.args->>'item_id')::int = {item_id}
        GROUP BY j.id""")  # fmt: skip
    return status, int(attempts), int(starts)


EFFECT = re.compile(r"item \d+ processed")  # not "... already processed": a run without effect


def effects(lines: list[dict[str, Any]]) -> Counter[int]:
    """How many times each item's job applied its effect (its "item N processed" lines)."""
    return Counter(int(line["item_id"]) for line in lines if EFFECT.fullmatch(line["message"]))


# ---- 1,000 jobs under load ---------------------------------------------------------------------

ITEMS = 1000


@pytest.mark.parametrize("image", WORKER_IMAGE, indirect=True)
def test_1000_items_created_under_load_each_get_their_jobs_effect_exactly_once(
    stack: Stack,
) -> None:
    web, worker = stack.serve(), stack.worker()
    began = time.monotonic()
    posted = post_items(web, [f"item {n}" for n in range(ITEMS)], clients=32)
    took = time.monotonic() - began
    assert Counter(status for _, status, _ in posted) == {201: ITEMS}

    wait_until(lambda: processed(stack.database_url) == ITEMS, 120, "every item processed")
    url = stack.database_url
    # Exactly one job per item (no job without its row, no row without its job), each started
    # once and succeeded: none lost, none run twice.
    jobs = psql(url, """
        SELECT (args->>'item_id')::int, status::text, attempts FROM procrastinate_jobs
        WHERE task_name = 'process_item'""")  # fmt: skip
    assert len(jobs) == ITEMS
    assert {int(item) for item, _, _ in jobs} == {item for _, _, item in posted}
    assert {(status, attempts) for _, status, attempts in jobs} == {("succeeded", "1")}
    assert scalar(url, "SELECT count(*) FROM procrastinate_events WHERE type = 'started'") >= ITEMS

    lines = job_lines(worker)
    assert effects(lines) == Counter({item: 1 for _, _, item in posted})
    # Each job's lines carry its id and the id of the request that created its item.
    request_of = {item: request_id for request_id, _, item in posted}
    # With auth, the caller of that request too (its token's `sub`, harness/oidc.py).
    caller = "template-tests" if stack.image.issuer else None
    for line in lines:
        if EFFECT.fullmatch(line["message"]):
            assert line["request_id"] == request_of[line["item_id"]], line
            assert isinstance(line["job_id"], int)
            assert line.get("caller") == caller, line
    assert metric(worker, "jobs_done_total", task="process_item") == ITEMS
    assert metric(worker, "job_duration_seconds_count", task="process_item") == ITEMS
    delays = start_delays(url)
    print(
        f"worker: {ITEMS} items POSTed in {took:.1f} s at 32 clients; enqueue -> start "
        f"p50 {percentile(delays, 0.5) * 1000:.0f} ms, p99 {percentile(delays, 0.99) * 1000:.0f} ms"
    )


# ---- SIGKILL, SIGTERM ----------------------------------------------------------------------------


@contextmanager
def held_job(stack: Stack, **worker_environment: str) -> Iterator[tuple[Container, int]]:
    """A new item's job running in a new worker, held in its UPDATE by a lock on the item's row
    until the block ends: (the worker, the item's id)."""
    ((_, _, item),) = post_items(stack.serve(), ["held"])
    assert item is not None
    lock = RowLock(stack.database_url, item)
    try:
        worker = stack.worker(**worker_environment)
        wait_until(lambda: job_of(stack.database_url, item)[0] == "doing", 30, "the job started")
        yield worker, item
    finally:
        lock.release()


@pytest.mark.parametrize("image", WORKER_IMAGE, indirect=True)
def test_a_job_whose_worker_is_killed_runs_again_once_a_new_worker_starts(stack: Stack) -> None:
    with held_job(stack) as (killed, item):
        killed.handle.kill(signal.SIGKILL)
        assert killed.wait() == 137
    assert job_of(stack.database_url, item)[0] == "doing"  # nobody runs it: its worker is gone

    replacement = stack.worker()
    # The lease (WORKER_STALLED_AFTER, 2 s) and the worker's maintenance round (5 s).
    took = wait_until(lambda: processed(stack.database_url) == 1, 30, "the job ran again")
    print(f"worker: a killed worker's job done {took:.1f} s after a new worker started")
    assert job_of(stack.database_url, item) == ("succeeded", 2, 2)  # started twice, done once
    assert effects(job_lines(killed, replacement)) == {item: 1}


@pytest.mark.parametrize("image", WORKER_IMAGE, indirect=True)
def test_sigterm_mid_job_lets_it_finish_within_the_timeout_and_exits_0(stack: Stack) -> None:
    with held_job(stack) as (worker, item):
        worker.handle.kill(signal.SIGTERM)
        time.sleep(1)
        assert worker.state()["Running"]  # draining: the job still runs
    began = time.monotonic()
    assert worker.wait(timeout=15) == 0
    assert time.monotonic() - began < 5  # WORKER_SHUTDOWN_TIMEOUT
    assert job_of(stack.database_url, item) == ("succeeded", 1, 1)
    assert effects(job_lines(worker)) == {item: 1}


@pytest.mark.parametrize("image", WORKER_IMAGE, indirect=True)
def test_sigterm_puts_a_job_still_running_at_the_timeout_back_in_the_queue(stack: Stack) -> None:
    # On its last attempt: a job stopped at shutdown has not failed, and goes back all the same.
    with held_job(stack, WORKER_SHUTDOWN_TIMEOUT="1", JOB_MAX_ATTEMPTS="1") as (worker, item):
        began = time.monotonic()
        worker.handle.kill(signal.SIGTERM)
        assert worker.wait(timeout=15) == 0
        assert time.monotonic() - began < 5
        assert job_of(stack.database_url, item) == ("todo", 1, 1)  # back, to run again at once
    stack.worker()
    wait_until(lambda: processed(stack.database_url) == 1, 30, "the job ran again")
    assert job_of(stack.database_url, item) == ("succeeded", 2, 2)


# ---- a database outage -------------------------------------------------------------------------


@pytest.mark.parametrize("image", WORKER_IMAGE, indirect=True)
def test_a_database_outage_is_waited_out_and_the_same_worker_recovers(
    image: Image, start: StartContainer
) -> None:
    with postgres_server() as server:
        url = server.create_database("outage")
        migrated_database(image, url, None)
        stack = Stack(image, start, url, dict(FAST_WORKER))
        web, worker = stack.serve(), stack.worker()
        before = worker.attrs()
        first = post_items(web, [f"before {n}" for n in range(50)])
        assert {status for _, status, _ in first} == {201}

        server.stop("immediate")  # as a crash: connections cut, nothing flushed or waited for
        # Past the drain of a job the outage caught: a worker that gave up would be gone by then.
        time.sleep(float(FAST_WORKER["WORKER_SHUTDOWN_TIMEOUT"]) + 5)
        assert worker.state()["Running"]
        assert worker_get(worker, "/healthz")[0] == 200  # alive: waiting, not to be restarted
        server.start()

        second = post_items(web, [f"after {n}" for n in range(50)], retry_for=20)
        assert {status for _, status, _ in second} == {201}
        took = wait_until(lambda: processed(url) == 100, 60, "every item processed")
        print(f"worker: after the outage, all 100 items processed {took:.1f} s later")
        after = worker.attrs()
        assert after["RestartCount"] == before["RestartCount"]
        assert after["State"]["StartedAt"] == before["State"]["StartedAt"]
        assert set(effects(job_lines(worker)).values()) == {1}
        assert len(effects(job_lines(worker))) == 100


# ---- a poison job ------------------------------------------------------------------------------

REFUSE_POISON = """
CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'item % cannot be processed', NEW.id; END $$;
CREATE TRIGGER refuse_poison BEFORE UPDATE ON items
    FOR EACH ROW WHEN (NEW.name = 'poison') EXECUTE FUNCTION refuse_poison();
"""


@pytest.mark.parametrize("image", WORKER_IMAGE, indirect=True)
def test_a_poison_job_fails_after_its_retries_while_the_others_finish(
    stack: Stack, receiver: Receiver
) -> None:
    """Its item's UPDATE always fails (a trigger stands for data the job can't handle). The
    jobs' traces go to a stand-in OTLP receiver: each job's span is in its request's trace."""
    psql(stack.database_url, REFUSE_POISON)
    traced = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver.server_port}",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    stack.environment |= traced
    web, worker = stack.serve(), stack.worker()
    posted = post_items(web, ["poison"] + [f"fine {n}" for n in range(20)], clients=4)
    poison = posted[0][2]
    assert poison is not None

    wait_until(lambda: job_of(stack.database_url, poison)[0] == "failed", 60, "poison failed")
    assert job_of(stack.database_url, poison) == ("failed", 3, 3)  # JOB_MAX_ATTEMPTS
    assert processed(stack.database_url) == 20
    assert metric(worker, "jobs_failed_total", task="process_item") == 1
    assert metric(worker, "jobs_retried_total", task="process_item") == 2
    # One error line (the last run's; the runs retried log at info), naming its request.
    (failed,) = [line for line in job_lines(worker) if line["level"] == "error"]
    assert "ended with status: Error" in failed["message"]
    poison_job = scalar(
        stack.database_url,
        f"SELECT id FROM procrastinate_jobs WHERE (args->>'item_id')::int = {poison}",
    )
    assert (failed["job_id"], failed["request_id"]) == (poison_job, posted[0][0])

    # The request's trace has the job's span (the worker's CONSUMER span "job process_item").
    request_traces = {
        span.trace_id for span in receiver.spans if span.name == "POST /items" and span.kind == 2
    }
    deadline = time.monotonic() + 20
    while True:
        jobs = {s.trace_id for s in receiver.spans if s.name == "job process_item" and s.kind == 5}
        if len(jobs & request_traces) >= 21 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
        request_traces |= {s.trace_id for s in receiver.spans if s.name == "POST /items"}
    assert len(jobs & request_traces) >= 21, (len(jobs), len(request_traces))


# ---- the worker's Kubernetes manifests ---------------------------------------------------------


@pytest.mark.parametrize("image", WORKER_IMAGE, indirect=True)
def test_the_workers_manifests_validate_pass_the_policy_scanner_and_match_the_image(
    image: Image, tmp_path: Path
) -> None:
    paths = []
    for overlay in ("dev", "production"):
        path = tmp_path / f"{overlay}.yaml"
        path.write_text(render(image.project, overlay))
        paths.append(path)
    run([tool("kubernetes-validate"), "--strict", "--quiet", "--kubernetes-version", "1.37",
         *map(str, paths)], cwd=tmp_path)  # fmt: skip
    report = checkov(tmp_path)
    assert report["failed"] == {}, report["failed"]

    documents = parse(paths[1].read_text())
    slug = image.command
    deployments = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Deployment"}
    worker, app = deployments[f"{slug}-worker"], deployments[slug]
    spec = worker["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert container["command"] == [slug, "worker"]
    assert container["image"] == app["spec"]["template"]["spec"]["containers"][0]["image"]
    # The same hardened pod as the service's.
    app_spec = app["spec"]["template"]["spec"]
    for key in ("securityContext", "automountServiceAccountToken", "serviceAccountName"):
        assert spec[key] == app_spec[key]
    assert container["securityContext"] == app_spec["containers"][0]["securityContext"]
    # Probes on the port the worker serves /healthz on; the drain fits in the grace period.
    (config,) = [d for d in documents if d["kind"] == "ConfigMap"]
    port = int(config["data"]["WORKER_PORT"])
    assert container["ports"] == [{"name": "metrics", "containerPort": port, "protocol": "TCP"}]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    shutdown = float(config["data"]["WORKER_SHUTDOWN_TIMEOUT"])
    assert spec["terminationGracePeriodSeconds"] > shutdown
    annotations = worker["spec"]["template"]["metadata"]["annotations"]
    assert int(annotations["prometheus.io/port"]) == port
    # Not behind the service's Service; a disruption budget and a policy of its own.
    labels = worker["spec"]["template"]["metadata"]["labels"]
    (service,) = [d for d in documents if d["kind"] == "Service"]
    assert not service["spec"]["selector"].items() <= labels.items()
    budgets = {d["metadata"]["name"] for d in documents if d["kind"] == "PodDisruptionBudget"}
    assert f"{slug}-worker" in budgets
    policies = [d for d in documents if d["kind"] == "NetworkPolicy"]
    assert any(p["spec"]["podSelector"]["matchLabels"].items() <= labels.items() for p in policies)
    # The compose service runs the same command with a healthcheck on the worker's port.
    compose_file = image.project / "compose" / "worker.yaml"
    compose = yaml.safe_load(compose_file.read_text())["services"]["worker"]
    assert compose["command"] == [slug, "worker"]
    assert f":{port}/healthz" in " ".join(compose["healthcheck"]["test"])
