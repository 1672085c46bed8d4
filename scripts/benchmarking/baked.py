"""Baking the project a benchmark measures: locked, and a git checkout as a service's is."""

import sys
from pathlib import Path

from harness.baking import bake
from harness.commands import TEMPLATE, run

GIT = ["git", "-c", "user.name=benchmark", "-c", "user.email=benchmark@localhost"]


def bake_locked(
    out: Path,
    python_version: str,
    package_manager: str = "uv",
    template: Path = TEMPLATE,
    **answers: str,
) -> Path:
    """Bakes with locking on (the post-gen hook locks with project_env's variables, which the
    caller puts in os.environ) and commits the result: `make docker-build` labels the image with
    `git rev-parse HEAD`, which inside another repository without commits (a stray /tmp/.git)
    prints `HEAD` and breaks the build command."""
    project = bake(
        out,
        template,
        package_manager=package_manager,
        python_version=python_version,
        _lock=True,
        **answers,
    )
    lock = project / ("uv.lock" if package_manager == "uv" else "requirements.lock")
    if not lock.exists():
        sys.exit(f"{lock.name} is missing: baking could not lock (is the index reachable?)")
    run(["git", "init", "--quiet", "--initial-branch=main"], cwd=project)
    run(["git", "add", "--all"], cwd=project)
    run([*GIT, "commit", "--quiet", "--message", "baked by scripts/benchmark"], cwd=project)
    return project
