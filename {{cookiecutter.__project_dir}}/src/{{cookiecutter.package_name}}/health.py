"""Liveness and readiness probes, for orchestrators and load balancers."""

from collections.abc import Callable

from fastapi import APIRouter, Request, Response, status

# A readiness check returns None when fine, or the reason the service can't take traffic.
ReadinessCheck = Callable[[], str | None]

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process answers. It checks nothing else: a database outage must not
    get the process restarted."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request, response: Response) -> dict[str, str]:
    """Readiness: every dependency this service needs is usable."""
    checks: list[ReadinessCheck] = request.app.state.readiness_checks
    for check in checks:
        reason = check()
        if reason is not None:
            response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
            return {"status": "unavailable", "reason": reason}
    return {"status": "ready"}
