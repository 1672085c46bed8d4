"""Error responses: always JSON, never more than a little of what the client sent, and the 503
with Retry-After a dependency answers while it can't serve (unavailable_response documents it).

FastAPI's own 422 lists every validation error with its `input`, the offending value whole (a
300 MB body came back as a 300 MB answer) and its `ctx`. Here a 422 keeps the first MAX_ERRORS
errors, cuts every string that can come from the client (location parts, message, input, ctx
values) to MAX_TEXT characters, keeps `input` only when it is a single value, and says how many
errors it left out: a few kilobytes at most, on every route. HTTPException details (which routes
build from input: f"item {item_id} not found") are cut to MAX_DETAIL characters.
"""

from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Match

# Seconds a client should wait before retrying a request that failed with 503.
RETRY_AFTER_SECONDS = 5

HTTP_METHODS = ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")
MAX_ERRORS = 10
MAX_LOCATION_PARTS = 8
MAX_TEXT = 100
MAX_DETAIL = 300


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


def cut(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def single_value(value: Any) -> Any:
    """A value a client sent, as an error may show it: strings cut, numbers as they are (a huge
    integer as cut text), anything holding more values left out (None)."""
    if isinstance(value, str):
        return cut(value)
    if isinstance(value, bool | float) or value is None:
        return value
    if isinstance(value, int):
        return value if abs(value) < 10**15 else cut(str(value))
    return None


def bounded(error: dict[str, Any]) -> dict[str, Any]:
    """One validation error, holding a bounded amount of the client's input."""
    location = [part if isinstance(part, int) else cut(str(part)) for part in error["loc"]]
    if len(location) > MAX_LOCATION_PARTS:
        location = [*location[:MAX_LOCATION_PARTS], "…"]
    shown: dict[str, Any] = {"type": error["type"], "loc": location, "msg": cut(str(error["msg"]))}
    if (value := single_value(error.get("input"))) is not None:
        shown["input"] = value
    if isinstance(context := error.get("ctx"), dict):
        entries = list(context.items())[:4]
        shown["ctx"] = {cut(str(key), 40): cut(str(value)) for key, value in entries}
    return shown


def add_error_handlers(app: FastAPI) -> None:
    """Bounded 422s and HTTPException details, a 405 that names every allowed method, and a JSON
    500 for any unhandled exception."""

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        errors = exc.errors() if isinstance(exc, RequestValidationError) else []
        content: dict[str, Any] = {"detail": [bounded(error) for error in errors[:MAX_ERRORS]]}
        if len(errors) > MAX_ERRORS:
            content["errors_not_shown"] = len(errors) - MAX_ERRORS
        return JSONResponse(content, status_code=422)

    async def http_error(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, HTTPException):  # registered for it alone
            raise exc
        if exc.status_code in (204, 304):  # no body allowed
            return Response(status_code=exc.status_code, headers=exc.headers)
        detail = cut(exc.detail, MAX_DETAIL) if isinstance(exc.detail, str) else exc.detail
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)

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

    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(status.HTTP_405_METHOD_NOT_ALLOWED, method_not_allowed)
    app.add_exception_handler(Exception, internal_error)
