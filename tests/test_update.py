"""Keeping generated services in step with the template: cruft update, scripts/fleet and
`make template-check`.

A git copy of this checkout is tagged v0.1.0, then v0.2.0 after one change: a comment appended
to the generated Makefile. Projects are baked from it at either tag through a file:// URL, as
from a hosted template, and committed; some then get local edits of their own.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cookiecutter.main import cookiecutter

from harness.commands import TEMPLATE, run, tool

FLEET = TEMPLATE / "scripts" / "fleet"
TEMPLATE_CHANGE = "# A fix made in the template for v0.2.0\n"
LOCAL_CHANGE = "# A service's own edit of the same place\n"
README_NOTE = "\nNotes this service added to its README.\n"

# Commits in the temporary repositories, whatever the user's git configuration says.
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Template Tests",
    "GIT_AUTHOR_EMAIL": "tests@example.com",
    "GIT_COMMITTER_NAME": "Template Tests",
    "GIT_COMMITTER_EMAIL": "tests@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}

Bake = Callable[..., Path]


@dataclass
class Template:
    url: str
    commits: dict[str, str]  # tag -> commit


def git(repo: Path, *args: str) -> str:
    return run(["git", *args], cwd=repo, env=GIT_ENV).stdout


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--message", message)


def start_repo(project: Path) -> None:
    git(project, "init", "--quiet", "--initial-branch=main")
    commit_all(project, "Generate from the template")


def append(project: Path, name: str, addition: str) -> None:
    with (project / name).open("a") as file:
        file.write(addition)


def files(project: Path) -> dict[str, bytes]:
    """Every file outside .git with its content: compare before and after to prove nothing moved."""
    return {
        str(path.relative_to(project)): path.read_bytes()
        for path in sorted(project.rglob("*"))
        if path.is_file() and ".git" not in path.relative_to(project).parts
    }


@pytest.fixture(scope="module")
def tools_env() -> dict[str, str]:
    """git identity, plus cruft and uv (installed beside the tests' Python) on PATH."""
    bin_dir = Path(tool("cruft")).parent
    return {**GIT_ENV, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """This checkout's files (committed or not, less ignored ones), tagged v0.1.0 and v0.2.0."""
    # Named *.git: cookiecutter takes a URL for a git repository only if it says "git".
    repo = tmp_path_factory.mktemp("templates") / "service-template.git"
    listed = git(TEMPLATE, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    for name in filter(None, listed.split("\0")):
        source = TEMPLATE / name
        if source.is_file():  # not deleted in the working tree
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / name, follow_symlinks=False)
    git(repo, "init", "--quiet", "--initial-branch=main")
    commit_all(repo, "Template 0.1.0")
    git(repo, "tag", "v0.1.0")
    makefile = repo / "{{cookiecutter.__project_dir}}" / "Makefile"
    makefile.write_text(makefile.read_text().rstrip("\n") + "\n" + TEMPLATE_CHANGE)
    commit_all(repo, "Template 0.2.0")
    git(repo, "tag", "v0.2.0")
    commits = {tag: git(repo, "rev-parse", tag).strip() for tag in ("v0.1.0", "v0.2.0")}
    return Template(url=repo.as_uri(), commits=commits)


@pytest.fixture(scope="module")
def bake_at(template: Template, tmp_path_factory: pytest.TempPathFactory) -> Bake:
    """bake_at(tag, name, parent): a project generated at that tag, committed in a repo of its own
    unless commit=False."""
    config_dir = tmp_path_factory.mktemp("cookiecutter-config")
    config = config_dir / "config.yaml"  # keeps cookiecutter's clones out of the home directory
    config.write_text(f"cookiecutters_dir: {config_dir}/clones\nreplay_dir: {config_dir}/replay\n")

    def bake(tag: str, name: str, parent: Path, commit: bool = True, **context: Any) -> Path:
        project = Path(
            cookiecutter(
                template.url,
                checkout=tag,
                no_input=True,
                output_dir=str(parent),
                config_file=str(config),
                extra_context={"_lock": False, "project_name": name, **context},
            )
        )
        if commit:
            start_repo(project)
        return project

    return bake


def edit_and_commit(project: Path, name: str, addition: str) -> None:
    append(project, name, addition)
    commit_all(project, f"Edit {name}")


def fleet(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, str(FLEET), *args], cwd=cwd, env=env, check=False)


def fleet_json(env: dict[str, str], cwd: Path, *args: str) -> tuple[int, dict[str, dict[str, str]]]:
    """Exit status and the rows by service of `scripts/fleet --json ARGS`."""
    result = fleet(env, cwd, "--json", *args)
    try:
        rows = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"fleet printed no JSON:\n{result.stdout}\n{result.stderr}", pytrace=False)
    return result.returncode, {row["service"]: row for row in rows}


def test_update_brings_in_the_template_change_and_keeps_local_edits(
    bake_at: Bake, template: Template, tools_env: dict[str, str], tmp_path: Path
) -> None:
    project = bake_at("v0.1.0", "svc", tmp_path)
    state = json.loads((project / ".cruft.json").read_text())
    assert (state["template"], state["commit"]) == (
        template.url,
        template.commits["v0.1.0"],
    )
    edit_and_commit(project, "README.md", README_NOTE)

    run([tool("cruft"), "update", "--skip-apply-ask"], cwd=project, env=tools_env)

    assert (project / "Makefile").read_text().endswith(TEMPLATE_CHANGE)
    assert (project / "README.md").read_text().endswith(README_NOTE)
    assert json.loads((project / ".cruft.json").read_text())["commit"] == template.commits["v0.2.0"]
    changed = git(project, "status", "--porcelain", "--untracked-files=all").splitlines()
    assert sorted(line[3:] for line in changed) == [".cruft.json", "Makefile"]


def test_fleet_leaves_a_service_whose_edits_collide_exactly_as_it_was(
    bake_at: Bake, tools_env: dict[str, str], tmp_path: Path
) -> None:
    project = bake_at("v0.1.0", "svc", tmp_path)
    edit_and_commit(project, "Makefile", LOCAL_CHANGE)  # the same place as the template's change
    head, before = git(project, "rev-parse", "HEAD"), files(project)

    status, rows = fleet_json(tools_env, tmp_path, "--apply", "--test-command", "true", "svc")

    assert status == 1
    assert (rows["svc"]["result"], rows["svc"]["from"], rows["svc"]["to"]) == (
        "conflicts",
        "v0.1.0",
        "v0.2.0",
    )
    assert "Makefile" in rows["svc"]["note"]
    assert git(project, "status", "--porcelain", "--untracked-files=all") == ""
    assert git(project, "rev-parse", "HEAD") == head
    assert files(project) == before


def table_rows(output: str) -> dict[str, list[str]]:
    """The human table's rows by service: columns are separated by two spaces or more."""
    lines = output.split("\n\n")[0].splitlines()
    assert re.split(r"\s{2,}", lines[0]) == ["service", "from", "to", "result"]
    return {cells[0]: cells[1:] for cells in (re.split(r"\s{2,}", line) for line in lines[1:])}


def test_fleet_reports_then_updates_a_fleet_that_is_current_behind_and_conflicting(
    bake_at: Bake, template: Template, tools_env: dict[str, str], tmp_path: Path
) -> None:
    services = tmp_path / "services"
    bake_at("v0.2.0", "current", services)
    behind = bake_at("v0.1.0", "behind", services)
    edit_and_commit(behind, "README.md", README_NOTE)
    # Edited before its first commit: git lacks the template's original for a three-way merge,
    # so cruft falls back to leaving Makefile.rej (the other test covers conflict markers).
    conflicting = bake_at("v0.1.0", "conflicting", services, commit=False)
    append(conflicting, "Makefile", LOCAL_CHANGE)
    start_repo(conflicting)
    (services / "docs").mkdir()  # no .cruft.json: not a service
    conflicting_files = files(conflicting)

    status, report = fleet_json(tools_env, tmp_path, "--dir", str(services))

    assert status == 0
    assert {name: (row["from"], row["to"], row["result"]) for name, row in report.items()} == {
        "behind": ("v0.1.0", "v0.2.0", "behind"),
        "conflicting": ("v0.1.0", "v0.2.0", "behind"),
        "current": ("v0.2.0", "v0.2.0", "up to date"),
    }

    # The test command passes only where the update has brought the template's change in.
    test_command = f"grep -qF '{TEMPLATE_CHANGE.strip()}' Makefile"
    applied = fleet(
        tools_env,
        tmp_path,
        "--dir",
        str(services),
        "--apply",
        "--test-command",
        test_command,
    )

    assert applied.returncode == 1, applied.stdout + applied.stderr
    assert table_rows(applied.stdout) == {
        "behind": ["v0.1.0", "v0.2.0", "updated"],
        "conflicting": ["v0.1.0", "v0.2.0", "conflicts"],
        "current": ["v0.2.0", "v0.2.0", "up to date"],
    }
    assert "conflicting (conflicts): " in applied.stdout
    assert (behind / "README.md").read_text().endswith(README_NOTE)
    assert json.loads((behind / ".cruft.json").read_text())["commit"] == template.commits["v0.2.0"]
    assert git(conflicting, "status", "--porcelain", "--untracked-files=all") == ""
    assert files(conflicting) == conflicting_files


def test_fleet_reports_tests_failing_after_an_update_and_keeps_it_to_fix(
    bake_at: Bake, tools_env: dict[str, str], tmp_path: Path
) -> None:
    project = bake_at("v0.1.0", "svc", tmp_path)

    status, rows = fleet_json(
        tools_env,
        tmp_path,
        "svc",
        "--apply",
        "--test-command",
        "echo 2 tests failed >&2; exit 1",
    )

    assert status == 1
    assert rows["svc"]["result"] == "tests failing"
    assert "2 tests failed" in rows["svc"]["note"]
    assert (project / "Makefile").read_text().endswith(TEMPLATE_CHANGE)


def test_fleet_refuses_to_update_a_service_with_uncommitted_changes(
    bake_at: Bake, tools_env: dict[str, str], tmp_path: Path
) -> None:
    project = bake_at("v0.1.0", "svc", tmp_path)
    append(project, "README.md", README_NOTE)
    before = files(project)

    status, rows = fleet_json(tools_env, tmp_path, "svc", "--apply", "--test-command", "true")

    assert status == 1
    assert rows["svc"]["result"] == "refused"
    assert "uncommitted changes" in rows["svc"]["note"]
    assert files(project) == before


def test_make_template_check_says_whether_the_project_is_behind(
    bake_at: Bake, tools_env: dict[str, str], tmp_path: Path
) -> None:
    env = {
        **tools_env,
        "UV_PYTHON_DOWNLOADS": "never",
    }  # uvx runs cruft on any Python there is
    behind = bake_at("v0.1.0", "behind", tmp_path, package_manager="uv")
    current = bake_at("v0.2.0", "current", tmp_path, package_manager="uv")

    checked_behind = run(["make", "template-check"], cwd=behind, env=env, check=False)
    checked_current = run(["make", "template-check"], cwd=current, env=env, check=False)

    assert checked_behind.returncode != 0
    assert "out of date" in checked_behind.stdout + checked_behind.stderr
    assert checked_current.returncode == 0, checked_current.stdout + checked_current.stderr
    assert "up to date" in checked_current.stdout + checked_current.stderr
