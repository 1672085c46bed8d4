"""Fixtures shared across the template's test modules."""

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import FULL_RUNS, TEMPLATE, free_port, machine_share, postgres_bin, project_env


def pytest_configure(config: pytest.Config) -> None:
    # pytest-cookies bakes `--template`; make it this checkout wherever pytest is started from.
    config.option.template = str(TEMPLATE)


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL server on 127.0.0.1 (trust auth); yields its base URL."""
    as_postgres: list[str] = []
    datadir = Path(tempfile.mkdtemp(prefix="template-tests-pg-"))
    if os.geteuid() == 0:  # the server refuses to run as root
        shutil.chown(datadir, "postgres", "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    subprocess.run(
        [*as_postgres, postgres_bin("initdb"), "-D", str(datadir / "data"), "-U", "postgres",
         "--auth=trust", "--no-sync"],
        check=True, capture_output=True,
    )  # fmt: skip
    pg_ctl = [*as_postgres, postgres_bin("pg_ctl"), "-D", str(datadir / "data")]
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {datadir} -c fsync=off"
    subprocess.run(
        [*pg_ctl, "-o", options, "-l", str(datadir / "log"), "-w", "start"],
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run([*pg_ctl, "-m", "immediate", "stop"], check=False, capture_output=True)
        shutil.rmtree(datadir, ignore_errors=True)


@pytest.fixture(scope="session")
def new_database(postgres: str) -> Callable[[], str]:
    """Creates an empty database on the test server and returns its URL."""
    port = postgres.rsplit(":", 1)[1]
    created = iter(range(1_000_000))

    def create() -> str:
        name = f"test_{next(created)}"
        subprocess.run(
            [postgres_bin("createdb"), "-h", "127.0.0.1", "-p", port, "-U", "postgres", name],
            check=True, capture_output=True,
        )  # fmt: skip
        return f"{postgres}/{name}"

    return create


@pytest.fixture(scope="session")
def locked_project(cookies_session: Any) -> Callable[[str], Path]:
    """Bakes a FULL_RUNS combination with real locking, once per session (a pip lock takes
    minutes); callers must not modify the project (copy it first)."""
    baked: dict[str, Path] = {}

    def bake(key: str) -> Path:
        if key not in baked:
            context = FULL_RUNS[key]
            with pytest.MonkeyPatch.context() as env:
                # The post-gen hook's `make lock` inherits this process's environment.
                for name, value in project_env(context["python_version"]).items():
                    env.setenv(name, value)
                with machine_share():  # locking a pip project keeps a core busy for minutes
                    result = cookies_session.bake(extra_context=context)
            assert result.exception is None, result.exception
            baked[key] = Path(result.project_path)
        return baked[key]

    return bake
