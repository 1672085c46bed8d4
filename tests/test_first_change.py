"""The generated README's "Your first change", followed as written, ends with `make check` green.

On a copy of the session's locked bake, after `make install` (the README's "Run it"), each step
of the walk-through in order (harness/walkthrough.py): its `sh` blocks run in the project, its
file blocks written or applied where they say. The migration the walk-through generates must
create the new table; its last step, `make check`, runs the migrations up, down and up, the
drift check, the new tests and schemathesis over the new routes. A failure names the step and
shows the end of its output.

Three combinations: the default (its tests on a throwaway PostgreSQL database), the worker's
(its tests on SQLite, as the README's commands run them) and one without a database (a route that
stores nothing). Each variant of the walk-through, without auth among them, is applied to a bake
and linted in the render tier (test_onboarding_docs.py).
"""

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.baking import copy_project
from harness.commands import run
from harness.options import FULL_RUNS, WORKER_KEY
from harness.pythons import project_command
from harness.walkthrough import Step, WalkthroughError, edit_file, steps
from tests.params import full_run_params

SECTION = "Your first change"
DEFAULT_KEY = next(iter(FULL_RUNS))
NO_DATABASE_KEY = next(key for key, c in FULL_RUNS.items() if c["database"] == "none")
KEYS = (DEFAULT_KEY, WORKER_KEY, NO_DATABASE_KEY)
# The table the walk-through adds, which its generated migration must create and drop.
TABLE = "notes"
OUTPUT_TAIL = 6000


@pytest.fixture(params=[p for p in full_run_params() if p.values[0] in KEYS])
def project(
    request: pytest.FixtureRequest, locked_project: Callable[[str], Path], tmp_path: Path
) -> tuple[str, Path]:
    """A copy of the session's locked bake of this combination: (its key, the copy)."""
    locked = locked_project(request.param)
    return request.param, copy_project(locked, tmp_path / locked.name)


def excerpt(output: str) -> str:
    """The end of a command's output; when it ran pytest, its failure reports first (they come
    before the coverage table and may be far from the end)."""
    failures = output.find("= FAILURES =")
    head = output[failures : failures + OUTPUT_TAIL] + "\n[...]\n" if failures >= 0 else ""
    return head + output[-OUTPUT_TAIL:]


def migration_files(project: Path) -> set[Path]:
    return set((project / "migrations" / "versions").glob("*.py"))


def check_generated_migration(step: Step, new: set[Path]) -> None:
    """The step that generated a migration made one, and it creates and drops the new table with
    nothing of the models imported (the README says what to read in it)."""
    names = ", ".join(sorted(path.name for path in new))
    assert len(new) == 1, f"step {step.title!r} generated {len(new)} migrations: {names}"
    text = new.pop().read_text()
    assert re.search(rf"op\.create_table\(\s*[\"']{TABLE}[\"']", text), (
        f"step {step.title!r}: the migration doesn't create the {TABLE} table:\n{text}"
    )
    assert re.search(rf"op\.drop_table\(\s*[\"']{TABLE}[\"']", text), (
        f"step {step.title!r}: the migration's downgrade doesn't drop {TABLE}:\n{text}"
    )
    assert ".models." not in text, (
        f"step {step.title!r}: the migration refers to the models' code (their types?):\n{text}"
    )


def test_following_the_first_change_walkthrough_ends_with_make_check_green(
    project: tuple[str, Path], new_database: Callable[[], str]
) -> None:
    key, path = project
    context = FULL_RUNS[key]
    env = {"TEST_DATABASE_URL": new_database()} if key == DEFAULT_KEY else {}

    def sh(step: str, script: str) -> None:
        command, command_env = project_command(
            context["python_version"], ["sh", "-ec", script], path, env
        )
        result = run(command, cwd=path, env=command_env, timeout=1800, check=False)
        if result.returncode != 0:
            commands = "".join(f"\n  {line}" for line in script.strip().splitlines())
            pytest.fail(
                f"step {step!r} failed in {key}, exit status {result.returncode}:{commands}"
                f"\n--- output ---\n{excerpt(result.stdout + result.stderr)}",
                pytrace=False,
            )

    walkthrough = steps((path / "README.md").read_text(), SECTION)
    sh("make install (Run it)", "make install")
    shipped = migration_files(path)
    generated = False
    for step in walkthrough:
        for block in step.blocks:
            if block.runs:
                sh(step.title, block.content)
            elif "path" in block.options:
                try:
                    edit_file(path, block)
                except WalkthroughError as error:
                    pytest.fail(f"step {step.title!r} in {key}: {error}", pytrace=False)
        if not generated and (new := migration_files(path) - shipped):
            check_generated_migration(step, new)
            generated = True
    assert generated == (context["database"] != "none"), f"a migration generated: {generated}"
    assert "make check" in walkthrough[-1].blocks[-1].content, "the last step is `make check`"
