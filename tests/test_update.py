"""The template updater (scripts/template-update), its make targets and scripts/fleet, on
services baked from a git copy of this checkout (its history, the working tree on top).

To exercise what a release can do to a service, a release 0.9.0 is made on top of the working
tree (MOVED_TEMPLATE): it renames a module (with a migration step rewriting the imports of it),
deletes a script, adds a binary file, a question and an executable bit, and raises a dependency.
The services are uv ones on Python 3.11 and skip `make install check` (test_upgrade_paths.py
runs it): these tests are about what the update does to the files and what it says.
"""

import json
import os
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from harness.commands import TEMPLATE, run
from harness.pythons import project_env
from tests.template_repo import (
    FLEET,
    GIT_ENV,
    RELEASES,
    TemplateRepo,
    commit_all,
    git,
    start_repo,
    status,
    update_command,
    working_tree_repo,
)

PROJECT = "{{cookiecutter.__project_dir}}"
PACKAGE = f"{PROJECT}/src/{{{{cookiecutter.package_name}}}}"
NEWEST = list(RELEASES)[-1]  # what a bake at the working tree is a few commits after
NEW_QUESTION = ("tracing_backend", ["otlp", "none"])
LOGO = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(range(256))
STEP = 'from rename_modules import rename_modules\n\nrename_modules({"web.health": "web.probes"})\n'
CHANGELOG_0_9_0 = """## [0.9.0] - 2026-12-01

### Changed

- `web/health.py` is `web/probes.py`.

### Updating

- Imports of `health` are rewritten by the update (updates/0.9.0.py).
"""
ORDERS = "from {package}.web import health\nfrom {package}.web.health import router\n"
ENV = {**GIT_ENV, **project_env("3.11")}
# What the summary says on auth=none, taken by services from before the question.
AUTH_NOTE = tomllib.loads((TEMPLATE / "updates" / "questions.toml").read_text())["auth"]["note"]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> TemplateRepo:
    return working_tree_repo(tmp_path_factory.mktemp("template"))


@pytest.fixture(scope="module")
def release_0_9_0(template_repo: TemplateRepo) -> str:
    """Commits release 0.9.0 on top of the working tree, records it; returns its commit."""
    repo = template_repo.path
    git(repo, "mv", f"{PACKAGE}/web/health.py", f"{PACKAGE}/web/probes.py")
    app = repo / PACKAGE / "app.py"
    app.write_text(re.sub(r"\bhealth\b", "probes", app.read_text()))
    git(repo, "rm", "--quiet", f"{PROJECT}/scripts/docker_smoke.py")
    (repo / PROJECT / "docs").mkdir()
    (repo / PROJECT / "docs" / "logo.png").write_bytes(LOGO)
    (repo / PROJECT / "scripts" / "check_dist.py").chmod(0o755)
    edit(repo / PROJECT / "pyproject.toml", '"fastapi>=0.164"', '"fastapi>=0.165"')
    questions = [*json.loads((repo / "cookiecutter.json").read_text()).items()]
    private = [key for key, _ in questions].index("_lock")  # the questions come before
    questions = dict([*questions[:private], NEW_QUESTION, *questions[private:]])
    (repo / "cookiecutter.json").write_text(json.dumps(questions, indent=2) + "\n")
    (repo / "updates" / "0.9.0.py").write_text(STEP)
    edit(repo / "CHANGELOG.md", "## [Unreleased]\n", f"## [Unreleased]\n\n{CHANGELOG_0_9_0}")
    commit_all(repo, "Release 0.9.0")
    commit = git(repo, "rev-parse", "HEAD").strip()
    with (repo / "releases.toml").open("a") as releases:
        releases.write(f'"0.9.0" = "{commit}"\n')
    commit_all(repo, "Record release 0.9.0")
    return commit


def bake(repo: TemplateRepo, commit: str, parent: Path, name: str, **answers: Any) -> Path:
    """A uv service on Python 3.11, baked at `commit`, locked and committed."""
    answers = {"project_name": name, "python_version": "3.11", "package_manager": "uv", **answers}
    project = repo.bake(commit, parent, **answers)
    run(["make", "lock"], cwd=project, env=ENV)
    start_repo(project)
    return project


def update(project: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = run(
        update_command("--json", "--no-input", "--no-check", *args),
        cwd=project,
        env=ENV,
        check=False,
    )
    assert result.stdout.strip(), result.stderr[-3000:]
    return result.returncode, json.loads(result.stdout)


def files(project: Path) -> dict[str, bytes]:
    """Every file outside .git with its content: compare before and after to prove nothing moved."""
    return {
        str(path.relative_to(project)): path.read_bytes()
        for path in sorted(project.rglob("*"))
        if path.is_file() and ".git" not in path.relative_to(project).parts
    }


def test_a_service_baked_today_moves_onto_the_updater_with_an_empty_diff(
    template_repo: TemplateRepo, tmp_path: Path
) -> None:
    """No migration: .cruft.json is the record; updating to the commit it names changes
    nothing, because rendering that commit with its answers gives back the service as baked."""
    project = bake(template_repo, RELEASES["0.2.0"], tmp_path, "today", database="sqlite")
    code, summary = update(project, "--ref", "0.2.0")
    assert (code, summary["result"], summary["from"], summary["to"]) == (
        0,
        "up to date",
        "v0.2.0",
        "v0.2.0",
    )
    assert status(project) == []


@pytest.mark.parametrize("release", list(RELEASES))
def test_rendering_a_release_with_the_recorded_answers_gives_back_the_bake(
    template_repo: TemplateRepo, tmp_path: Path, release: str
) -> None:
    """What the three-way merge rests on: the updater's render of the service's commit is the
    service as cookiecutter baked it (all but .cruft.json), for each release."""
    answers = {"project_name": "Rendered", "layout": "flat", "database": "none", "ci": "github"}
    baked = template_repo.bake(RELEASES[release], tmp_path / "baked", **answers)
    script = f"""
import json, sys, tempfile
from pathlib import Path
sys.path.insert(0, {str(TEMPLATE / "scripts")!r})
from template_update.render import recorded_answers, render, rendered_context
from template_update.template import clone_template
record = json.loads(Path({str(baked / ".cruft.json")!r}).read_text())
work = Path(tempfile.mkdtemp())
template = clone_template(record["template"], work / "clone")
tree = template.checkout(record["commit"], work / "tree")
context = rendered_context(tree, recorded_answers(record), "old")
print(render(tree, context, record["template"], record["commit"], work / "render"))
"""
    rendered = Path(run([sys.executable, "-c", script], cwd=tmp_path).stdout.strip())
    assert {**files(rendered), ".cruft.json": b""} == {**files(baked), ".cruft.json": b""}


def test_an_update_moves_renames_deletes_adds_asks_and_runs_the_release_step(
    template_repo: TemplateRepo, release_0_9_0: str, tmp_path: Path
) -> None:
    project = bake(template_repo, template_repo.head, tmp_path, "moving")
    package = project / "src" / "moving"
    (package / "orders.py").write_text(ORDERS.format(package="moving"))
    edit(package / "web" / "health.py", '"""', '"""Changed by the team. ')
    edit(project / "scripts" / "docker_smoke.py", "import", "# the team's\nimport")
    commit_all(project, "The team's edits")

    code, summary = update(project, "--ref", "v0.9.0")

    assert (code, summary["result"], summary["to"]) == (1, "needs review", "v0.9.0")
    assert summary["review"] == {
        "scripts/docker_smoke.py": "the template deleted it; you changed it: delete it, or "
        "keep it as your own",
        "src/moving/web/health.py": "the template renamed it to src/moving/web/probes.py; you "
        "changed it: move your changes there, then delete it",
    }
    assert {"src/moving/web/probes.py", "docs/logo.png"} <= set(summary["added"])
    assert (project / "docs" / "logo.png").read_bytes() == LOGO
    assert os.access(project / "scripts" / "check_dist.py", os.X_OK)
    assert summary["conflicts"] == []
    assert summary["questions"] == [
        {"question": NEW_QUESTION[0], "value": NEW_QUESTION[1][0], "how": "default", "note": ""}
    ]
    (step,) = summary["migrations"]
    assert (step["step"], step["ok"]) == ("0.9.0", True)
    assert "src/moving/orders.py" in step["output"]
    assert (package / "orders.py").read_text() == ORDERS.format(package="moving").replace(
        "import health", "import probes as health"
    ).replace("moving.web.health", "moving.web.probes")
    assert 'name = "fastapi", specifier = ">=0.165"' in (project / "uv.lock").read_text()
    assert summary["lock"] == "regenerated from the merged pyproject.toml"

    record = json.loads((project / ".cruft.json").read_text())
    assert (record["commit"], record["checkout"]) == (release_0_9_0, "v0.9.0")
    assert record["context"]["cookiecutter"][NEW_QUESTION[0]] == NEW_QUESTION[1][0]
    assert summary["title"].startswith(f"template v{NEWEST}+")  # baked at the working tree
    assert summary["title"].endswith(" → v0.9.0")
    for words in (
        "## [0.9.0] - 2026-12-01",
        "updates/0.9.0.py",
        "- [ ] src/moving/web/health.py",
        f"{NEW_QUESTION[0]} = {NEW_QUESTION[1][0]}",
    ):
        assert words in summary["body"]


def test_another_answer_for_a_new_question_keeps_what_it_leaves_out(
    template_repo: TemplateRepo, tmp_path: Path
) -> None:
    project = bake(template_repo, RELEASES["0.1.0"], tmp_path, "answered", database="none")
    code, summary = update(project, "--ref", template_repo.head, "--answer", "kubernetes=no")
    assert (code, summary["result"]) == (0, "updated"), summary
    assert sorted(summary["questions"], key=lambda question: question["question"]) == [
        # Added since, too: auth takes what the template gives services from before it, its
        # note saying how to turn it on (the pull request quotes it); worker its default.
        {"question": "auth", "value": "none", "how": "earlier releases", "note": AUTH_NOTE},
        {"question": "kubernetes", "value": "no", "how": "--answer", "note": ""},
        {"question": "worker", "value": "no", "how": "default", "note": ""},
    ]
    earlier = "new question: the answer for services from earlier releases"
    assert f"- auth = none ({earlier}): {AUTH_NOTE}\n" in summary["body"]
    assert "--answer auth=oidc" in AUTH_NOTE
    assert not (project / "k8s").exists()
    assert not (project / "src" / "answered" / "auth").exists()
    assert not [line for line in status(project) if "k8s" in line]


@pytest.mark.parametrize(
    ("situation", "cause"),
    [
        ("not a git checkout", "is not a git checkout"),
        ("uncommitted changes", "uncommitted changes"),
        ("no .cruft.json", "no .cruft.json"),
        ("an unknown ref", "is neither a release of the template"),
        ("an older ref", "is older than the service's"),
    ],
)
def test_a_refused_update_says_why_and_touches_nothing(
    template_repo: TemplateRepo, tmp_path: Path, situation: str, cause: str
) -> None:
    project = template_repo.bake(template_repo.head, tmp_path, project_name="refused")
    ref = {"an unknown ref": "9.9.9", "an older ref": "0.2.0"}.get(situation, template_repo.head)
    if situation != "not a git checkout":
        start_repo(project)
    if situation == "uncommitted changes":
        (project / "README.md").write_text("edited\n")
    if situation == "no .cruft.json":
        (project / ".cruft.json").unlink()
        commit_all(project, "No record")
    before = files(project)

    code, summary = update(project, "--ref", ref)

    assert (code, summary["result"]) == (2, "refused")
    assert cause in summary["note"]
    assert files(project) == before


def test_make_targets_check_then_update_a_uv_service_and_check_a_pip_one(
    template_repo: TemplateRepo, release_0_9_0: str, tmp_path: Path
) -> None:
    """The make targets clone the template (.cruft.json's URL) and run its newest updater."""
    uv_service = bake(template_repo, template_repo.head, tmp_path, "uv-service")
    pip_service = template_repo.bake(
        template_repo.head,
        tmp_path,
        project_name="pip-service",
        package_manager="pip",
        python_version="3.11",
    )
    start_repo(pip_service)

    for service in (uv_service, pip_service):
        behind = run(["make", "template-check"], cwd=service, env=ENV, check=False)
        assert behind.returncode != 0
        assert re.search(r"→ v0\.9\.0: behind", behind.stdout), behind.stdout + behind.stderr

    updated = run(
        ["make", "template-update", "TEMPLATE_UPDATE_FLAGS=--no-check"], cwd=uv_service, env=ENV
    )
    assert "→ v0.9.0: updated" in updated.stdout
    commit_all(uv_service, "Template 0.9.0")
    assert (
        "v0.9.0 → v0.9.0: up to date"
        in run(["make", "template-check"], cwd=uv_service, env=ENV).stdout
    )


def fleet(cwd: Path, *args: str, check: bool = False) -> tuple[int, dict[str, dict[str, Any]]]:
    result = run([sys.executable, str(FLEET), "--json", *args], cwd=cwd, env=ENV, check=check)
    assert result.stdout.strip(), result.stderr[-3000:]
    return result.returncode, {row["service"]: row for row in json.loads(result.stdout)}


def test_fleet_reports_then_updates_each_service_and_says_what_needs_a_look(
    template_repo: TemplateRepo, release_0_9_0: str, tmp_path: Path
) -> None:
    services = tmp_path / "services"
    bake(template_repo, release_0_9_0, services, "current")
    bake(template_repo, RELEASES["0.1.0"], services, "early")
    clean = bake(template_repo, template_repo.head, services, "clean")
    conflicting = bake(template_repo, template_repo.head, services, "conflicting")
    edit(conflicting / "pyproject.toml", '"fastapi>=0.164"', '"fastapi>=0.166"')
    commit_all(conflicting, "Our own fastapi floor")
    dirty = bake(template_repo, template_repo.head, services, "dirty")
    (dirty / "README.md").write_text("work in progress\n")
    dirty_files = files(dirty)
    (services / "docs").mkdir()  # no .cruft.json: not a service

    code, report = fleet(tmp_path, "--dir", str(services))
    assert code == 0
    assert {name: row["result"] for name, row in report.items()} == {
        "clean": "behind",
        "conflicting": "behind",
        "current": "up to date",
        "dirty": "behind",
        "early": "behind",
    }

    code, rows = fleet(tmp_path, "--dir", str(services), "--apply", "--no-check")
    assert code == 1
    assert {
        name: (row["from"] == "v0.9.0", row["to"], row["result"]) for name, row in rows.items()
    } == {
        "clean": (False, "v0.9.0", "updated"),
        "conflicting": (False, "v0.9.0", "needs review"),
        "current": (True, "v0.9.0", "up to date"),
        "dirty": (False, "?", "refused"),  # refused before the template is read
        "early": (False, "v0.9.0", "updated"),
    }
    assert {"src/clean/web/health.py", "scripts/docker_smoke.py"} <= set(rows["clean"]["removed"])
    assert not (clean / "src" / "clean" / "web" / "health.py").exists()
    # The questions added since each service's release, answered without anyone: named, with
    # the answers taken (auth: the one for services from before it).
    assert rows["early"]["details"] == (
        "answered by default: kubernetes=yes, worker=no, auth=none, tracing_backend=otlp"
    )
    assert rows["conflicting"]["details"] == (
        "conflicts: pyproject.toml; answered by default: tracing_backend=otlp"
    )
    assert rows["conflicting"]["lock"].startswith("not regenerated: pyproject.toml has conflicts")
    assert "<<<<<<< conflicting\n" in (conflicting / "pyproject.toml").read_text()
    assert "uncommitted changes" in rows["dirty"]["details"]
    assert files(dirty) == dirty_files

    table = run([sys.executable, str(FLEET), str(dirty)], cwd=tmp_path, env=ENV).stdout
    newest = re.escape(f"v{NEWEST}+")
    assert re.match(rf"service +from +to +result +details\ndirty +{newest}\d+ ", table)
