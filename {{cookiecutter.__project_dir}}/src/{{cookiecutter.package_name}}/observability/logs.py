"""Logs on stdout: JSON lines (or readable coloured lines, LOG_FORMAT=console), each carrying the
id of the request it belongs to (web/middleware.py sets it and logs one line per request answered),
and the fields the request's own code adds (add_request_fields: e.g. the caller)."""

import asyncio
import json
import logging
import sys
import time
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
# The current request's own fields (web/middleware.py gives each request a new dict).
request_fields: ContextVar[dict[str, Any] | None] = ContextVar("request_fields", default=None)

# Libraries log at WARNING and above (LOG_LEVEL=debug lets everything through): their set-up
# chatter would bury the service's own lines. The request line below is the access log (the
# server's is off); the service says itself where it listens (cli.py). `_granian`: the server's.
LIBRARY_LOGGERS = ("alembic", "sqlalchemy", "_granian", "opentelemetry", "httpx2")

# The logger of the one line per request answered (web/middleware.py).
ACCESS_LOGGER = "{{ cookiecutter.package_name }}.access"

# Functions adding fields to every line (tracing adds the current trace and span ids).
_line_fields: list[Callable[[], dict[str, Any]]] = []


def add_line_fields(fields: Callable[[], dict[str, Any]]) -> None:
    if fields not in _line_fields:
        _line_fields.append(fields)


# Functions also given each request's own fields as they are added (tracing: the span's).
_request_field_sinks: list[Callable[[dict[str, Any]], None]] = []


def add_request_field_sink(sink: Callable[[dict[str, Any]], None]) -> None:
    if sink not in _request_field_sinks:
        _request_field_sinks.append(sink)


def add_request_fields(**fields: Any) -> None:
    """Fields for the rest of the current request's log lines (its request line included), its
    span, and the jobs it enqueues (jobs/enqueue.py). Outside a request: none."""
    current = request_fields.get()
    if current is None:
        return
    current.update(fields)
    for sink in _request_field_sinks:
        sink(fields)


# Built once: json.dumps(..., default=str) builds a new encoder for every line.
_encode = json.JSONEncoder(default=str).encode
_seconds: tuple[int, str] = (-1, "")  # the last whole second formatted, and its text


def utc_time(created: float) -> str:
    """`datetime.fromtimestamp(created, UTC).isoformat()`, the date and time formatted once a
    second: a line's timestamp costs half as much."""
    global _seconds
    second = int(created)
    micro = round((created - second) * 1e6)
    if micro in (0, 1_000_000):  # isoformat() leaves a zero fraction out; a carry
        return datetime.fromtimestamp(created, UTC).isoformat()
    if second != _seconds[0]:
        _seconds = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{_seconds[1]}.{micro:06d}+00:00"


def _entry(record: logging.LogRecord) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "time": utc_time(record.created),
        "level": record.levelname.lower(),
        "logger": record.name,
        "message": record.getMessage(),
        "request_id": request_id.get(),
    }
    if own := request_fields.get():
        entry |= own
    for fields in _line_fields:
        entry |= fields()
    # A line's own fields: log.info("...", extra={"fields": {...}}).
    entry |= record.__dict__.get("fields", {})
    return entry


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = _entry(record)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return _encode(entry)


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


class StdoutHandler(logging.StreamHandler[TextIO]):
    """Writes each line to stdout as it is logged; with a `request_lines_delay` (the server's),
    a request line logged on an event loop waits up to that long, to go out in one write with the
    others of that time. A write is a system call, during which the server's own threads take the
    interpreter: one per request cost a /healthz request about 14 % of its CPU time. Any other
    line writes those waiting before itself, so the order is kept and the last request lines go
    out with the shutdown's; those waiting when the process is killed (SIGKILL) are lost."""

    def __init__(self, request_lines_delay: float = 0) -> None:
        super().__init__(sys.stdout)
        self.request_lines_delay = request_lines_delay
        self.waiting: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.waiting.append(self.format(record) + self.terminator)
            if not self.may_wait(record):
                self.flush()
        except Exception:
            self.handleError(record)

    def may_wait(self, record: logging.LogRecord) -> bool:
        if not self.request_lines_delay or record.name != ACCESS_LOGGER:
            return False
        if len(self.waiting) > 1:  # the first line waiting has set when they are written
            return True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop in this thread to write it later
            return False
        loop.call_later(self.request_lines_delay, self.flush)
        return True

    def flush(self) -> None:
        self.acquire()  # logging's own lock, held while a line is logged (from any thread)
        try:
            if self.waiting:
                self.stream.write("".join(self.waiting))
                self.waiting.clear()
            self.stream.flush()
        finally:
            self.release()


def configure_logging(level: str, log_format: str = "json", request_lines_delay: float = 0) -> None:
    """Send every logger, the server's included, through one handler on stdout. Request lines are
    written as they are logged, as tests read them, unless `request_lines_delay` (StdoutHandler)."""
    # No formatter here shows the thread, process or task: don't collect them for every record
    # (the logging HOWTO's "Optimization"). logAsyncioTasks: Python 3.12 and newer.
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    setattr(logging, "logAsyncioTasks", False)  # noqa: B010 - typeshed doesn't list it for 3.11
    handler = StdoutHandler(request_lines_delay)
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
