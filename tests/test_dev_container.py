"""The generated dev container, brought up as an editor brings it up: the Dev Containers CLI
(@devcontainers/cli from npm, pinned with its lock in harness/devcontainer, installed there by
`npm ci`; .ci/run does it) runs `devcontainer up` on a bake, which builds `.devcontainer/` on
this machine's base image of the project's Python (by the PYTHON_IMAGE build argument), starts
it, with PostgreSQL beside it for a PostgreSQL project, and runs `make install`; then
`devcontainer exec make check` passes inside it, on the project's Python, with the PostgreSQL
tests run against that database. No registry is reached: the database is a local stand-in for
the official image (harness/postgres_image.py). Afterwards nothing is left: containers, network,
volumes and images go.

Two bakes prove every file of `.devcontainer/`: the default (uv, PostgreSQL beside it) and pip
with SQLite (the dev container alone, on another Python and port).

Needs a Docker engine (deselect with -m "not docker"), node, the CLI (`npm ci --prefix
harness/devcontainer`) and compose with the buildx plugin (compose builds with BuildKit only
through it; DOCKER_BUILDX names one that is not among the docker client's plugins).
"""

import contextlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import docker.errors
import pytest

from harness.commands import TEMPLATE, run, tool
from harness.docker import base_images, docker_cli, engine, remove_image
from harness.options import FULL_RUNS
from harness.postgres_image import build_postgres_image
from tests.params import image_params

CLI = TEMPLATE / "harness" / "devcontainer" / "node_modules" / ".bin" / "devcontainer"
# The default bake: uv, PostgreSQL beside the container. Without PostgreSQL the container is the
# same minus that file (the render tier checks each database's files); pip's `make install` is
# the same inside as on a machine (tests/test_generated_projects.py), so one `up` proves it.
DEFAULT = next(iter(FULL_RUNS))
# Where the machine's CA bundle (TEMPLATE_CA_BUNDLE: a TLS-intercepting proxy's) is mounted in
# the container, for `make install` and `uv build` to reach the package index: given on the
# command line, as a developer behind such a proxy would (README "Dev container").
CA_IN_CONTAINER = "/usr/local/share/host-ca-bundle.crt"

pytestmark = [
    pytest.mark.docker,
    pytest.mark.parametrize("key", image_params([DEFAULT])),
]


def cli() -> list[str]:
    node = shutil.which("node")
    if node is None or not CLI.exists():
        pytest.fail(
            "the dev container test needs node and `npm ci --prefix harness/devcontainer` "
            "(Debian: apt-get install nodejs npm; .ci/run does both)",
            pytrace=False,
        )
    return [node, str(CLI)]


def buildx_environment(tmp_path: Path) -> dict[str, str]:
    """Where compose finds docker's buildx plugin (it builds with BuildKit only through it):
    DOCKER_BUILDX's, in a docker configuration of the test's own, or else the client's own."""
    environment = {}
    if buildx := os.environ.get("DOCKER_BUILDX"):
        plugins = tmp_path / "docker-config" / "cli-plugins"
        plugins.mkdir(parents=True)
        (plugins / "docker-buildx").symlink_to(buildx)
        environment["DOCKER_CONFIG"] = str(plugins.parent)
    found = run([docker_cli(), "buildx", "version"], cwd=tmp_path, env=environment, check=False)
    if found.returncode != 0:
        pytest.fail(
            "compose builds the dev container with BuildKit only through docker's buildx plugin: "
            "install it (Debian: docker-buildx; .ci/run unpacks forky's) or name its binary "
            f"with DOCKER_BUILDX\n{found.stderr}",
            pytrace=False,
        )
    return environment


def cli_environment(tmp_path: Path, key: str, postgres_image: str) -> dict[str, str]:
    """What compose reads (the base image, the database's image, the build's CA secret, the
    buildx plugin), and a place of the test's own for the CLI's files."""
    environment = {
        "TMPDIR": str(tmp_path),  # the CLI's generated compose files
        "PYTHON_IMAGE": base_images().get(FULL_RUNS[key]["python_version"], ""),
        "POSTGRES_IMAGE": postgres_image,
        "CA_BUNDLE": os.environ.get("TEMPLATE_CA_BUNDLE", ""),
        **buildx_environment(tmp_path),
    }
    return {name: value for name, value in environment.items() if value}


def ca_mount() -> list[str]:
    bundle = os.environ.get("TEMPLATE_CA_BUNDLE")
    return [f"--mount=type=bind,source={bundle},target={CA_IN_CONTAINER}"] if bundle else []


def ca_environment() -> list[str]:
    """The mounted bundle named to uv (SSL_CERT_FILE) and pip (PIP_CERT), in every command."""
    if not os.environ.get("TEMPLATE_CA_BUNDLE"):
        return []
    return [f"--remote-env={name}={CA_IN_CONTAINER}" for name in ("SSL_CERT_FILE", "PIP_CERT")]


@pytest.fixture
def postgres_image(docker_engine: str, key: str) -> Iterator[str]:
    """The official postgres image's local stand-in, for a PostgreSQL bake; removed after."""
    if FULL_RUNS[key]["database"] != "postgresql":
        yield ""
        return
    tag = build_postgres_image(f"template-test-postgres-{TEMPLATE.name}:latest")
    yield tag
    remove_image(tag)


def remove_compose_project(name: str) -> None:
    """Its containers, network, volumes and the images it built: what `up` made."""
    for container in engine().containers.list(
        all=True, filters={"label": f"com.docker.compose.project={name}"}
    ):
        container.remove(force=True, v=True)
    for network in engine().networks.list(filters={"label": f"com.docker.compose.project={name}"}):
        network.remove()
    for volume in engine().volumes.list(filters={"label": f"com.docker.compose.project={name}"}):
        volume.remove(force=True)
    for image in engine().images.list(filters={"reference": f"{name}-*"}):
        with contextlib.suppress(docker.errors.NotFound):
            engine().images.remove(image.id, force=True)


def left_behind(name: str) -> list[str]:
    label = {"label": f"com.docker.compose.project={name}"}
    return [
        *(f"container {c.name}" for c in engine().containers.list(all=True, filters=label)),
        *(f"network {n.name}" for n in engine().networks.list(filters=label)),
        *(f"volume {v.name}" for v in engine().volumes.list(filters=label)),
        *(f"image {i.tags}" for i in engine().images.list(filters={"reference": f"{name}-*"})),
    ]


@pytest.fixture
def workspace(tmp_path: Path, key: str, locked_project: Callable[[str], Path]) -> Path:
    """A copy of the locked bake (the container writes .venv into it), named for this checkout
    and combination: the CLI names the compose project after the folder, and clones and
    workers bring theirs up at the same time."""
    name = f"{TEMPLATE.name}-{key}".replace(".", "")
    return Path(shutil.copytree(locked_project(key), tmp_path / "workspaces" / name))


def test_devcontainer_up_then_make_check_passes_inside_and_nothing_is_left(
    tmp_path: Path, key: str, workspace: Path, postgres_image: str
) -> None:
    common = [
        f"--workspace-folder={workspace}",
        f"--docker-path={docker_cli()}",
        f"--docker-compose-path={tool('docker-compose')}",
    ]
    environment = cli_environment(tmp_path, key, postgres_image)
    project_name = f"{workspace.name}_devcontainer"
    try:
        up_command = [*cli(), "up", *common, *ca_mount(), *ca_environment()]
        up = run(up_command, cwd=workspace, env=environment, timeout=900, check=False)
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        result = json.loads(up.stdout.strip().splitlines()[-1])
        assert result["outcome"] == "success", result
        assert result["composeProjectName"] == project_name

        def inside(*command: str) -> str:
            done = run([*cli(), "exec", *common, *ca_environment(), *command], cwd=workspace,
                       env=environment, timeout=900, check=False)  # fmt: skip
            assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-3000:]
            return done.stdout

        version = FULL_RUNS[key]["python_version"]
        assert inside("python", "--version").startswith(f"Python {version}.")
        assert inside(".venv/bin/python", "--version").startswith(f"Python {version}.")
        summary = inside("make", "check").strip().splitlines()[-1]  # pytest's: "=== 151 passed"
        assert " passed" in summary, summary
        if FULL_RUNS[key]["database"] == "postgresql":
            # The PostgreSQL tests ran against the database beside it: none skipped for want of it.
            assert "skipped" not in summary, summary
    finally:
        remove_compose_project(project_name)
    assert left_behind(project_name) == []
