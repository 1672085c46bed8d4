"""The command line: `{{ cookiecutter.project_slug }} serve`, and the commands the project's parts add."""

import argparse
import gc
import logging
import os
import pkgutil
import sys
import tempfile
from collections.abc import Sequence
from typing import Any

import uvicorn
from pydantic import ValidationError

from {{ cookiecutter.package_name }}.logs import configure_logging
from {{ cookiecutter.package_name }}.server import GuardedHttpToolsProtocol
from {{ cookiecutter.package_name }}.settings import Settings

# The application is imported only where it is built (see serve): this module stays light.
APP_FACTORY = "{{ cookiecutter.package_name }}.app:create_app"
# Read by prometheus-client when imported (metrics.py): set before the workers start.
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
# Commands besides serve: name -> (help, the function running it, given the settings). Each is
# imported only when it runs: serving doesn't load Alembic.
COMMANDS: dict[str, tuple[str, str]] = {
{%- if cookiecutter.database != "none" %}
    "migrate": (
        "upgrade the database schema to the latest migration",
        "{{ cookiecutter.package_name }}.database.migrations:migrate",
    ),
{% endif -%}
{{ '    "worker": (\n        "run the background jobs until SIGTERM",\n        "%s.jobs.worker:run",\n    ),\n' % cookiecutter.package_name if cookiecutter.worker == "yes" }}}
log = logging.getLogger(__name__)


def load_settings() -> Settings:
    """The settings, or exit with one line per problem naming its environment variable."""
    try:
        return Settings()
    except ValidationError as exc:
        for error in exc.errors():
            name = "_".join(str(part) for part in error["loc"])
            field = Settings.model_fields.get(name)
            hint = f": expected {field.description}" if field and field.description else ""
            problem = "is not set" if error["type"] == "missing" else f"is invalid ({error['msg']})"
            print(f"error: {name.upper()} {problem}{hint}", file=sys.stderr)
        raise SystemExit(2) from None


def share_metrics_between_workers() -> None:
    """Workers write their metrics to files in one directory (PROMETHEUS_MULTIPROC_DIR, else a
    new temporary one), which /metrics adds up. Emptied first: counts start at 0 with the server."""
    directory = os.environ.get(MULTIPROCESS_DIR) or tempfile.mkdtemp(prefix="metrics-")
    os.makedirs(directory, exist_ok=True)
    for name in os.listdir(directory):
        if name.endswith(".db"):
            os.remove(os.path.join(directory, name))
    os.environ[MULTIPROCESS_DIR] = directory  # the workers inherit it


def serve(settings: Settings, *, reload: bool) -> None:
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,  # keep the logging configured in main()
        "access_log": False,  # the app logs each request, with its fields (logs.py)
        "proxy_headers": True,
        "forwarded_allow_ips": settings.forwarded_allow_ips,
        # SIGTERM: stop accepting, finish requests in flight, close idle keep-alive connections;
        # after this many seconds the rest are cancelled and the process exits anyway.
        "timeout_graceful_shutdown": settings.graceful_shutdown_timeout,
        # httptools, with the limits on request heads and connections it lacks (server.py).
        "http": GuardedHttpToolsProtocol,
        "timeout_keep_alive": settings.keep_alive_timeout,
        "backlog": 2048,  # a burst of connections waits to be accepted instead of being refused
    }
    GuardedHttpToolsProtocol.configure(settings)
    log.info(
        "serving on http://%s:%d with %d worker(s)", settings.host, settings.port, settings.workers
    )
    if reload or settings.workers > 1:
        if settings.workers > 1:
            share_metrics_between_workers()
        # Every process uvicorn starts imports and builds the app itself.
        uvicorn.run(APP_FACTORY, factory=True, reload=reload, workers=settings.workers, **options)
        return
    # One process: build the app here with the garbage collector paused, as start-up allocates
    # only objects that live as long as the process (~0.1 s sooner to the first response).
    gc.disable()
    from {{ cookiecutter.package_name }}.app import create_app

    app = create_app(settings)
    gc.freeze()
    gc.enable()
    uvicorn.run(app, **options)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="{{ cookiecutter.project_slug }}", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="run the HTTP server")
    serve_parser.add_argument("--reload", action="store_true", help="restart on code changes")
    for name, (summary, _) in COMMANDS.items():
        commands.add_parser(name, help=summary)
    args = parser.parse_args(argv)

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    if args.command == "serve":
        serve(settings, reload=args.reload)
    else:
        pkgutil.resolve_name(COMMANDS[args.command][1])(settings)
    return 0
