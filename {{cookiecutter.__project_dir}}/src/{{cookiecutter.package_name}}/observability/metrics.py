"""Prometheus metrics at GET /metrics: requests by method, route template and status, their
latency and how many are in flight, and the process (the database adds its pool's gauges:
database.observability).

With several workers (WORKERS > 1) every process writes its values to files in
PROMETHEUS_MULTIPROC_DIR (cli.py sets it up, emptied at each start) and /metrics, whichever worker
answers it, adds them up. Process metrics (CPU, memory) are then left out: the library can't
combine them across processes.
"""

import os
from pathlib import Path

from fastapi import APIRouter, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUESTS = Counter("http_requests", "HTTP requests answered", ["method", "route", "status"])
LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time from a request's arrival to the end of its response",
    ["method", "route", "status"],
)
# livesum: with several workers, the sum over the processes still running.
IN_FLIGHT = Gauge(
    "http_requests_in_flight", "HTTP requests being answered now", multiprocess_mode="livesum"
)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


router = APIRouter()


# Left out of the OpenAPI document: it is for Prometheus, not for the service's clients.
@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    """The metrics in Prometheus' text format."""
    registry = REGISTRY
    directory = multiprocess_dir()
    if directory is not None:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def forget_dead_workers() -> None:
    """A worker that died (and was replaced) no longer counts in the live gauges."""
    directory = multiprocess_dir()
    if directory is None:
        return
    for path in Path(directory).glob("gauge_live*_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]
        except PermissionError:  # alive, another user's
            pass


# The counter's and histogram's children by (method, route, status): .labels() checks its
# arguments and takes a lock on every call; a request finds its pair here instead.
_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """Count and time one answered request (web/middleware.py calls it for every one)."""
    children = _children.get((method, route, status))
    if children is None:
        labels = (method, route, str(status))
        children = _children[method, route, status] = (
            REQUESTS.labels(*labels),
            LATENCY.labels(*labels),
        )
    children[0].inc()
    children[1].observe(seconds)
