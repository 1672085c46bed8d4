"""One plain ASGI middleware around every HTTP request: its id (in every log line the request
causes, and in the response's X-Request-ID), its metrics (observability/metrics.py), and one log
line when it is answered: method, path, route, status, duration, client, and the fields the
request's own code added (observability/logs.add_request_fields: e.g. the caller). One
middleware, one send wrapper and one route lookup per request: what a request costs here is a
fraction of what it costs the app.
"""

import logging
import random
import re
import time

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from {{ cookiecutter.package_name }}.observability import metrics
from {{ cookiecutter.package_name }}.observability.logs import (
    ACCESS_LOGGER,
    request_fields,
    request_id,
)

# ASGI header names arrive lower-cased, as bytes.
REQUEST_ID_HEADER = b"x-request-id"
# An incoming id is reused only if it is short and plain, so it can't forge log content.
ACCEPTED_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._-]{1,128}$")

access_log = logging.getLogger(ACCESS_LOGGER)


def incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER:
            return value.decode() if ACCEPTED_REQUEST_ID.match(value) else None
    return None


def route_template(scope: Scope) -> str:
    """The path template of the route that answered (`/items/{item_id}`), never the raw path:
    one label value per route, whatever clients send. "unmatched" when no route matched."""
    route = scope.get("route")
    if route is None:  # Starlette's own routes (/openapi.json, /docs) don't record themselves
        routes = getattr(getattr(scope.get("app"), "router", None), "routes", [])
        route = next((r for r in routes if r.matches(scope)[0] is Match.FULL), None)
    return str(getattr(route, "path", "unmatched"))


class RequestMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # A new one as uuid4().hex is: 32 random hex digits, but not from os.urandom: an id is no
        # secret, and that system call lets the server's threads take the interpreter. (`random`
        # is seeded again in each worker process.)
        rid = incoming_request_id(scope) or f"{random.getrandbits(128):032x}"
        id_header = (REQUEST_ID_HEADER, rid.encode())
        status = 500  # until a response starts: an exception propagating, answered so

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), id_header]
            await send(message)

        token, fields_token = request_id.set(rid), request_fields.set({})
        began = time.perf_counter()
        metrics.IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - began
            metrics.IN_FLIGHT.dec()
            method, route = scope["method"], route_template(scope)
            metrics.observe_request(method, route, status, elapsed)
            if access_log.isEnabledFor(logging.INFO):
                log_request(scope, route, status, elapsed)
            request_id.reset(token)
            request_fields.reset(fields_token)


def log_request(scope: Scope, route: str, status: int, elapsed: float) -> None:
    method, path, client = scope["method"], scope["path"], scope.get("client")
    record = access_log.makeRecord(
        access_log.name, logging.INFO, __file__, 0, "%s %s %s", (method, path, status), None
    )
    record.fields = {
        "method": method,
        "path": path,
        "route": route,
        "status": status,
        "duration_ms": round(elapsed * 1000, 3),
        "client": client[0] if client else None,
    }
    # What access_log.info() does, less its look up the stack for the caller's file and line,
    # which no formatter here prints: the same filters and handlers.
    access_log.handle(record)
