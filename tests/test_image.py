"""Image build and run: each chosen project's Dockerfile is built with BuildKit and the image is
proven against the known-good checklist (docs/image-checklist.md).

Each check (tests/image_checks.py) returns the problem it found, None when fine, so the
negative controls in test_image_rebuilds.py prove every check fails on the image it exists to catch.
Needs a Docker engine with BuildKit: deselect with -m "not docker" where there is none.
"""

import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from harness.commands import free_port, run, tool
from harness.docker import (
    Image,
    StartContainer,
    docker_cli,
    engine,
    http,
    http_response,
    migrated_database,
    remove_volume,
    run_once,
    run_options,
    wait_for_healthz,
    wait_for_readyz,
    wait_until_healthy,
)
from harness.postgres import postgres_bin, psql
from tests.image_checks import (
    graceful_stop_problem,
    import_problem,
    leftovers_problem,
    non_root_problem,
)
from tests.params import image_keys_with, image_params

pytestmark = pytest.mark.docker


# ---- the built images -------------------------------------------------------------------------


def test_runs_as_a_numeric_non_root_user_that_cannot_modify_the_app(
    image: Image,
) -> None:
    assert non_root_problem(image) is None


def test_the_package_imports_from_site_packages_outside_the_source_tree(
    image: Image,
) -> None:
    assert import_problem(image) is None


def test_no_caches_compilers_dev_tools_env_files_or_git_in_the_image(
    image: Image,
) -> None:
    assert leftovers_problem(image) is None


def test_docker_stop_ends_it_by_sigterm_without_a_stall(
    image: Image, start: StartContainer, new_database: Callable[[], str]
) -> None:
    url = new_database() if image.context["database"] == "postgresql" else None
    assert graceful_stop_problem(image, start, **run_options(url)) is None


def test_oci_labels_describe_the_image(image: Image) -> None:
    labels = image.config()["Labels"]
    assert labels["org.opencontainers.image.title"] == image.project.name
    assert labels["org.opencontainers.image.version"] == "0.1.0"
    assert labels["org.opencontainers.image.licenses"] == "MIT"
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", labels["org.opencontainers.image.created"]
    )


def prepare_database(image: Image, new_database: Callable[[], str], volume: str) -> dict[str, Any]:
    """Run options for a migrated database: a fresh Postgres database, or a SQLite volume."""
    url = new_database() if image.context["database"] == "postgresql" else None
    return migrated_database(image, url, volume)


# The image's HEALTHCHECK, probed every second instead of its own interval (`--health-interval`).
HEALTH_EVERY_SECOND = {"healthcheck": {"interval": 1_000_000_000}}


@pytest.fixture
def volume() -> Iterator[str]:
    name = f"template-test-{os.getpid()}-{time.monotonic_ns()}"
    yield name
    remove_volume(name)


def test_answers_healthz_once_started_then_is_healthy_ready_and_serves_items(
    image: Image,
    start: StartContainer,
    new_database: Callable[[], str],
    volume: str,
) -> None:
    # How soon the first 200 comes is scripts/benchmark's to measure (a quiet machine, medians):
    # here the image starts and answers, beside the other workers' builds and load.
    database = prepare_database(image, new_database, volume)
    container = start(image, **HEALTH_EVERY_SECOND, **database)
    assert wait_for_healthz(container) is not None, container.logs()
    assert wait_until_healthy(container) == "healthy", container.logs()
    assert wait_for_readyz(container) == 200, container.logs()
    assert http(container, "GET", "/readyz") == (200, {"status": "ready"})
    if image.context["database"] != "none":
        status, item = http(container, "POST", "/items", {"name": "through the container"})
        assert status == 201
        assert http(container, "GET", "/items") == (200, [item])
        assert http(container, "GET", f"/items/{item['id']}") == (200, item)  # type: ignore[index]
    if image.issuer:  # auth=oidc: the same request without a token is refused
        status, headers, _ = http_response(container, "GET", "/me", headers={})
        assert (status, headers["WWW-Authenticate"]) == (401, "Bearer")
        assert http(container, "GET", "/me")[0] == 200


def test_healthy_with_a_read_only_root_and_no_capabilities(
    image: Image,
    start: StartContainer,
    new_database: Callable[[], str],
    volume: str,
) -> None:
    database = prepare_database(image, new_database, volume)
    hardened = {
        "read_only": True,
        "tmpfs": {"/tmp": ""},
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
    }
    container = start(image, **HEALTH_EVERY_SECOND, **hardened, **database)
    assert wait_until_healthy(container) == "healthy", container.logs()
    assert wait_for_readyz(container) == 200, container.logs()


def test_the_dockerfile_passes_hadolint_with_every_ignore_explained(
    image: Image,
) -> None:
    run(
        [tool("hadolint"), "--failure-threshold", "warning", "Dockerfile"],
        cwd=image.project,
    )
    lines = (image.project / "Dockerfile").read_text().splitlines()
    for number, line in enumerate(lines):
        if "hadolint ignore" in line:
            assert lines[number - 1].startswith("#") and "hadolint" not in lines[number - 1], (
                f"Dockerfile line {number + 1}: an ignored rule needs a comment saying why"
            )


# ---- PostgreSQL: migrations inside the container ------------------------------------------------

PG_IMAGES = image_params(image_keys_with("postgresql"))
MIGRATION_LOCK_ID = 7_130_413_521  # database/migrations.py's advisory lock


def head_revision(image: Image) -> str:
    """The latest of the project's migrations (0002 with the worker's queue, else 0001)."""
    versions = (image.project / "migrations" / "versions").glob("*.py")
    found = (re.search(r'^revision: str = "(\w+)"', p.read_text(), re.MULTILINE) for p in versions)
    return max(match[1] for match in found if match)


@pytest.mark.parametrize("image", PG_IMAGES, indirect=True)
def test_migrate_in_the_container_brings_a_real_postgres_to_head(
    image: Image, new_database: Callable[[], str]
) -> None:
    url = new_database()
    result = run_once(image, image.command, "migrate", working_dir="/", **run_options(url))
    assert result.returncode == 0, result.stderr
    assert psql(url, "SELECT version_num FROM alembic_version") == [[head_revision(image)]]


def wait_for_advisory_locks(url: str, *, granted: bool, count: int) -> bool:
    condition = "granted" if granted else "NOT granted"
    query = f"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND {condition}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if psql(url, query) == [[str(count)]]:
            return True
        time.sleep(0.2)
    return False


@pytest.mark.parametrize("image", PG_IMAGES, indirect=True)
def test_overlapping_migrations_both_succeed_one_waiting_on_the_advisory_lock(
    image: Image, start: StartContainer, new_database: Callable[[], str]
) -> None:
    url = new_database()
    # Hold the lock first, so both migrations are forced to overlap while it is held; the
    # holder's session (and the lock) ends when its psql reads the end of its input.
    holder = subprocess.Popen(
        [postgres_bin("psql"), "--no-psqlrc", "--quiet", url],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert holder.stdin is not None
    holder.stdin.write(f"SELECT pg_advisory_lock({MIGRATION_LOCK_ID});\n")
    holder.stdin.flush()
    try:
        assert wait_for_advisory_locks(url, granted=True, count=1), "the holder has no lock"
        migrations = [
            start(image, command=(image.command, "migrate"), **run_options(url)) for _ in range(2)
        ]
        assert wait_for_advisory_locks(url, granted=False, count=2), "migrations didn't wait"
    finally:
        holder.stdin.close()
        holder.wait()
    for container in migrations:
        assert container.wait(timeout=60) == 0, container.logs()
    assert psql(url, "SELECT version_num FROM alembic_version") == [[head_revision(image)]]


@pytest.mark.parametrize("image", PG_IMAGES, indirect=True)
def test_without_database_url_the_container_exits_with_the_message(
    image: Image,
) -> None:
    result = run_once(image)
    assert result.returncode == 2
    assert "error: DATABASE_URL is not set: expected a PostgreSQL URL" in result.stderr


def test_make_docker_smoke_passes_on_the_built_image_and_leaves_no_volume(image: Image) -> None:
    """The target CI runs on the loaded image before pushing it. A SQLite image declares a
    volume (/app/data): each smoke run on a team's machine must not leave one behind."""
    variables = [f"IMAGE={image.tag}", f"DOCKER={docker_cli()}"]
    left_before = unused_volumes()
    output = run(
        ["make", "docker-smoke", *variables],
        cwd=image.project,
        env={"DOCKER_RUN_FLAGS": "--network host", "PORT": str(free_port())},
    ).stdout
    assert "/healthz answered 200" in output
    assert unused_volumes() <= left_before


def unused_volumes() -> set[str]:
    """Anonymous volumes (named by their id) no container uses: the tests' named ones are
    unused between the containers that share them."""
    unused = engine().volumes.list(filters={"dangling": True})
    return {volume.name for volume in unused if re.fullmatch("[0-9a-f]{64}", volume.name)}
