"""Logs on stdout: JSON lines (or readable coloured lines, LOG_FORMAT=console), each carrying the
id of the request it belongs to; and one line per request answered, with its fields."""

import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

REQUEST_ID_HEADER = "X-Request-ID"
# An incoming id is reused only if it is short and plain, so it can't forge log content.
_ACCEPTED_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")

# Libraries log at WARNING and above (LOG_LEVEL=debug lets everything through): their set-up
# chatter would bury the service's own lines. uvicorn's access log is replaced by the request
# line below; the service says itself where it listens (cli.py).
LIBRARY_LOGGERS = ("alembic", "sqlalchemy", "uvicorn", "opentelemetry")

# Functions adding fields to every line (tracing adds the current trace and span ids).
_line_fields: list[Callable[[], dict[str, Any]]] = []


def add_line_fields(fields: Callable[[], dict[str, Any]]) -> None:
    if fields not in _line_fields:
        _line_fields.append(fields)


def _entry(record: logging.LogRecord) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
        "level": record.levelname.lower(),
        "logger": record.name,
        "message": record.getMessage(),
        "request_id": request_id.get(),
    }
    for fields in _line_fields:
        entry |= fields()
    # A line's own fields: log.info("...", extra={"fields": {...}}).
    entry |= getattr(record, "fields", {})
    return entry


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = _entry(record)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


# ANSI colours of the levels on a terminal: dim, green, yellow, red, red background.
LEVEL_COLOURS = {"DEBUG": 2, "INFO": 32, "WARNING": 33, "ERROR": 31, "CRITICAL": 41}


class ConsoleFormatter(logging.Formatter):
    """For people: `12:00:01.234 INFO  message  key=value ...`, the level coloured on a terminal."""

    def __init__(self, colour: bool) -> None:
        super().__init__()
        self.colour = colour

    def format(self, record: logging.LogRecord) -> str:
        entry = _entry(record)
        level, message = record.levelname, entry.pop("message")
        when = datetime.fromtimestamp(record.created).strftime("%H:%M:%S.%f")[:-3]
        for key in ("time", "level", "logger"):
            del entry[key]
        shown = f"{level:<8}"
        if self.colour:
            shown = f"\033[{LEVEL_COLOURS.get(level, 0)}m{shown}\033[0m"
        # Fields the message already says (`GET /items/1 200`) aren't repeated.
        said = set(message.split())
        fields = [f"{k}={v}" for k, v in entry.items() if v is not None and str(v) not in said]
        line = f"{when} {shown} {message}"
        if fields:
            line += "  " + " ".join(fields)
        line += f"  [{record.name}]"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(level: str, log_format: str = "json") -> None:
    """Send every logger, uvicorn's included, through one handler on stdout."""
    handler = logging.StreamHandler(sys.stdout)
    formatter = JsonFormatter() if log_format == "json" else ConsoleFormatter(sys.stdout.isatty())
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    for name in LIBRARY_LOGGERS:
        library = logging.getLogger(name)
        library.setLevel(logging.NOTSET if level == "debug" else logging.WARNING)
        library.handlers = []
        library.propagate = True
    for name in ("uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True


def route_template(scope: Scope) -> str:
    """The path template of the route that answered (`/items/{item_id}`), never the raw path:
    one label value per route, whatever clients send. "unmatched" when no route matched."""
    route = scope.get("route")
    if route is None:  # Starlette's own routes (/openapi.json, /docs) don't record themselves
        routes = getattr(getattr(scope.get("app"), "router", None), "routes", [])
        route = next((r for r in routes if r.matches(scope)[0] is Match.FULL), None)
    return str(getattr(route, "path", "unmatched"))


class ResponseStatus:
    """A send function noting the status of the response it passes on; 500 until one starts
    (an exception propagating, which the server answers with a 500)."""

    def __init__(self, send: Send) -> None:
        self.code = 500
        self._send = send

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.code = message["status"]
        await self._send(message)


access_log = logging.getLogger("{{ cookiecutter.package_name }}.access")


class RequestLogMiddleware:
    """Tag each request with an id (in every log line it causes and in the response headers),
    and log one line when it is answered: method, route, status, duration, client."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get(REQUEST_ID_HEADER, "")
        rid = incoming if _ACCEPTED_REQUEST_ID.match(incoming) else uuid.uuid4().hex

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append(REQUEST_ID_HEADER, rid)
            await send(message)

        status = ResponseStatus(send_with_id)
        token = request_id.set(rid)
        began = time.perf_counter()
        try:
            await self.app(scope, receive, status)
        finally:
            duration_ms = round((time.perf_counter() - began) * 1000, 3)
            client = scope.get("client")
            fields = {
                "method": scope["method"],
                "path": scope["path"],
                "route": route_template(scope),
                "status": status.code,
                "duration_ms": duration_ms,
                "client": client[0] if client else None,
            }
            access_log.info(
                "%s %s %s", scope["method"], scope["path"], status.code, extra={"fields": fields}
            )
            request_id.reset(token)
