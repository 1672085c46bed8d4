"""Liveness and readiness probes, for orchestrators and load balancers."""

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel

# A readiness check returns None when fine, or the reason the service can't take traffic.
ReadinessCheck = Callable[[], Awaitable[str | None]]

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers. It checks nothing else: a database outage must not
    get the process restarted."""
    return {"status": "ok"}


class Readiness(BaseModel):
    status: str
    reason: str | None = None


@router.get(
    "/readyz",
    response_model_exclude_none=True,
    responses={status.HTTP_503_SERVICE_UNAVAILABLE: {"model": Readiness}},
)
async def readyz(request: Request, response: Response) -> Readiness:
    """Readiness: every dependency this service needs is usable."""
    checks: list[ReadinessCheck] = request.app.state.readiness_checks
    for check in checks:
        reason = await check()
        if reason is not None:
            response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
            return Readiness(status="unavailable", reason=reason)
    return Readiness(status="ready")
