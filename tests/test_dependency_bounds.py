"""The dependency ranges a generated project declares are true at both ends.

The newest end is the session's own lock: a bake locks every dependency at its newest release
today (what a Dependabot update or `uv lock --upgrade` would take it to), and
test_generated_projects.py runs lint, type check and tests on it, on PostgreSQL too. The other
end is here: `uv lock --resolution lowest-direct` takes every dependency pyproject.toml names to
the floor it declares (theirs to the newest that fits), and the project installs there
(`make install`: a wheel for its Python, or a build that works) and `make check` passes on
PostgreSQL. Nothing here lists packages: the floors are whatever pyproject.toml declares today,
and a failure names the dependencies whose versions moved from the normal lock, so the floor to
raise is in the message.

For the default combination and the worker's, each on a copy of the session's locked bake (the
same xdist group as test_generated_projects.py: baked once per test worker).
"""

import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.baking import copy_project
from harness.commands import run
from harness.options import FULL_RUNS, WORKER_KEY
from harness.pythons import project_command
from tests.params import full_run_params

DEFAULT_KEY = next(iter(FULL_RUNS))
# uv's resolution strategy (UV_RESOLUTION) for every direct dependency at its declared floor.
RESOLUTION = "lowest-direct"


def locked_versions(lock_file: Path) -> dict[str, str]:
    """Each package of a uv.lock and its version (versions, where the lock forks)."""
    versions: dict[str, set[str]] = {}
    for package in tomllib.loads(lock_file.read_text()).get("package", []):
        if "version" in package:
            versions.setdefault(package["name"], set()).add(package["version"])
    return {name: ", ".join(sorted(found)) for name, found in versions.items()}


def moved(normal: dict[str, str], resolved: dict[str, str]) -> list[str]:
    """One line per package whose version differs between the normal lock and this one."""
    return [
        f"{name}: {normal.get(name, '-')} -> {resolved.get(name, '-')}"
        for name in sorted(normal.keys() | resolved.keys())
        if normal.get(name) != resolved.get(name)
    ]


@pytest.fixture(params=[p for p in full_run_params() if p.values[0] in (DEFAULT_KEY, WORKER_KEY)])
def project_copy(
    request: pytest.FixtureRequest, locked_project: Callable[[str], Path], tmp_path: Path
) -> tuple[Path, Path, str]:
    """A copy of the session's locked bake: (the bake, its copy, its Python version)."""
    key = request.param
    locked = locked_project(key)
    copy = copy_project(locked, tmp_path / locked.name)
    return locked, copy, FULL_RUNS[key]["python_version"]


def test_make_check_passes_with_every_direct_dependency_at_its_declared_floor(
    project_copy: tuple[Path, Path, str], new_database: Callable[[], str]
) -> None:
    locked, project, version = project_copy
    # `uv sync --locked` (make install) re-resolves with the same strategy, or refuses the lock.
    env = {"UV_RESOLUTION": RESOLUTION, "TEST_DATABASE_URL": new_database()}

    def in_project(argv: list[str], timeout: float) -> tuple[int, str]:
        command, command_env = project_command(version, argv, project, env)
        result = run(command, cwd=project, env=command_env, timeout=timeout, check=False)
        return result.returncode, f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"

    code, output = in_project(["uv", "lock", "--upgrade"], timeout=300)
    assert code == 0, f"uv lock ({RESOLUTION}) found no resolution:\n{output}"
    # About 3 minutes on CI, over 10 on a machine six times oversubscribed. A stalled generated
    # test fails on its own (its pytest's timeout, 5 minutes); past this, the run is killed and
    # the failure shows the end of its output.
    code, output = in_project(["make", "install", "check"], timeout=900)
    if code != 0:
        changes = moved(locked_versions(locked / "uv.lock"), locked_versions(project / "uv.lock"))
        pytest.fail(
            "make install check fails with every direct dependency at its declared floor; "
            "what moved from the normal lock (normal -> floor):\n  "
            + ("\n  ".join(changes) or "nothing: the normal lock fails as well")
            + f"\n--- output ---\n{output}",
            pytrace=False,
        )
