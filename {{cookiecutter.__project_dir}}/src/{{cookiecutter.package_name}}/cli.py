"""The command line: `{{ cookiecutter.project_slug }} serve`, and the commands the project's parts add."""

import argparse
import os
import pkgutil
import sys
import tempfile
from collections.abc import Sequence

from pydantic import ValidationError

from {{ cookiecutter.package_name }} import parts, server
from {{ cookiecutter.package_name }}.observability.logs import configure_logging
from {{ cookiecutter.package_name }}.settings import Settings

# Read by prometheus-client when imported (observability/metrics.py): set before the workers start.
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"


def load_settings() -> Settings:
    """The settings, the service's and each part's, or exit with one line per problem naming its
    environment variable."""
    problems: dict[str, str] = {}  # by variable: a field of several classes is named once
    for settings_class in [Settings, *(part.SETTINGS for part in parts.present())]:
        try:
            settings_class()
        except ValidationError as exc:
            for error in exc.errors():
                name = "_".join(str(piece) for piece in error["loc"])
                field = settings_class.model_fields.get(name)
                hint = f": expected {field.description}" if field and field.description else ""
                missing = error["type"] == "missing"
                problem = "is not set" if missing else f"is invalid ({error['msg']})"
                problems[name] = f"error: {name.upper()} {problem}{hint}"
    if problems:
        print(*problems.values(), sep="\n", file=sys.stderr)
        raise SystemExit(2)
    return Settings()


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
    # Each part's commands: name -> (help, the function running it), imported only if it runs.
    part_commands = {
        name: command for part in parts.present() for name, command in part.COMMANDS.items()
    }
    for name, (summary, _) in part_commands.items():
        commands.add_parser(name, help=summary)
    args = parser.parse_args(argv)

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    if args.command == "serve":
        if settings.workers > 1:
            share_metrics_between_workers()
        server.serve(settings, reload=args.reload)
    else:
        pkgutil.resolve_name(part_commands[args.command][1])()
    return 0
