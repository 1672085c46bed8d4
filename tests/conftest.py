"""Fixtures shared across the template's test modules."""

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from harness.baking import bake
from harness.commands import TEMPLATE, machine_share, run
from harness.docker import (
    Image,
    StartContainer,
    container_starter,
    docker_cli,
    engine,
    make_build,
    remove_image,
)
from harness.oidc import Issuer, uses_oidc
from harness.options import FULL_RUNS, choices
from harness.postgres import create_database, postgres_server
from harness.pythons import project_command, project_env, runs_in_container
from tests.kubernetes_manifests import bake_each_database
from tests.params import IMAGE_KEYS, TIERS, image_params

# Support modules whose asserts fail with the values compared, as the tests' own do (pytest
# rewrites only test modules and those named here, before they are imported).
pytest.register_assert_rewrite("tests.github_workflows", "tests.upgraded_service")

TIER_OF = {module: tier for tier, modules in TIERS.items() for module in modules}


@pytest.hookimpl(tryfirst=True)  # before -m deselects by these markers
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        module = item.path.stem
        if module not in TIER_OF:
            raise pytest.UsageError(f"{module} is in no tier: add it to TIERS in tests/conftest.py")
        item.add_marker(TIER_OF[module])


def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    """Stop when xdist would scatter a combination's tests over the workers: each would bake,
    lock and build it again, and the first to finish would remove images the others still use."""
    scattered = [i for i in ids if "@" not in i and any(f"[{key}" in i for key in FULL_RUNS)]
    if scattered:
        pytest.exit(
            f"--dist loadgroup is not grouping: {scattered[0]} has no @group. This pytest and "
            "pytest-xdist don't work together (pytest-xdist#1386): install requirements-test.txt",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL server on 127.0.0.1 (trust auth); yields its base URL."""
    with postgres_server() as server:
        yield server.url


@pytest.fixture(scope="session")
def new_database(postgres: str) -> Callable[[], str]:
    """Creates an empty database on the test server and returns its URL."""
    created = iter(range(1_000_000))

    def create() -> str:
        return create_database(postgres, f"test_{next(created)}")

    return create


@pytest.fixture(scope="session")
def locked_project(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """Bakes a FULL_RUNS combination with real locking, once per session; callers must not
    modify the project (copy it first)."""
    baked: dict[str, Path] = {}

    def bake_locked(key: str) -> Path:
        if key not in baked:
            context = FULL_RUNS[key]
            version = context["python_version"]
            # Without this Python here, the project is locked where it is: in a container.
            lock_here = not runs_in_container(version)
            with pytest.MonkeyPatch.context() as env:
                # The post-gen hook's `make lock` inherits this process's environment.
                for name, value in (project_env(version) if lock_here else {}).items():
                    env.setenv(name, value)
                with machine_share():  # locking keeps a core busy
                    project = bake(tmp_path_factory.mktemp("locked"), **context, _lock=lock_here)
            baked[key] = project
            if not lock_here:
                command, command_env = project_command(version, ["make", "lock"], project)
                run(command, cwd=project, env=command_env)
        return baked[key]

    return bake_locked


@pytest.fixture(scope="session")
def issuer() -> Iterator[Issuer]:
    """A local OpenID Connect issuer on 127.0.0.1 (harness/oidc.py), one per worker: the
    auth=oidc images' containers trust it, their clients get tokens from it."""
    with Issuer() as started:
        yield started


# ---- Docker: the engine, the generated projects' images, their containers ---------------------

BUILT: set[str] = set()


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[str]:
    """A reachable engine, or a failure (never a skip): deselect with -m "not docker" instead.
    Removes the images the session built when it ends."""
    try:
        engine().ping()
    except docker.errors.DockerException as error:
        pytest.fail(
            f"no Docker engine answers: start one, or deselect the image tests with "
            f'-m "not docker"\n{error}',
            pytrace=False,
        )
    yield docker_cli()
    for tag in BUILT:
        remove_image(tag)


@pytest.fixture(scope="session", params=image_params(IMAGE_KEYS))
def image(
    request: pytest.FixtureRequest,
    docker_engine: str,
    locked_project: Callable[[str], Path],
    issuer: Issuer,
) -> Image:
    """Built with `make docker-build` (all cached when pytest returns to a combination after
    another); the images go when the session ends. An auth=oidc image's containers trust the
    session's issuer and their clients send its tokens."""
    key = request.param
    project = locked_project(key)
    # The checkout's directory name in the tag: two clones can share one engine.
    tag = f"template-test-{TEMPLATE.name}-{key.lower()}:latest"
    make_build(project, tag, FULL_RUNS[key]["python_version"])
    BUILT.add(tag)
    return Image(tag, key, project, issuer if uses_oidc(FULL_RUNS[key]) else None)


@pytest.fixture
def start() -> Iterator[StartContainer]:
    """Starts containers of an image (host network, PORT free) and removes them after the test:
    start(image, command=(), environment={}, **containers.run options)."""
    start_container, remove_all = container_starter()
    yield start_container
    remove_all()


# ---- Kubernetes: the manifests of a project per database (tests/kubernetes_manifests.py) -------


@pytest.fixture(scope="module")
def k8s_projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A project with Kubernetes manifests per database, baked once for the module."""
    return bake_each_database(tmp_path_factory)


@pytest.fixture(params=choices("database"))
def k8s_database(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def k8s_project(k8s_projects: dict[str, Path], k8s_database: str) -> Path:
    return k8s_projects[k8s_database]
