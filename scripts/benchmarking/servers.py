"""--servers: the server choice, measured. Ours and the bare app on uvicorn and on Hypercorn,
beside the same apps on Granian (what the generated service runs): the same venv, so the same
Python, FastAPI and uvloop, with only the server changing.

Each server as a team would run it: one process, uvloop, no access log of the server's own (ours
logs every request itself, on every server), keep-alive connections closed after 10 s idle like
ours (REQUEST_HEAD_TIMEOUT), and uvicorn's connection cap at ours' MAX_CONNECTIONS (a 503 past
it). What each server's documented options can and can't hold of the hostile-client suite: the
template README's "Why Granian".
"""

from pathlib import Path

from benchmarking.services import (
    BARE_ROUTES,
    OURS_ROUTES,
    HostServer,
    Server,
    Service,
    version_line,
)
from harness.commands import free_port, run, tool
from harness.oidc import Issuer

# Installed into ours' venv beside Granian: httptools is uvicorn's fast HTTP/1.1 parser.
OTHER_SERVERS = ["uvicorn", "httptools", "hypercorn"]
SERVERS = ("uvicorn", "Hypercorn")
IDLE_SECONDS = "10"  # ours' REQUEST_HEAD_TIMEOUT default
MAX_CONNECTIONS = "8192"  # ours' MAX_CONNECTIONS default


def install_other_servers(ours: Path) -> None:
    run([tool("uv"), "pip", "install", "--quiet", "--python", str(ours / ".venv/bin/python"),
         *OTHER_SERVERS], cwd=ours)  # fmt: skip


def command(server: str, venv: Path, app: str, port: int, *, factory: bool) -> list[str]:
    """How `server` serves `app` (module:name; a factory called with no arguments) on `port`."""
    if server == "uvicorn":
        return [str(venv / "bin/uvicorn"), app, *(["--factory"] if factory else []),
                "--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop",
                "--http", "httptools", "--no-access-log", "--log-level", "warning",
                "--timeout-keep-alive", IDLE_SECONDS,
                "--limit-concurrency", MAX_CONNECTIONS]  # fmt: skip
    return [str(venv / "bin/hypercorn"), f"{app}()" if factory else app,
            "--bind", f"127.0.0.1:{port}", "--worker-class", "uvloop",
            "--keep-alive", IDLE_SECONDS, "--log-level", "warning"]  # fmt: skip


def ours_on(server: str, project: Path, database_url: str, logs: Path, issuer: Issuer) -> Service:
    """Ours (auth=oidc, trusting the local issuer), create_app() served by `server`."""
    package = project.name.replace("-", "_")

    def start() -> Server:
        port = free_port()
        env = {"DATABASE_URL": database_url, **issuer.environment()}
        served = command(server, project / ".venv", f"{package}.app:create_app", port, factory=True)
        return HostServer(served, project, env, port, logs / f"ours-{server}.log")

    versions = version_line([str(project / ".venv/bin/python")])
    return Service(f"ours (host, {server})", OURS_ROUTES, "ours", start, versions,
                   issuer.authorization())  # fmt: skip


def bare_on(server: str, work: Path, ours: Path, logs: Path) -> Service:
    """The bare app (services.bare wrote it into `work`), served by `server` from ours' venv."""

    def start() -> Server:
        port = free_port()
        served = command(server, ours / ".venv", "bare_app:app", port, factory=False)
        return HostServer(served, work, {}, port, logs / f"bare-{server}.log")

    return Service(f"bare FastAPI ({server})", BARE_ROUTES, None, start, "the venv of ours (host)")
