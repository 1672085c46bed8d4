"""A service on an upgrade path, for tests/test_upgrade_paths.py: baked at an earlier release
(through a file:// URL, as from a hosted template), locked and committed, edited as a team would
(tests/team_edits.py) and committed, then updated to the working tree under test with the
template's updater (scripts/template-update); what the update left, and its mechanical
resolution (both sides of each conflict kept, ruff's fixes, `make check`).

pip services lock their baseline with `uv pip compile` (the same hash-pinned format, seconds
instead of the minutes the releases' pip-tools takes here): the lock the update writes is the
updated project's own `make lock`.
"""

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.commands import run, tool
from harness.pythons import project_env
from tests.team_edits import team_edits
from tests.template_repo import (
    GIT_ENV,
    RELEASES,
    TemplateRepo,
    commit_all,
    git,
    start_repo,
    status,
    update_command,
)


@dataclass(frozen=True)
class UpgradePath:
    release: str
    package_manager: str
    database: str
    layout: str
    python_version: str
    conflicts: frozenset[str]  # "{package}/app.py": the package's directory is substituted
    more_answers: str = ""  # "question=value ..."

    @property
    def id(self) -> str:
        return f"{self.release}-{self.package_manager}-{self.database}"

    @property
    def answers(self) -> dict[str, str]:
        options = ("package_manager", "database", "layout", "python_version")
        return {
            "project_name": "Billing",
            **{o: getattr(self, o) for o in options},
            **dict(pair.split("=") for pair in self.more_answers.split()),
        }


def package_dir(answers: dict[str, str], package: str) -> str:
    return f"src/{package}" if answers["layout"] == "src" else package


def lock(project: Path, answers: dict[str, str]) -> None:
    """uv: `make lock`. pip: `uv pip compile` into the same hash-pinned files (seconds; the
    releases' `make lock` runs pip-tools, minutes here; the update runs the new one)."""
    env = project_env(answers["python_version"])
    if answers["package_manager"] == "uv":
        run(["make", "lock"], cwd=project, env=env)
        return
    compile_ = f"{tool('uv')} pip compile --quiet --generate-hashes "
    compile_ += f"--python-version {answers['python_version']} pyproject.toml --output-file"
    run(f"{compile_} requirements.lock", cwd=project, env=env)
    run(f"{compile_} requirements-dev.lock --extra dev -c requirements.lock", cwd=project, env=env)


@dataclass
class Updated:
    path: UpgradePath
    project: Path
    package_dir: str
    edits: dict[str, str]  # file -> a line of the team's edit
    old_files: set[str]  # what the bake at the release had
    returncode: int = 0
    summary: dict[str, Any] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)  # edited and conflicted files, as left
    changed: list[str] = field(default_factory=list)  # git status after the update
    # Rendered hooks (cookiecutter's tmp*.py) the update left in the TMPDIR it was given.
    hook_copies: list[str] = field(default_factory=list)
    checked: bool = False


def tracked_and_new_files(project: Path) -> set[str]:
    listed = git(project, "ls-files", "--cached", "--others", "--exclude-standard")
    return {name for name in listed.splitlines() if (project / name).is_file()}


def update_path(path: UpgradePath, repo: TemplateRepo, workdir: Path) -> Updated:
    answers = path.answers
    project = repo.bake(RELEASES[path.release], workdir, **answers)
    package = answers.get("package_name", "billing")
    lock(project, answers)
    start_repo(project)
    updated = Updated(path, project, package_dir(answers, package), {}, set())
    updated.old_files = tracked_and_new_files(project)
    updated.edits = team_edits(project, updated.package_dir, path.database)
    commit_all(project, "The team's edits")

    temporary = workdir / "tmp"
    temporary.mkdir()
    env = {**project_env(answers["python_version"]), **GIT_ENV, "TMPDIR": str(temporary)}
    result = run(
        update_command("--ref", repo.head, "--json", "--no-input"),
        cwd=project,
        env=env,
        check=False,
        timeout=1200,
    )
    assert result.stdout.strip(), result.stderr[-4000:]
    updated.returncode, updated.summary = result.returncode, json.loads(result.stdout)
    updated.hook_copies = sorted(path.name for path in temporary.glob("tmp*.py"))
    updated.changed = status(project)
    for name in {*updated.edits, *updated.summary["conflicts"]}:
        updated.texts[name] = (project / name).read_text()
    return updated


MARKER_LINE = re.compile(r"^(?:<<<<<<< .*|=======|>>>>>>> .*)\n", re.MULTILINE)


def resolve_and_check(updated: Updated) -> None:
    """Both sides kept, ruff's fixes and format, then `make check` (the update ran it itself
    when nothing conflicted)."""
    if updated.checked:
        return
    project, answers = updated.project, updated.path.answers
    env = project_env(answers["python_version"])
    if updated.summary["conflicts"]:
        for name in updated.summary["conflicts"]:
            (project / name).write_text(MARKER_LINE.sub("", (project / name).read_text()))
        if "pyproject.toml" in updated.summary["conflicts"]:
            run(["make", "lock"], cwd=project, env=env, timeout=900)
        run(["make", "install"], cwd=project, env=env, timeout=900)
        run([".venv/bin/ruff", "check", "--fix", "--quiet", "."], cwd=project, check=False)
        run([".venv/bin/ruff", "format", "--quiet", "."], cwd=project)
        run(["make", "check"], cwd=project, env=env, timeout=900)
    updated.checked = True
