"""Error responses: always JSON, and 503 with Retry-After when a dependency can't serve now."""

import logging
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.routing import Match

log = logging.getLogger(__name__)

# Seconds a client should wait before retrying a request that failed with 503.
RETRY_AFTER_SECONDS = 5

HTTP_METHODS = ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")


class Error(BaseModel):
    detail: str


# For routes that need a dependency that can be unavailable: merged into their OpenAPI responses.
unavailable_response: dict[int | str, dict[str, Any]] = {
    status.HTTP_503_SERVICE_UNAVAILABLE: {
        "model": Error,
        "description": "A dependency is unavailable; retry after the Retry-After seconds",
        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
    }
}


def answer_unavailable(app: FastAPI, *exception_types: type[Exception]) -> None:
    """Exceptions of these types (a dependency that can't serve now) answer 503 with Retry-After."""

    async def service_unavailable(request: Request, exc: Exception) -> JSONResponse:
        # One line, no traceback: an outage would otherwise bury the logs in identical stacks.
        log.error("dependency unavailable: %s: %s", type(exc).__name__, str(exc).partition("\n")[0])
        return JSONResponse(
            {"detail": "service temporarily unavailable, retry later"},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

    for exception_type in exception_types:
        app.add_exception_handler(exception_type, service_unavailable)


def add_error_handlers(app: FastAPI) -> None:
    """A 405 that names every allowed method, and a JSON 500 for any unhandled exception."""

    async def method_not_allowed(request: Request, exc: Exception) -> JSONResponse:
        # Starlette's Allow header names the methods of the first route matching the path only;
        # GET and POST /items are two routes, so ask every route about every method.
        routes = request.app.router.routes
        allowed = [
            method
            for method in HTTP_METHODS
            if any(
                route.matches({**request.scope, "method": method})[0] is Match.FULL
                for route in routes
            )
        ]
        return JSONResponse(
            {"detail": "Method Not Allowed"},
            status_code=status.HTTP_405_METHOD_NOT_ALLOWED,
            headers={"Allow": ", ".join(allowed)},
        )

    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        # The server still logs the traceback; the client gets JSON like every other error.
        return JSONResponse({"detail": "internal server error"}, status_code=500)

    app.add_exception_handler(status.HTTP_405_METHOD_NOT_ALLOWED, method_not_allowed)
    app.add_exception_handler(Exception, internal_error)
