"""The HTTP server: Granian (HTTP/1.1 on hyper, in Rust), configured from the settings.

The limits on what a client sends before the app sees a request are Granian's documented options
(README: Limits): the request head's size and its 100 header fields (431), the time to send a
head, which is also how long an idle keep-alive connection is kept (closed), and the connections
a worker accepts at once (the rest wait in the listen backlog). What a body may cost is the app's
own middleware (web/limits.py).
"""

import gc
import logging
import resource

from granian import Granian
from granian.constants import HTTPModes, Interfaces
from granian.http import HTTP1Settings
from granian.log import LogLevels
from granian.utils.proxies import wrap_asgi_with_proxy_headers
from starlette.types import ASGIApp

from {{ cookiecutter.package_name }}.observability.logs import configure_logging
from {{ cookiecutter.package_name }}.settings import Settings

# What each worker process serves: app() below, called in that process.
APP_FACTORY = "{{ cookiecutter.package_name }}.server:app"
# Connections the kernel holds for a worker while it is at MAX_CONNECTIONS or busy accepting.
BACKLOG = 2048
# Granian's own lines go through the service's logging (observability/logs.py), not a handler
# of their own.
GRANIAN_LOGGERS = {"loggers": {"_granian": {"propagate": True}}}
log = logging.getLogger(__name__)
# Request lines logged within this many seconds go out in one write (observability/logs.py).
REQUEST_LINES_DELAY = 0.01
# Named once: `except (A, B)` is formatted differently from Python 3.14 on (no parentheses).
CANNOT_RAISE_LIMIT = (ValueError, OSError)


def app() -> ASGIApp:
    """The service as a worker serves it, built in that worker: the client address and scheme
    are the ones the proxies in FORWARDED_ALLOW_IPS forwarded (X-Forwarded-For, -Proto)."""
    # Imported here: the supervisor process never loads the app.
    from {{ cookiecutter.package_name }}.app import create_app

    settings = Settings()
    # Built with the garbage collector paused: start-up allocates only objects that live as long
    # as the process (~0.1 s sooner to the first response).
    gc.disable()
    service = create_app(settings)
    gc.freeze()
    gc.enable()
    # What create_app() configured, less a write per request: the tests' apps log line by line.
    configure_logging(settings.log_level, settings.log_format, REQUEST_LINES_DELAY)
    forwarded: ASGIApp = wrap_asgi_with_proxy_headers(
        service, trusted_hosts=settings.forwarded_allow_ips
    )
    return forwarded


def serve(settings: Settings, *, reload: bool) -> None:
    """Serves until SIGTERM or SIGINT: then stops accepting, lets requests in flight finish (a
    worker still busy after GRACEFUL_SHUTDOWN_TIMEOUT is killed), closes idle connections and runs
    the app's shutdown."""
    log.info(
        "serving on http://%s:%d with %d worker(s)", settings.host, settings.port, settings.workers
    )
    Granian(
        APP_FACTORY,
        factory=True,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        # HTTP/1.1 only: the head limits below are HTTP/1's (TLS and HTTP/2 end at the ingress).
        http=HTTPModes.http1,
        workers=settings.workers,
        respawn_failed_workers=True,  # a worker that dies is replaced
        backlog=BACKLOG,
        backpressure=connection_limit(settings.max_connections),
        http1_settings=HTTP1Settings(
            header_read_timeout=round(settings.request_head_timeout * 1000),
            max_buffer_size=settings.max_request_head_bytes,
        ),
        log_level=LogLevels.debug if settings.log_level == "debug" else LogLevels.warning,
        log_dictconfig=GRANIAN_LOGGERS,
        workers_kill_timeout=settings.graceful_shutdown_timeout,
        reload=reload,
    ).serve()


def connection_limit(wanted: int, reserve: int = 128) -> int:
    """Raises this process's open-file limit to its hard limit (the workers inherit it) and
    returns at most `wanted` connections, leaving `reserve` descriptors for everything else
    (database pool, logs, files): a worker never accepts a connection it has no descriptor for."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except CANNOT_RAISE_LIMIT:
            pass
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(16, min(wanted, soft - reserve))
