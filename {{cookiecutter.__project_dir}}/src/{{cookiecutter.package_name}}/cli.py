"""The command line: `{{ cookiecutter.project_slug }} serve`, and the commands the project's parts add."""

import argparse
import os
import pkgutil
import sys
import tempfile
from collections.abc import Sequence

from pydantic import ValidationError

from {{ cookiecutter.package_name }} import server
from {{ cookiecutter.package_name }}.observability.logs import configure_logging
from {{ cookiecutter.package_name }}.settings import Settings

# Read by prometheus-client when imported (observability/metrics.py): set before the workers start.
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
        if settings.workers > 1:
            share_metrics_between_workers()
        server.serve(settings, reload=args.reload)
    else:
        pkgutil.resolve_name(COMMANDS[args.command][1])(settings)
    return 0
