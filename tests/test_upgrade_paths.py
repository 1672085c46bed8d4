"""Upgrade paths: services generated from each earlier release, edited as a team would, updated
to the working tree under test with the template's updater (scripts/template-update).

Each path bakes a service at its release, locks and commits it, makes a team's edits and commits
them, then updates (tests/upgraded_service.py). Then: the team's edits survive; the lock matches
pyproject.toml; the questions added since are reported with their values; what the template
deleted or renamed is gone; the conflicts are exactly the path's row in PATHS, with git-style
markers; every other file is what a bake at the working tree writes; and after a mechanical
resolution (both sides kept, `ruff check --fix`, `ruff format`) `make check` passes and the image
builds and answers /readyz. One more service, without edits, goes through scripts/fleet end to
end.

A path's tests share one bake on one worker (xdist_group).
"""

import json
import re
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from harness.commands import TEMPLATE, run, tool
from harness.docker import (
    Image,
    engine,
    http,
    make_build,
    remove_image,
    run_once,
    run_options,
    wait_for_healthz,
)
from harness.pythons import project_env
from tests.team_edits import TEAM_FILES
from tests.template_repo import (
    FLEET,
    GIT_ENV,
    RELEASES,
    TemplateRepo,
    commit_all,
    git,
    start_repo,
    status,
    working_tree_repo,
)
from tests.upgraded_service import (
    Updated,
    UpgradePath,
    lock,
    resolve_and_check,
    tracked_and_new_files,
    update_path,
)

# The expectations, in ONE table: the files each path's update leaves in conflict, given the
# edits of tests/team_edits.py. What they rest on (update them when the template
# changes these files):
# - pyproject.toml, every path: the team's dependency goes after the last one (psycopg with
#   PostgreSQL, opentelemetry-instrumentation-fastapi without a database), whose floor the
#   working tree raised to the lowest release that installs and passes `make check`
#   (tests/test_dependency_bounds.py): the two changes touch, and conflict.
# - from 0.1.0: 0.2.0 rewrote app.py's `from <package> import ...` line, to which the team adds
#   `orders`, and the end of create_app, where the team includes its router beside the
#   template's new metrics router: app.py conflicts. The README line sits under the description
#   (0.2.0 changed the README further down) and `workers` two lines from the settings 0.2.0
#   added: both merge.
# - from 0.2.0: 0.3.0 moved the database's wiring out of app.py into <package>/database/, so
#   with a database app.py's import line and router block change again.
# - every path: 0.4.0 laid the package out by concern, so app.py's `from <package> import ...`
#   line, to which the team adds `orders`, is the template's change too: app.py conflicts. The
#   team's orders module imports modules 0.4.0 moved (and 0.3.0, from earlier releases): the
#   releases' migration steps rewrite them, and `make check` proves it.
# - settings.py, every path: the template changes its imports, far from the team's `workers`:
#   it merges (from 0.3.0 the update answers the new question auth with none, so no settings
#   of auth's join it).
BOTH = frozenset({"{package}/app.py", "pyproject.toml"})
# fmt: off
# Two paths from each release: one per package manager, one with a database and one without,
# each layout from the releases before 0.3.0 (the other pairings cost minutes and cross the
# same migration steps and merges).
PATHS = [
    #           release  manager  database      layout  python  conflicts  more answers
    UpgradePath("0.1.0", "uv",    "none",       "flat", "3.11", BOTH),
    UpgradePath("0.1.0", "pip",   "postgresql", "flat", "3.11", BOTH,      "package_name=backend"),
    UpgradePath("0.2.0", "uv",    "none",       "src",  "3.13", BOTH,      "kubernetes=no"),
    UpgradePath("0.2.0", "pip",   "postgresql", "src",  "3.13", BOTH),
    UpgradePath("0.3.0", "uv",    "postgresql", "src",  "3.13", BOTH),
    UpgradePath("0.3.0", "pip",   "none",       "flat", "3.11", BOTH),
]
# fmt: on

# ---- One service per path, updated once ----------------------------------------------------------


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> TemplateRepo:
    return working_tree_repo(tmp_path_factory.mktemp("template"))


UPDATED: dict[str, Updated] = {}


@pytest.fixture
def updated(
    request: pytest.FixtureRequest, template_repo: TemplateRepo, tmp_path_factory: Any
) -> Updated:
    path: UpgradePath = request.param
    if path.id not in UPDATED:
        UPDATED[path.id] = update_path(path, template_repo, tmp_path_factory.mktemp(path.id))
    return UPDATED[path.id]


# Each path's tests share its service (UPDATED), on one worker.
PER_PATH = pytest.mark.parametrize(
    "updated",
    [pytest.param(p, id=p.id, marks=pytest.mark.xdist_group(p.id)) for p in PATHS],
    indirect=True,
)


def expected(paths: frozenset[str] | list[str], package: str) -> set[str]:
    return {name.replace("{package}", package) for name in paths}


def new_questions(release: str) -> dict[str, tuple[Any, str]]:
    """The questions the working tree asks that the release didn't, each with the answer an
    update without a terminal takes, and how: what updates/questions.toml gives services from
    earlier releases, or else the question's default."""
    old = json.loads(git(TEMPLATE, "show", f"{RELEASES[release]}:cookiecutter.json"))
    new = json.loads((TEMPLATE / "cookiecutter.json").read_text())
    earlier = tomllib.loads((TEMPLATE / "updates" / "questions.toml").read_text())
    return {
        key: (earlier[key]["answer"], "earlier releases")
        if key in earlier
        else (value[0] if isinstance(value, list) else value, "default")
        for key, value in new.items()
        if not key.startswith("_") and key not in old
    }


# ---- What the update did ----------------------------------------------------------------------


@PER_PATH
def test_the_update_keeps_the_teams_edits_and_reports_exactly_the_expected_conflicts(
    updated: Updated,
) -> None:
    summary, package = updated.summary, updated.package_dir
    conflicts = expected(updated.path.conflicts, package)
    said = f"{summary['result']}; check: {summary['check']}; review: {summary['review']}"
    assert set(summary["conflicts"]) == conflicts, said
    assert updated.returncode == (1 if conflicts else 0), said
    assert summary["result"] == ("needs review" if conflicts else "updated")
    assert summary["review"] == {}
    for name in conflicts:
        text = updated.texts[name]
        assert f"<<<<<<< {updated.project.name}\n" in text
        assert "\n=======\n" in text
        assert re.search(r"^>>>>>>> template v\d", text, re.MULTILINE)
    assert not [line for line in updated.changed if line.endswith((".rej", ".orig"))]
    for name, line in updated.edits.items():
        assert line in updated.texts[name], f"the team's edit of {name} is lost"
    for name in expected(TEAM_FILES, package):
        assert f"?? {name}" not in updated.changed and (updated.project / name).is_file()
    assert summary["check"] == ("not run: conflicts to resolve first" if conflicts else "passed")


@PER_PATH
def test_new_questions_are_reported_with_their_values_and_recorded(updated: Updated) -> None:
    questions = updated.summary["questions"]
    assert {q["question"]: (q["value"], q["how"]) for q in questions} == new_questions(
        updated.path.release
    )
    # A service from before authentication keeps serving its clients without tokens; the pull
    # request says so, and how to turn it on.
    assert ("auth", "none") in [(q["question"], q["value"]) for q in questions]
    assert "auth = none" in updated.summary["body"]
    assert "--answer auth=oidc" in updated.summary["body"]
    asked = {q["question"]: q["value"] for q in questions}
    recorded = json.loads((updated.project / ".cruft.json").read_text())
    assert recorded["commit"] == updated.summary["to_commit"]
    assert recorded["context"]["cookiecutter"].items() >= asked.items()
    assert (updated.project / "k8s").is_dir() == (updated.path.answers.get("kubernetes") != "no")


@PER_PATH
def test_the_update_leaves_no_rendered_hook_in_the_temporary_directory(updated: Updated) -> None:
    """cookiecutter writes each hook it runs to the temporary directory and never deletes it,
    and the hooks of the release the service was baked with don't delete themselves: the
    updater renders with a temporary directory of its own, removed with its work."""
    assert updated.hook_copies == []


@PER_PATH
def test_the_lock_is_regenerated_from_the_merged_pyproject(updated: Updated) -> None:
    """By the update; or, where pyproject.toml conflicts, by `make lock` once it is resolved
    (the update says so)."""
    if "pyproject.toml" in updated.summary["conflicts"]:
        assert updated.summary["lock"] == (
            "not regenerated: pyproject.toml has conflicts; resolve them, then `make lock`"
        )
        resolve_and_check(updated)
    else:
        assert updated.summary["lock"] == "regenerated from the merged pyproject.toml"
    project, answers = updated.project, updated.path.answers
    if answers["package_manager"] == "uv":
        env = project_env(answers["python_version"])
        run([tool("uv"), "lock", "--check"], cwd=project, env=env)
        return
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    locks = {
        "requirements.lock": pyproject["dependencies"],
        "requirements-dev.lock": pyproject["optional-dependencies"]["dev"],
    }
    for lock_file, requirements in locks.items():
        pins = re.findall(r"^([\w.-]+)==", (project / lock_file).read_text(), re.MULTILINE)
        names = {re.split(r"[\s\[<>=;~!]", r, maxsplit=1)[0] for r in requirements}
        missing = {normalized(n) for n in names} - {normalized(p) for p in pins}
        assert not missing, f"{lock_file} pins no {missing}"
    assert "httpx==" in (project / "requirements.lock").read_text()


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@PER_PATH
def test_every_other_file_is_what_a_bake_at_the_working_tree_writes(
    updated: Updated, template_repo: TemplateRepo, tmp_path: Path
) -> None:
    """Files the template deleted or renamed are gone; those it added are there; the rest,
    where the team left them alone, are the new template's, byte for byte."""
    # With the answers the update took for the questions added since (auth=none among them).
    taken = {question["question"]: question["value"] for question in updated.summary["questions"]}
    fresh = template_repo.bake(template_repo.head, tmp_path, **(updated.path.answers | taken))
    package = updated.package_dir
    fresh_files = tracked_and_new_files_of(fresh)
    now = tracked_and_new_files(updated.project)
    team = expected(TEAM_FILES, package)
    locks = {"uv.lock", "requirements.lock", "requirements-dev.lock"}
    assert now - locks == fresh_files | team, "files differ from a fresh bake plus the team's own"
    assert not (updated.old_files - fresh_files - locks) & now, "deleted or renamed files left"
    for name in fresh_files - set(updated.edits) - set(updated.summary["conflicts"]):
        assert (updated.project / name).read_bytes() == (fresh / name).read_bytes(), name


def tracked_and_new_files_of(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file()}


# ---- Resolved, checked, built -----------------------------------------------------------------


@PER_PATH
def test_after_a_mechanical_resolution_make_check_passes(updated: Updated) -> None:
    resolve_and_check(updated)
    for name, line in updated.edits.items():
        assert line in (updated.project / name).read_text()


@pytest.mark.docker
@PER_PATH
def test_the_updated_service_builds_and_its_image_answers_readyz(
    updated: Updated, docker_engine: str, new_database: Callable[[], str], start: Any
) -> None:
    resolve_and_check(updated)
    tag = f"template-test-{TEMPLATE.name}-upgrade-{updated.path.id}:latest"
    make_build(updated.project, tag, updated.path.answers["python_version"])
    built = engine().images.get(tag).id
    try:
        image = Image(tag, updated.path.id, updated.project)
        postgresql = updated.path.answers["database"] == "postgresql"
        options = run_options(new_database() if postgresql else None)
        if postgresql:
            migrated = run_once(image, updated.project.name, "migrate", **options)
            assert migrated.returncode == 0, migrated.stderr
        container = start(image, environment=options["environment"])
        assert wait_for_healthz(container) is not None, container.logs()
        # Its clients call it as before, without tokens (auth=none).
        assert http(container, "GET", "/readyz") == (200, {"status": "ready"})
        assert http(container, "GET", "/orders") == (200, [])
        if postgresql:
            assert http(container, "GET", "/items")[0] == 200
    finally:
        remove_image(tag)
    # Removed while its container still ran, the image would only lose its tag and stay behind.
    with pytest.raises(docker.errors.ImageNotFound):
        engine().images.get(built)


# ---- A clean service through scripts/fleet ----------------------------------------------------


@pytest.mark.xdist_group("fleet-clean")
def test_fleet_updates_a_clean_service_then_finds_it_up_to_date(
    template_repo: TemplateRepo, tmp_path: Path
) -> None:
    answers = {
        "project_name": "Clean",
        "package_manager": "uv",
        "database": "postgresql",
        "layout": "src",
        "python_version": "3.11",
    }
    services = tmp_path / "services"
    project = template_repo.bake(RELEASES["0.1.0"], services, **answers)
    lock(project, answers)
    start_repo(project)
    env = {**project_env("3.11"), **GIT_ENV}
    fleet = [sys.executable, str(FLEET), "--dir", str(services), "--json"]

    applied = run(
        [*fleet, "--apply", "--ref", template_repo.head],
        cwd=tmp_path,
        env=env,
        check=False,
        timeout=900,
    )
    (row,) = json.loads(applied.stdout)
    assert (row["service"], row["from"], row["result"]) == ("clean", "v0.1.0", "updated"), row
    assert applied.returncode == 0, applied.stderr[-3000:]
    commit_all(project, "Template update")

    again = run([*fleet, "--apply", "--ref", template_repo.head], cwd=tmp_path, env=env)
    assert json.loads(again.stdout)[0]["result"] == "up to date"
    assert status(project) == []
    # The service now has the make targets: the newest release (0.2.0) is behind it.
    checked = run(["make", "template-check"], cwd=project, env=env)
    assert "up to date" in checked.stdout
