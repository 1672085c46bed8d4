"""The services the --http mode measures, each served by one process: ours on this machine and in
its image, the peer (fastapi-template 6.1.2 from PyPI) and a bare FastAPI app.

The peer is generated, installed and run under the work directory only: none of its files belong
in this repository.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import docker.errors

from benchmarking.baked import bake_locked
from harness.commands import free_port, run, tool
from harness.docker import Container, Image, container_starter, run_once
from harness.oidc import Issuer


class Route(NamedTuple):
    method: str
    path: str
    status: int  # what the route answers when it works


# Items 1..100 exist: the database is seeded before the first server starts.
OURS_ROUTES = {
    "health": Route("GET", "/healthz", 200),
    "list": Route("GET", "/items?limit=10", 200),
    "get": Route("GET", "/items/1", 200),
    "create": Route("POST", "/items", 201),
}
# Ours baked with auth=none, beside the default (auth=oidc) image: GET by id without a token.
UNAUTHENTICATED_ROUTES = {name: OURS_ROUTES[name] for name in ("health", "get")}
# The peer's dummy routes have no get-by-id; its create answers 200 `null`.
PEER_ROUTES = {
    "health": Route("GET", "/api/health", 200),
    "list": Route("GET", "/api/dummy/?limit=10", 200),
    "create": Route("PUT", "/api/dummy/", 200),
}
BARE_ROUTES = {"health": Route("GET", "/healthz", 200)}
# Seeds the table each service lists and reads: 100 rows.
SEED = "INSERT INTO {table} (name) SELECT 'seed-' || n FROM generate_series(1, 100) AS n"

PEER = "fastapi-template==6.1.2"
PEER_NAME = "peer_svc"
# --quiet: no menus, every feature not named is off (no Redis, RabbitMQ, Prometheus, Sentry,
# OpenTelemetry, gunicorn, users): REST, SQLAlchemy (async, asyncpg), Alembic, the dummy model.
PEER_OPTIONS = ["--quiet", "--name", PEER_NAME, "--api-type", "rest", "--db", "postgresql",
                "--orm", "sqlalchemy", "--ci", "none", "--migrations", "--dummy",
                "--routers"]  # fmt: skip
# The generator refuses to start without git and uv on PATH; its post-generation hook runs
# `git init`, `uv sync`, `pre-commit install`, `pre-commit run -a` (hooks fetched from GitHub) and
# `git commit`. A git that fails stops the hook at its first command (the hook catches that).
FAILING_GIT = "#!/bin/sh\nexit 1\n"

BARE_APP = """from fastapi import FastAPI

app = FastAPI()


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
"""
# What each service runs on: printed by its interpreter.
VERSIONS = """import importlib.metadata as m, platform
found = []
for name in ("fastapi", "starlette", "granian", "uvicorn", "hypercorn", "uvloop", "httptools",
             "pydantic", "sqlalchemy", "psycopg", "asyncpg"):
    try:
        found.append(f"{name} {m.version(name)}")
    except m.PackageNotFoundError:
        pass
print(", ".join([f"Python {platform.python_version()}", *found]))"""


class Server:
    """One running server process. `pid` is that process as this machine sees it (a container's
    too): its RSS and CPU time are read from /proc."""

    url: str
    pid: int

    def running(self) -> bool:
        raise NotImplementedError

    def output(self) -> str:
        """The end of its log, for an error message."""
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


class HostServer(Server):
    def __init__(self, command: list[str], cwd: Path, env: dict[str, str], port: int, log: Path):
        self.url, self.log = f"http://127.0.0.1:{port}", log
        with log.open("ab") as out:  # every start of a service appends to its log
            self.process = subprocess.Popen(
                command, cwd=cwd, env={**os.environ, **env}, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        self.pid = self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.running():
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)  # its own session: what it started
            self.process.wait()


class ContainerServer(Server):
    def __init__(self, container: Container):
        self.container, self.url = container, container.url
        self.pid = int(container.state()["Pid"])  # the image's CMD, PID 1 in the container

    def running(self) -> bool:
        return bool(self.container.state()["Running"])

    def output(self) -> str:
        return self.container.logs()[-4000:]

    def stop(self) -> None:
        with contextlib.suppress(docker.errors.DockerException):
            self.container.stop(timeout=30)
        with contextlib.suppress(docker.errors.DockerException):
            self.container.handle.remove(force=True, v=True)


@dataclass
class Service:
    name: str
    routes: dict[str, Route]
    database: str | None  # where its new sessions are counted
    start: Callable[[], Server]
    versions: str = ""
    headers: dict[str, str] = field(default_factory=dict)  # sent with every request: a token


def version_line(command: list[str]) -> str:
    return run([*command, "-c", VERSIONS], cwd=Path.cwd()).stdout.strip()


# ---- ours ---------------------------------------------------------------------------------------


def prepare_ours(work: Path, template: Path, python_version: str, **answers: str) -> Path:
    """Baked (default answers but the Python and `answers`, locking on) and installed with its
    `make install`. Always baked afresh: the template is what is measured."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    project = bake_locked(work, python_version, template=template, **answers)
    run(["make", "install"], cwd=project)
    return project


def migrate_ours(project: Path, database_url: str, issuer: Issuer) -> None:
    """Its settings load whole, the issuer's (auth=oidc) among them."""
    run([str(project / ".venv/bin" / project.name), "migrate"], cwd=project,
        env={"DATABASE_URL": database_url, **issuer.environment()})  # fmt: skip


def ours_on_host(project: Path, database_url: str, logs: Path, issuer: Issuer) -> Service:
    """The default bake (auth=oidc) trusting the local issuer; every request with its token."""

    def start() -> Server:
        port = free_port()
        env = {"DATABASE_URL": database_url, "HOST": "127.0.0.1", "PORT": str(port),
               **issuer.environment()}  # fmt: skip
        command = [str(project / ".venv/bin" / project.name), "serve"]
        return HostServer(command, project, env, port, logs / "ours-host.log")

    python = [str(project / ".venv/bin/python")]
    versions = version_line(python)
    return Service("ours (host)", OURS_ROUTES, "ours", start, versions, issuer.authorization())


def ours_in_image(
    image: Image,
    database_url: str,
    name: str = "ours (image)",
    routes: dict[str, Route] = OURS_ROUTES,
) -> Service:
    """The image as it ships (its CMD, one worker, JSON logs to Docker's log driver), on the
    host's network; migrated by its own `migrate` first. With auth, trusting the image's issuer
    (harness/oidc.py) and every request with its token."""
    environment = {"DATABASE_URL": database_url}
    migrated = run_once(image, image.command, "migrate", environment=environment)
    if migrated.returncode != 0:
        sys.exit(f"`{image.command} migrate` failed in the image:\n{migrated.stderr}")
    start_container, _ = container_starter()  # each server removes its own container

    def start() -> Server:
        # 127.0.0.1: on the host's network, the image's 0.0.0.0 would listen on every interface.
        container = start_container(image, environment={**environment, "HOST": "127.0.0.1"})
        return ContainerServer(container)

    versions = run_once(image, "python", "-c", VERSIONS).stdout.strip()
    return Service(name, routes, "ours", start, versions, image.authorization())


# ---- the peer -----------------------------------------------------------------------------------


def prepare_peer(work: Path, python: str) -> Path:
    """fastapi-template in a venv of its own, its project generated and its runtime dependencies
    installed (`uv sync --no-dev`: it has no lock, so they resolve from the index now). Kept in
    `work` and reused by the next run given the same work directory and interpreter."""
    project, ready = work / PEER_NAME, work / "ready"
    if ready.exists() and ready.read_text() == f"{PEER} {python}\n":
        print(f"[benchmark] reusing the peer in {project}", file=sys.stderr)
        return project
    shutil.rmtree(work, ignore_errors=True)
    shim, generator = work / "shim", work / "generator"
    shim.mkdir(parents=True)
    uv = tool("uv")
    run([uv, "venv", "--quiet", "--python", python, str(generator)], cwd=work)
    # --python: uv pip would otherwise install into the interpreter UV_PYTHON names.
    run(
        [uv, "pip", "install", "--quiet", "--python", str(generator / "bin/python"), PEER], cwd=work
    )
    (shim / "git").write_text(FAILING_GIT)
    (shim / "git").chmod(0o755)
    (shim / "uv").symlink_to(uv)
    path = f"{shim}{os.pathsep}{os.environ['PATH']}"
    run([str(generator / "bin/fastapi_template"), *PEER_OPTIONS], cwd=work, env={"PATH": path})
    if not (project / "pyproject.toml").exists():
        sys.exit(f"the peer's generator made no {project}/pyproject.toml")
    run([uv, "sync", "--quiet", "--no-dev"], cwd=project, env={"UV_PYTHON": python})
    ready.write_text(f"{PEER} {python}\n")
    return project


def peer_env(postgres_port: int) -> dict[str, str]:
    """Its settings (peer_svc/settings.py, prefix PEER_SVC_); trust auth ignores the password."""
    return {
        "PEER_SVC_DB_HOST": "127.0.0.1",
        "PEER_SVC_DB_PORT": str(postgres_port),
        "PEER_SVC_DB_USER": "postgres",
        "PEER_SVC_DB_PASS": "unused",
        "PEER_SVC_DB_BASE": "peer",
    }


def migrate_peer(project: Path, postgres_port: int) -> None:
    """Its Alembic migrations create `dummy_model` (id, name)."""
    run([".venv/bin/alembic", "upgrade", "head"], cwd=project, env=peer_env(postgres_port))


def peer(project: Path, postgres_port: int, logs: Path) -> Service:
    """What `python -m peer_svc` serves (uvicorn, log level info, its access log on), without
    the supervisor process uvicorn puts over even one worker: one process, like ours."""

    def start() -> Server:
        port = free_port()
        command = [str(project / ".venv/bin/uvicorn"), f"{PEER_NAME}.web.application:get_app",
                   "--factory", "--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop",
                   "--http", "httptools", "--log-level", "info"]  # fmt: skip
        return HostServer(command, project, peer_env(postgres_port), port, logs / "peer.log")

    versions = version_line([str(project / ".venv/bin/python")])
    return Service("peer", PEER_ROUTES, "peer", start, versions)


# ---- the bare app -------------------------------------------------------------------------------


def bare(work: Path, ours: Path, logs: Path) -> Service:
    """One route returning a dict, on the server ours runs (our venv's Granian, HTTP/1.1, one
    worker, uvloop); no access log."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "bare_app.py").write_text(BARE_APP)

    def start() -> Server:
        port = free_port()
        command = [str(ours / ".venv/bin/granian"), "bare_app:app", "--interface", "asgi",
                   "--http", "1", "--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop",
                   "--no-access-log", "--log-level", "warning"]  # fmt: skip
        return HostServer(command, work, {}, port, logs / "bare.log")

    return Service("bare FastAPI", BARE_ROUTES, None, start, "the venv of ours (host)")
