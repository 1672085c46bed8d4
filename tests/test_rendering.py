"""Rendering: every combination of the options bakes into a clean, lint-free, complete project.

Cheap checks on the full cross product; the expensive ones (installing, running) are in
test_generated_projects.py on a chosen few.
"""

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from cookiecutter.generate import generate_context
from cookiecutter.prompt import prompt_for_config
from cookiecutter.utils import create_env_with_context

from harness.baking import bake, text_files
from harness.commands import TEMPLATE, run, tool
from harness.options import (
    PYPROJECT_BACKENDS,
    all_combinations,
    choices,
    combination_id,
    numbered_ids,
)

# Every file-level interaction of the options, not their cross product (480 with the worker).
# A Python version never decides a condition, it only fills in values (requires-python, ruff's
# and mypy's targets): what it meets is the Python code each answer brings. So: at the default
# Python, every layout x package manager x database x auth x ci x Kubernetes (96); each other
# Python with each database x auth (24); the worker (it needs PostgreSQL) with every Python x
# layout x package manager (20), once without Kubernetes (1), and without auth on every Python
# (5): 146, counted in the test ids.
DEFAULT_PYTHON, *OTHER_PYTHONS = choices("python_version")
COMBINATIONS = (
    all_combinations(python_version=DEFAULT_PYTHON)
    + [
        combination
        for python in OTHER_PYTHONS
        for combination in all_combinations(
            python_version=python, layout="src", package_manager="uv", ci="github", kubernetes="yes"
        )
    ]
    + all_combinations(kubernetes="yes", worker="yes", auth="oidc", ci="github")
    + all_combinations(
        kubernetes="no",
        worker="yes",
        auth="oidc",
        ci="github",
        python_version=DEFAULT_PYTHON,
        layout="src",
        package_manager="uv",
    )
    + all_combinations(
        kubernetes="yes", worker="yes", auth="none", ci="github", layout="src", package_manager="uv"
    )
)
LEFTOVER_JINJA = re.compile(r"{{|}}|{%|%}|{#|cookiecutter\.")
# Not Jinja: GitHub Actions expressions and docker/metadata-action's tag patterns.
OTHER_TEMPLATE_LANGUAGES = re.compile(r"\$\{\{.*?\}\}|\{\{(?:version|major|minor|patch)\}\}")


def expected_paths(context: dict[str, str], package: str) -> dict[str, bool]:
    """Which paths must exist (True) or must not (False) for these answers."""
    package_dir = f"src/{package}" if context["layout"] == "src" else package
    has_db = context["database"] != "none"
    has_k8s = context["kubernetes"] == "yes"
    has_worker = context.get("worker", "no") == "yes"
    has_auth = context.get("auth", "oidc") == "oidc"
    return {
        f"{package_dir}/__init__.py": True,
        f"{package_dir}/app.py": True,
        f"{package_dir}/web/swagger_ui.py": True,
        f"{package_dir}/api/__init__.py": True,
        f"{package_dir}/access.py": True,
        f"{package_dir}/access.oidc.py": False,
        f"{package_dir}/access.none.py": False,
        f"{package_dir}/observability/logs.py": True,
        f"{package_dir}/swagger_ui.py": False,
        f"{package_dir}/logs.py": False,
        "src": context["layout"] == "src",
        "alembic.ini": has_db,
        "migrations/env.py": has_db,
        "migrations/versions": has_db,
        f"{package_dir}/database/__init__.py": has_db,
        f"{package_dir}/database/engines.py": has_db,
        f"{package_dir}/database/migrations.py": has_db,
        f"{package_dir}/database/settings.py": has_db,
        f"{package_dir}/database/models.py": has_db,
        f"{package_dir}/api/items.py": has_db,
        "tests/database_fixtures.py": has_db,
        "tests/test_database.py": has_db,
        "tests/test_items.py": has_db,
        "tests/test_migrations.py": has_db,
        "tests/test_postgresql.py": context["database"] == "postgresql",
        ".devcontainer/devcontainer.json": True,
        ".devcontainer/postgresql.yaml": context["database"] == "postgresql",
        "mk/database.mk": has_db,
        "mk/uv.mk": context["package_manager"] == "uv",
        "mk/pip.mk": context["package_manager"] == "pip",
        "mk/github.mk": context["ci"] == "github",
        "mk/kubernetes.mk": has_k8s,
        ".github/workflows/ci.yml": context["ci"] == "github",
        ".github/workflows/kubernetes.yml": context["ci"] == "github" and has_k8s,
        ".github/actions/setup-project/action.yml": context["ci"] == "github",
        ".github/workflows/template-update.yml": context["ci"] == "github",
        "mk/template.mk": True,
        "k8s/base/kustomization.yaml": has_k8s,
        "k8s/overlays/dev/kustomization.yaml": has_k8s,
        "k8s/overlays/production/kustomization.yaml": has_k8s,
        "k8s/components/autoscaled/hpa.yaml": has_k8s and context["database"] != "sqlite",
        "k8s/components/autoscaled/pdb.yaml": has_k8s and context["database"] != "sqlite",
        "k8s/components/sqlite/pvc.yaml": has_k8s and context["database"] == "sqlite",
        "k8s/components/postgresql": has_k8s and context["database"] == "postgresql",
        "k8s/components/migrate": has_k8s and has_db,
        "compose/build.yaml": not has_db,
        "compose/migrate.yaml": has_db,
        "compose/postgresql.yaml": context["database"] == "postgresql",
        "compose/sqlite.yaml": context["database"] == "sqlite",
        "compose/worker.yaml": has_worker,
        "compose/auth.yaml": has_auth,
        ".github": context["ci"] == "github",
        "LICENSE": True,
        "licenses": False,
        "README.md": True,
        "AGENTS.md": True,
        "CLAUDE.md": True,
        "Makefile": True,
        ".cruft.json": True,
        f"{package_dir}/jobs/worker.py": has_worker,
        f"{package_dir}/jobs/settings.py": has_worker,
        "migrations/versions/0002_job_queue.py": has_worker,
        "migrations/versions/0002_job_queue.sql": has_worker,
        "mk/worker.mk": has_worker,
        "tests/test_jobs.py": has_worker,
        "tests/test_job_queue.py": has_worker,
        "k8s/components/worker/worker-deployment.yaml": has_k8s and has_worker,
        "k8s/components/worker/worker-pdb.yaml": has_k8s and has_worker,
        "k8s/components/worker/worker-networkpolicy.yaml": has_k8s and has_worker,
        f"{package_dir}/auth/__init__.py": has_auth,
        f"{package_dir}/auth/settings.py": has_auth,
        "tests/auth_fixtures.py": has_auth,
        "tests/test_auth.py": has_auth,
        "tests/test_auth_keys.py": has_auth,
        "tests/test_auth_items.py": has_auth and has_db,
        "scripts/dev_issuer.py": has_auth,
        "mk/auth.mk": has_auth,
        "k8s/components/auth/kustomization.yaml": has_k8s and has_auth,
        "k8s/components": has_k8s,
    }


def check_pyproject(project: Path, context: dict[str, str], package: str) -> None:
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    meta = pyproject["project"]
    src_layout = context["layout"] == "src"
    dependencies = " ".join(meta["dependencies"])
    assert meta["name"] == project.name
    assert meta["requires-python"] == f">={context['python_version']}"
    assert meta["scripts"] == {project.name: f"{package}.cli:main"}
    assert ("psycopg[binary]" in dependencies) == (context["database"] == "postgresql")
    assert ("sqlalchemy" in dependencies) == (context["database"] != "none")
    assert ("procrastinate" in dependencies) == (context.get("worker") == "yes")
    assert (
        pyproject["build-system"]["build-backend"] == PYPROJECT_BACKENDS[context["package_manager"]]
    )
    if context["package_manager"] == "pip":
        # Discovery, not a list: every subpackage and data file of the package ships.
        setuptools = pyproject["tool"]["setuptools"]
        where = "src" if src_layout else "."
        assert setuptools["packages"]["find"] == {"where": [where], "include": [f"{package}*"]}
        assert setuptools["package-data"] == {"*": ["*"]}
        assert "dev" in meta["optional-dependencies"]
    else:
        assert "dev" in pyproject["dependency-groups"]
        backend = pyproject["tool"]["uv"]["build-backend"]
        assert backend == {"module-name": [package], "module-root": "src" if src_layout else ""}


# libyaml's safe loader where PyYAML has it (its wheels do): the same documents, in a tenth of the
# time of the pure-Python one (about 30 files a combination).
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@pytest.mark.parametrize("context", COMBINATIONS, ids=numbered_ids(COMBINATIONS))
def test_every_combination_bakes_clean_and_complete(
    tmp_path: Path, context: dict[str, str]
) -> None:
    project = bake(tmp_path, **context)
    package = "my_service"

    for path in [project, *project.rglob("*")]:
        assert not LEFTOVER_JINJA.search(path.name), f"unrendered path {path}"
    for path in text_files(project):
        if path.name != "script.py.mako":  # Alembic's own template language
            text = OTHER_TEMPLATE_LANGUAGES.sub("", path.read_text())
            assert not re.search(r"{{|{%", text), f"unrendered Jinja in {path}"

    for relative, present in expected_paths(context, package).items():
        assert (project / relative).exists() == present, f"{relative} should exist: {present}"
    assert not [d for d in project.rglob("*") if d.is_dir() and not any(d.iterdir())]

    check_pyproject(project, context, package)
    for path in [*project.rglob("*.yml"), *project.rglob("*.yaml")]:
        assert yaml.load(path.read_text(), YAML_LOADER), f"{path} is empty or invalid"

    run([tool("ruff"), "check", "--no-cache", "."], cwd=project)
    run([tool("ruff"), "format", "--check", "--no-cache", "."], cwd=project)


# The hooks are Python the bake runs: held to the generated project's ruff settings, as rendered
# for answers that change what they say (each option's row of the post-gen hook's table).
HOOK_ANSWERS = [
    {},
    {"python_version": "3.11", "layout": "flat", "package_manager": "pip", "database": "none",
     "auth": "none", "ci": "none", "kubernetes": "no", "license": "proprietary"},
    {"python_version": "3.12", "database": "postgresql", "worker": "yes", "auth": "none"},
]  # fmt: skip


def render_hooks(answers: dict[str, str], output_dir: Path, into: Path) -> list[Path]:
    """The hooks as cookiecutter renders them before running them: its context for a bake with
    these answers (the keys cookiecutter() adds included) and its Jinja environment."""
    context = generate_context(str(TEMPLATE / "cookiecutter.json"), extra_context=answers)
    answered = dict(prompt_for_config(context, no_input=True))
    answered |= {"_template": str(TEMPLATE), "_output_dir": str(output_dir)}
    answered |= {"_repo_dir": str(TEMPLATE), "_checkout": None}
    environment = create_env_with_context({"cookiecutter": answered})
    into.mkdir()
    rendered = []
    for hook in sorted((TEMPLATE / "hooks").glob("*.py")):
        text = environment.from_string(hook.read_text()).render(cookiecutter=answered)
        (path := into / hook.name).write_text(text)
        rendered.append(path)
    return rendered


@pytest.mark.parametrize("answers", HOOK_ANSWERS, ids=combination_id)
def test_the_rendered_hooks_pass_the_generated_projects_lint_and_format(
    tmp_path: Path, answers: dict[str, str]
) -> None:
    project = bake(tmp_path, **answers)
    hooks = render_hooks(answers, tmp_path, project / "rendered-hooks")
    assert [hook.name for hook in hooks] == ["post_gen_project.py", "pre_gen_project.py"]
    assert not re.search(r"{{|{%", "".join(hook.read_text() for hook in hooks))
    # In the project, so that its pyproject.toml's ruff settings apply (its Python's target).
    run([tool("ruff"), "check", "--no-cache", "rendered-hooks"], cwd=project)
    run([tool("ruff"), "format", "--check", "--no-cache", "rendered-hooks"], cwd=project)


@pytest.mark.parametrize("license_name", choices("license"))
def test_each_license_bakes_with_its_text_and_metadata(tmp_path: Path, license_name: str) -> None:
    project = bake(tmp_path, license=license_name, author_name="Ada Lovelace")
    text = (project / "LICENSE").read_text()
    meta = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    expected = {
        "MIT": ("MIT License", "MIT"),
        "Apache-2.0": ("Apache License", "Apache-2.0"),
        "proprietary": ("All rights reserved", "LicenseRef-Proprietary"),
    }[license_name]
    assert expected[0] in text
    assert meta["license"] == expected[1]
    if license_name != "Apache-2.0":
        assert "Ada Lovelace" in text


def test_free_text_answers_with_quotes_stay_valid_toml_and_python(tmp_path: Path) -> None:
    answers = {
        "project_name": 'Ada\'s "Quoted" Service',
        "project_slug": "ada-service",
        "description": "Says \"hi\" \\ and 'bye'",
        "author_name": 'O\'Brien "Bob"',
    }
    project = bake(tmp_path, **answers)
    meta = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    assert meta["description"] == answers["description"]
    assert meta["authors"][0]["name"] == answers["author_name"]
    run([tool("ruff"), "check", "--no-cache", "."], cwd=project)


def test_the_recorded_answers_are_what_cruft_reads(tmp_path: Path) -> None:
    project = bake(tmp_path, database="sqlite", layout="flat")
    state = json.loads((project / ".cruft.json").read_text())
    answers = state["context"]["cookiecutter"]
    assert state["template"] == answers["_template"]
    assert (answers["database"], answers["layout"]) == ("sqlite", "flat")
    assert not {"_output_dir", "_repo_dir", "_lock"} & answers.keys()


@pytest.mark.parametrize(
    ("database", "worker", "auth"), [(database, "no", "oidc") for database in choices("database")]
    + [("postgresql", "yes", "oidc"), ("none", "no", "none"), ("postgresql", "no", "none")],
)  # fmt: skip
def test_the_compose_file_is_valid_for_each_database(
    tmp_path: Path, database: str, worker: str, auth: str
) -> None:
    project = bake(tmp_path, database=database, worker=worker, auth=auth)
    # The stack as compose puts it together from compose.yaml and the files it includes.
    command = [tool("docker-compose"), "--file", "compose.yaml", "config", "--format", "json"]
    services = json.loads(run(command, cwd=project).stdout)["services"]
    assert ("migrate" in services) == (database != "none")
    assert ("db" in services) == (database == "postgresql")
    assert ("worker" in services) == (worker == "yes")
    # The provider's settings, from the shell or .env (empty: the app refuses to start), for
    # every command of the service.
    for name in services.keys() - {"db"}:
        environment = services[name].get("environment", {})
        assert ("AUTH_ISSUER" in environment and "AUTH_AUDIENCE" in environment) == (
            auth == "oidc"
        ), name
    # One service builds the image, the first to start: the others run it.
    built = {name for name, service in services.items() if "build" in service}
    assert built == {"migrate" if database != "none" else "app"}


def devcontainer_json(project: Path) -> dict[str, Any]:
    """devcontainer.json is JSON with comments (JSONC); ours has whole-line comments only."""
    text = (project / ".devcontainer" / "devcontainer.json").read_text()
    return dict(json.loads(re.sub(r"(?m)^\s*//.*$", "", text)))


@pytest.mark.parametrize("database", choices("database"))
def test_the_dev_container_is_valid_for_each_database(tmp_path: Path, database: str) -> None:
    project = bake(tmp_path, database=database, port="8090")
    config = devcontainer_json(project)
    assert config["postCreateCommand"] == "make install"
    assert config["forwardPorts"] == [8090]
    assert config["workspaceFolder"] == f"/workspaces/{project.name}"
    compose_files = config["dockerComposeFile"]
    with_database = ["postgresql.yaml"] if database == "postgresql" else []
    assert compose_files == ["compose.yaml", *with_database]
    files = [f"--file=.devcontainer/{name}" for name in compose_files]
    merged = run([tool("docker-compose"), *files, "config", "--format=json"], cwd=project)
    services = json.loads(merged.stdout)["services"]
    assert config["service"] in services
    # The base image by build argument, defaulting to the official image of the project's Python.
    build = services[config["service"]]["build"]
    assert build["args"]["PYTHON_IMAGE"] == f"python:{choices('python_version')[0]}-slim-trixie"
    assert set(services) == ({"dev", "db"} if database == "postgresql" else {"dev"})
    if database == "postgresql":
        environment = services["dev"]["environment"]
        assert environment["DATABASE_URL"].startswith("postgresql://app:app@db:5432/")
        assert environment["TEST_DATABASE_URL"].startswith("postgresql://app:app@db:5432/")
        assert environment["TEST_DATABASE_URL"] != environment["DATABASE_URL"]
