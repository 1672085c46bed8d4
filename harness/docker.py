"""Images and containers of the generated projects. Builds use the generated Makefile (BuildKit
on the CLI, as the project's users build); container lifecycle uses the Docker SDK."""

import contextlib
import functools
import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors
from docker.models.containers import Container as SdkContainer

from harness.commands import free_port, machine_share, run
from harness.oidc import Issuer
from harness.options import FULL_RUNS


def base_images() -> dict[str, str]:
    """TEMPLATE_BASE_IMAGES="3.11=local/python:3.11-slim-bookworm,..."; unset: the defaults."""
    pairs = filter(None, os.environ.get("TEMPLATE_BASE_IMAGES", "").split(","))
    return dict(pair.split("=", 1) for pair in pairs)


def docker_cli() -> str:
    return os.environ.get("DOCKER", "docker")


@functools.cache
def engine() -> docker.DockerClient:
    # Generous: a container's `wait` and `stop` can take as long as its graceful shutdown.
    return docker.from_env(timeout=120)


@dataclass
class Image:
    tag: str
    key: str
    project: Path
    issuer: Issuer | None = None  # the issuer its containers trust: auth=oidc images only

    @property
    def context(self) -> dict[str, str]:
        return FULL_RUNS[self.key]

    def environment(self) -> dict[str, str]:
        """What every container of the image needs beside its own settings: the issuer's."""
        return self.issuer.environment() if self.issuer else {}

    def authorization(self) -> dict[str, str]:
        """Headers with a new token allowed every route (none without auth)."""
        return self.issuer.authorization() if self.issuer else {}

    @property
    def package(self) -> str:
        return self.context.get("package_name", "my_service")

    @property
    def command(self) -> str:
        return self.project.name

    def config(self) -> dict[str, Any]:
        return engine().images.get(self.tag).attrs["Config"]


def make_build(
    project: Path,
    tag: str,
    python_version: str,
    check: bool = True,
    dockerfile: str = "Dockerfile",
) -> subprocess.CompletedProcess[str]:
    """The generated Makefile's own build command, with this machine's base image and CA."""
    flags = "--network host --progress plain"
    if dockerfile != "Dockerfile":
        flags += f" --file {dockerfile}"
    variables = {
        "IMAGE": tag,
        "DOCKER": docker_cli(),
        "DOCKER_BUILD_FLAGS": flags,
        "PYTHON_IMAGE": base_images().get(python_version, ""),
        "CA_BUNDLE": os.environ.get("TEMPLATE_CA_BUNDLE", ""),
    }
    command = [
        "make",
        "docker-build",
        *(f"{name}={value}" for name, value in variables.items()),
    ]
    return run(command, cwd=project, check=check, timeout=900)


def remove_containers(**filters: str) -> None:
    """Removes the containers these filters match (running or not), with their anonymous
    volumes."""
    for container in engine().containers.list(all=True, filters=filters):
        container.remove(force=True, v=True)


def remove_image(tag: str) -> None:
    """Removes an image, and first the containers made from it: while one runs, the engine only
    takes the tag off and keeps the image, nameless ("dangling"), after the container is gone."""
    remove_containers(ancestor=tag)
    with contextlib.suppress(docker.errors.NotFound):
        engine().images.remove(tag, force=True)


def remove_volume(name: str) -> None:
    """Removes a volume, and first the containers using it (the engine refuses otherwise)."""
    remove_containers(volume=name)
    with contextlib.suppress(docker.errors.NotFound):
        engine().volumes.get(name).remove(force=True)


# ---- containers -------------------------------------------------------------------------------


def run_options(
    database_url: str | None = None, volume: str | None = None, **options: Any
) -> dict[str, Any]:
    """Keyword arguments for `containers.run`: the database's environment, a data volume."""
    environment = {"DATABASE_URL": database_url} if database_url else {}
    volumes = {volume: {"bind": "/app/data", "mode": "rw"}} if volume else {}
    return {"environment": environment, "volumes": volumes, **options}


def run_once(
    image: Image, *command: str, timeout: float = 120, **options: Any
) -> subprocess.CompletedProcess[str]:
    """Runs a command in a new container (host network) to its end, like `docker run --rm`."""
    options["environment"] = {**image.environment(), **options.get("environment", {})}
    with machine_share():
        container = engine().containers.run(
            image.tag, list(command) or None, detach=True, network_mode="host", **options
        )
        try:
            code = container.wait(timeout=timeout)["StatusCode"]
            stdout = container.logs(stdout=True, stderr=False).decode(errors="replace")
            stderr = container.logs(stdout=False, stderr=True).decode(errors="replace")
        finally:
            container.remove(force=True, v=True)
    return subprocess.CompletedProcess(list(command), code, stdout, stderr)


@dataclass
class Container:
    handle: SdkContainer
    port: int  # every container gets its own: they share the host's network
    headers: dict[str, str] = field(default_factory=dict)  # what its clients send: a token
    url: str = field(init=False)

    def __post_init__(self) -> None:
        self.url = f"http://127.0.0.1:{self.port}"

    @property
    def id(self) -> str:
        return str(self.handle.id)

    def attrs(self) -> dict[str, Any]:
        self.handle.reload()
        return self.handle.attrs

    def state(self) -> dict[str, Any]:
        return self.attrs()["State"]

    def logs(self) -> str:
        return self.handle.logs().decode(errors="replace")

    def wait(self, timeout: float = 60) -> int:
        return int(self.handle.wait(timeout=timeout)["StatusCode"])

    def stop(self, timeout: int = 10) -> None:
        self.handle.stop(timeout=timeout)


StartContainer = Callable[..., Container]


def container_starter() -> tuple[StartContainer, Callable[[], None]]:
    """A function that starts containers (host network, a free PORT) and one removing them all."""
    started: list[Container] = []

    def start(
        image: Image,
        command: tuple[str, ...] = (),
        environment: Mapping[str, str] | None = None,
        **options: Any,
    ) -> Container:
        port = free_port()
        environment = {"PORT": str(port), **image.environment(), **(environment or {})}
        handle = engine().containers.run(
            image.tag, list(command) or None, detach=True, network_mode="host",
            environment=environment, **options,
        )  # fmt: skip
        container = Container(handle, port, image.authorization())
        started.append(container)
        return container

    def remove_all() -> None:
        for container in started:
            with contextlib.suppress(docker.errors.NotFound):
                container.handle.remove(force=True, v=True)

    return start, remove_all


def http(
    container: Container, method: str, path: str, body: dict[str, object] | None = None
) -> tuple[int, object]:
    """Status and JSON body of one request."""
    status, _, content = http_response(container, method, path, body)
    return status, content


def http_response(
    container: Container,
    method: str,
    path: str,
    body: dict[str, object] | None = None,
    timeout: float = 5,
    headers: Mapping[str, str] | None = None,
) -> tuple[int, Mapping[str, str], object]:
    """Status, headers and JSON body of one request (error statuses included), sent with the
    container's headers (its token) unless `headers` replaces them."""
    request = urllib.request.Request(
        container.url + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={
            "Content-Type": "application/json",
            **(container.headers if headers is None else headers),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read() or b"null")


def wait_for_healthz(container: Container, timeout: float = 30) -> float | None:
    """The time (time.time()) of the first 200 from /healthz; None if it never came."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(container.url + "/healthz", timeout=1) as response:
                if response.status == 200:
                    return time.time()
        except OSError:
            if not container.state()["Running"]:
                return None
        time.sleep(0.01)
    return None


def wait_for_readyz(container: Container, timeout: float = 30) -> int:
    """The status of /readyz once it is 200, or the last one after `timeout`: a service is ready
    once its database answers and (auth=oidc) it has fetched its issuer's keys."""
    deadline, status = time.monotonic() + timeout, 0
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            status = http_response(container, "GET", "/readyz", timeout=1)[0]
            if status == 200:
                break
        time.sleep(0.05)
    return status


def wait_until_healthy(container: Container, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        status = container.state().get("Health", {}).get("Status", "")
        if status == "healthy":
            break
        time.sleep(0.2)
    return status


def migrated_database(image: Image, database_url: str | None, volume: str | None) -> dict[str, Any]:
    """Run options for a migrated database (`<slug> migrate` in the container): the PostgreSQL
    URL, or a SQLite volume; none for a project without a database."""
    database = image.context["database"]
    options = run_options(
        database_url if database == "postgresql" else None,
        volume if database == "sqlite" else None,
    )
    if database != "none":
        migrated = run_once(image, image.command, "migrate", **options)
        assert migrated.returncode == 0, migrated.stderr
    return options
