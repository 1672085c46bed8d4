"""Generated projects, fully: locked, installed and checked the way their own README says.

Each chosen combination is baked with real locking, installed with `make install` under the chosen
Python, and then runs its own documented commands: lint, type check, tests (SQLite and a real
PostgreSQL), the migration drift check (part of its tests) and `make dev` answering /healthz.
A Python this machine lacks (3.14, 3.15 here) runs them in a container of its base image.
"""

import os
import re
import signal
import subprocess
import time
import urllib.request
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.baking import PRINT_IMPORT_NAMES, bake, dependency_import_names, import_names
from harness.commands import free_port, run
from harness.docker import docker_cli
from harness.options import FULL_RUNS
from harness.pythons import project_command, project_env
from tests.params import full_run_params

LOCK_FILES = {"uv": ["uv.lock"], "pip": ["requirements.lock", "requirements-dev.lock"]}


@dataclass
class Project:
    path: Path
    context: dict[str, str]

    def command(
        self, argv: list[str], name: str | None = None, **env: str
    ) -> tuple[list[str], dict[str, str]]:
        """`argv` as it runs in the project under its Python (harness/pythons.py)."""
        return project_command(self.context["python_version"], argv, self.path, env, name)

    def run(
        self, argv: list[str], check: bool = True, **env: str
    ) -> subprocess.CompletedProcess[str]:
        command, command_env = self.command(argv, **env)
        return run(command, cwd=self.path, env=command_env, check=check)

    def make(self, *targets: str, **env: str) -> subprocess.CompletedProcess[str]:
        return self.run(["make", *targets], **env)


@pytest.fixture(scope="module", params=full_run_params())
def project(request: pytest.FixtureRequest, locked_project: Callable[[str], Path]) -> Project:
    """Baked with locking on (the post-gen hook runs `make lock`), then `make install`."""
    baked = Project(locked_project(request.param), FULL_RUNS[request.param])
    baked.make("install")
    return baked


def test_the_lock_file_is_created_and_pins_everything(project: Project) -> None:
    for name in LOCK_FILES[project.context["package_manager"]]:
        lock = (project.path / name).read_text()
        assert "fastapi" in lock
        if project.context["package_manager"] == "pip":
            assert "--hash=sha256:" in lock
            # Pinned so the image build can run with --no-build-isolation.
            assert "\nsetuptools==" in lock and "\nwheel==" in lock


def test_lint_passes(project: Project) -> None:
    project.make("lint")


def test_type_check_passes(project: Project) -> None:
    project.make("typecheck")


def test_tests_pass_with_coverage_on_sqlite(project: Project) -> None:
    output = project.make("test").stdout
    assert "Required test coverage of 90" in output


@pytest.mark.parametrize(
    "project",
    [p for p in full_run_params() if FULL_RUNS[p.values[0]]["database"] == "postgresql"],
    indirect=True,
)
def test_tests_pass_on_postgresql(project: Project, new_database: Callable[[], str]) -> None:
    project.make("test", TEST_DATABASE_URL=new_database())


AUDIT_OUTCOMES = re.compile(
    r"No known vulnerabilities found|Found \d+ known vulnerabilit|could not be audited"
)


def test_audit_runs_over_the_lock_and_reports_without_failing_the_suite(project: Project) -> None:
    """`make audit` must run; what it finds (new advisories appear any day) is only reported."""
    result = project.run(["make", "audit"], check=False)
    output = result.stdout + result.stderr
    outcome = AUDIT_OUTCOMES.search(output)
    assert outcome, f"make audit did not get to pip-audit's report:\n{output[-3000:]}"
    if result.returncode != 0:
        warnings.warn(f"make audit in {project.path.name}: {outcome[0]}", stacklevel=1)


def test_make_dev_serves_healthz_with_no_configuration(project: Project, tmp_path: Path) -> None:
    port = str(free_port())  # not the project's own: other tests' services may be using it
    container = f"template-test-make-dev-{port}"  # if it runs in one
    command, command_env = project.command(["make", "dev"], name=container, PORT=port)
    env = {**os.environ, **command_env}
    env.pop("DATABASE_URL", None)
    log = (
        tmp_path / "make-dev.log"
    )  # a file, not a pipe nobody reads: a full pipe blocks the server
    with log.open("w") as output:
        server = subprocess.Popen(
            command,
            cwd=project.path,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # `serve --reload` forks: stop the whole group
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    assert r.status == 200
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"make dev never answered /healthz:\n{log.read_text()[-4000:]}")
                time.sleep(0.3)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:  # a development server's shutdown is not under test
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        if command[0] == docker_cli():
            remove = [docker_cli(), "rm", "--force", "--volumes", container]
            subprocess.run(remove, capture_output=True)


def test_every_installed_import_name_is_refused_as_a_package_name(
    project: Project,
) -> None:
    own = project.context.get("package_name", "my_service")
    printed = project.run([".venv/bin/python", "-c", PRINT_IMPORT_NAMES]).stdout
    installed = import_names(printed) - {own}
    missing = installed - dependency_import_names()
    assert not missing, f"run scripts/refresh-dependency-names: the hook lacks {sorted(missing)}"


@pytest.mark.parametrize("package_manager", ["uv", "pip"])
def test_without_the_package_index_the_project_is_kept_with_a_warning(
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    package_manager: str,
) -> None:
    unreachable = "http://127.0.0.1:9/simple"  # the discard port: nothing listens
    for key, value in {
        **project_env("3.13"),
        "UV_DEFAULT_INDEX": unreachable,
        "UV_CACHE_DIR": str(tmp_path / "empty-uv-cache"),  # nothing to answer from
        "PIP_INDEX_URL": unreachable,
        "PIP_CONFIG_FILE": os.devnull,  # this machine's pip.conf adds local package sources
        "PIP_FIND_LINKS": "",
        "PIP_RETRIES": "0",
    }.items():
        monkeypatch.setenv(key, value)

    # The Python this machine has, so that the index is the only thing missing.
    context = {"package_manager": package_manager, "python_version": "3.13"}
    project = bake(tmp_path / "out", **context, _lock=True)
    stderr = capfd.readouterr().err

    assert "warning: could not create" in stderr
    assert "is the package index reachable?" in stderr
    assert "run `make lock` in my-service/" in stderr
    assert (project / "pyproject.toml").is_file()
    assert not any((project / name).exists() for name in LOCK_FILES[package_manager])
