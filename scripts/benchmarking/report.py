"""The --http mode's results: one Markdown table (OUT/http.md, and stdout) and every cell
(OUT/http.json)."""

import json
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarking.servers import SERVERS
from benchmarking.services import Service

ROUTES = ("health", "list", "get", "create")
HEADER = ["route", "clients", "service", "requests/s: median (min-max)", "p50 ms", "p99 ms",
          "errors", "new DB sessions", "CPU µs/request", "RSS after MiB"]  # fmt: skip
# The goal for /healthz: ours at least this share of the bare app's requests/s.
HEALTH_GOAL = 0.8
# Checking a token costs GET by id under 10 %: the auth=oidc image with a token at least this
# share of the auth=none image's requests/s.
AUTH_GOAL = 0.9

Cell = dict[str, object]


def errors(cell: Cell) -> int:
    return int(cell["non_2xx"]) + sum(cell["socket_errors"].values())  # type: ignore[call-overload, attr-defined]


def summarize(services: Sequence[Service], clients: list[int], cells: list[Cell]) -> list[Cell]:
    """One row per (route, clients, service) over the rounds: medians, the requests/s range,
    errors and new sessions per round, the largest RSS."""
    rows: list[Cell] = []
    for route in ROUTES:
        for count in clients:
            for service in services:
                key = {"route": route, "clients": count, "service": service.name}
                mine = [c for c in cells if all(c[k] == v for k, v in key.items())]
                if route not in service.routes or not mine:
                    rows.append({**key, "missing": True})
                    continue
                rps = [float(c["requests_per_s"]) for c in mine]  # type: ignore[arg-type]
                rows.append({
                    **key, "rounds": len(mine),
                    "requests_per_s": statistics.median(rps), "min": min(rps), "max": max(rps),
                    "p50_ms": median(c["p50_ms"] for c in mine),
                    "p99_ms": median(c["p99_ms"] for c in mine),
                    "errors": [errors(c) for c in mine],
                    "new_sessions": [c["new_sessions"] for c in mine],
                    "cpu_us_per_request": median(c["cpu_us_per_request"] for c in mine),
                    "rss_mib": max(float(c["rss_mib"]) for c in mine),  # type: ignore[arg-type]
                })  # fmt: skip
    return rows


def median(values: object) -> float | None:
    present = [float(v) for v in values if v is not None]  # type: ignore[attr-defined]
    return statistics.median(present) if present else None


def number(value: object, digits: int = 0) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def table(rows: list[Cell]) -> list[str]:
    lines = [f"| {' | '.join(HEADER)} |", f"|{'---|' * len(HEADER)}"]
    for row in rows:
        head = [str(row["route"]), str(row["clients"]), str(row["service"])]
        if row.get("missing"):
            lines.append(f"| {' | '.join(head + ['—'] * (len(HEADER) - 3))} |")
            continue
        cells = [
            f"{number(row['requests_per_s'])} ({number(row['min'])}-{number(row['max'])})",
            number(row["p50_ms"], 1),
            number(row["p99_ms"], 1),
            " / ".join(map(str, row["errors"])),  # type: ignore[call-overload]
            " / ".join("—" if n is None else str(n) for n in row["new_sessions"]),  # type: ignore[attr-defined]
            number(row["cpu_us_per_request"]),
            number(row["rss_mib"], 1),
        ]
        lines.append(f"| {' | '.join(head + cells)} |")
    return lines


def ratio(
    rows: list[Cell], route: str, count: int, ours: str, other: str, key: str = "requests_per_s"
) -> float | None:
    found = {r["service"]: r for r in rows if r["route"] == route and r["clients"] == count}
    a, b = found.get(ours, {}), found.get(other, {})
    if a.get(key) is None or b.get(key) is None:
        return None
    return float(a[key]) / float(b[key])  # type: ignore[arg-type]


def token_cost(rows: list[Cell], clients: list[int]) -> str:
    """GET by id's CPU per request with a token over without: steadier than requests/s here."""
    parts = []
    for count in clients:
        value = ratio(rows, "get", count, "ours (image)", "ours (image, auth=none)",
                      "cpu_us_per_request")  # fmt: skip
        if value is not None:
            parts.append(f"get@{count} {value:.2f}x")
    return f"- CPU per request, ours (image) with a token / auth=none: {', '.join(parts) or '—'}"


def ratios(rows: list[Cell], clients: list[int]) -> list[str]:
    """Ours against the others, requests/s medians."""

    def line(ours: str, other: str, routes: Sequence[str], goal: float | None = None) -> str:
        parts: list[str] = []
        for route in routes:
            for count in clients:
                value = ratio(rows, route, count, ours, other)
                if value is not None:
                    met = "" if goal is None else (" met" if value >= goal else " **not met**")
                    parts.append(f"{route}@{count} {value:.2f}x{met}")
        goal_text = f" (goal >= {goal}x)" if goal else ""
        return f"- {ours} / {other}{goal_text}: {', '.join(parts) or '—'}"

    return [
        line("ours (host)", "bare FastAPI", ["health"], HEALTH_GOAL),
        line("ours (host)", "peer", ROUTES),
        line("ours (image)", "ours (host)", ROUTES),
        line("ours (image)", "ours (image, auth=none)", ["get"], AUTH_GOAL),
        token_cost(rows, clients),
        *[
            line(name, on_granian, routes)
            for server in SERVERS
            for name, on_granian, routes in (
                (f"ours (host, {server})", "ours (host)", ROUTES),
                (f"bare FastAPI ({server})", "bare FastAPI", ["health"]),
            )
            if any(row["service"] == name for row in rows)
        ],
    ]


def spread(values: list[float]) -> float:
    middle = statistics.median(values)
    return (max(values) - min(values)) / middle if middle else 0.0


def noise(cells: list[Cell]) -> str:
    """How far the rounds disagree, per cell: (max - min) / median of requests/s, and of CPU
    time per request."""
    groups: dict[tuple[object, ...], list[Cell]] = {}
    for cell in cells:
        groups.setdefault((cell["service"], cell["route"], cell["clients"]), []).append(cell)
    repeated = [group for group in groups.values() if len(group) > 1]
    if not repeated:
        return "one round: no spread between rounds"
    parts = []
    for key, label in (("requests_per_s", "requests/s"), ("cpu_us_per_request", "CPU/request")):
        spreads = [spread([float(c[key]) for c in group]) for group in repeated  # type: ignore[arg-type]
                   if all(c[key] is not None for c in group)]  # fmt: skip
        if spreads:
            parts.append(f"{label} median {statistics.median(spreads):.0%}, "
                         f"largest {max(spreads):.0%}")  # fmt: skip
    return f"spread between rounds ((max - min) / median) over {len(repeated)} cells: " + (
        "; ".join(parts)
    )


def processes_lines(processes: list[Cell]) -> list[str]:
    lines = []
    for name in dict.fromkeys(str(p["service"]) for p in processes):
        runs = [p for p in processes if p["service"] == name]
        each = "; ".join(
            f"round {p['round']}: first 200 after {p['first_200_s']} s, RSS {p['idle_rss_mib']} → "
            f"{p['final_rss_mib']} MiB, load average {p['load']} at its end"
            for p in runs
        )
        lines.append(f"- {name}: {each}")
    return lines


def routes_line(service: Service) -> str:
    routes = (f"{name} `{r.method} {r.path}` → {r.status}" for name, r in service.routes.items())
    token = " (each request with a bearer token from a local issuer)" if service.headers else ""
    return f"- {service.name}: {', '.join(routes)}{token}"


def write(
    out: Path,
    meta: dict[str, object],
    services: Sequence[Service],
    clients: list[int],
    cells: list[Cell],
    processes: list[Cell],
) -> None:
    rows = summarize(services, clients, cells)
    versions: dict[str, str] = meta["versions"]  # type: ignore[assignment]
    lines = [
        f"# The request path: ours, its image, the peer, a bare app ({time.strftime('%F %H:%M')})",
        "",
        *table(rows),
        "",
        f"Rounds: {meta['rounds']}, the services' order alternating; each cell "
        f"{meta['warmup_s']} s of warm-up then {meta['seconds']} s measured, "
        "`wrk -t1 -cN --timeout 10s`, one worker process per service (Granian's beside its "
        "supervisor). Errors and new DB sessions: per round. CPU: the server's processes' user + "
        "system time per request (steadier than requests/s on a shared machine). RSS: their "
        "VmRSS added up after "
        "the cell, the larger of the rounds. The host rows share one interpreter; the image has "
        "its own (Setup).",
        "",
        "Ratios of requests/s (medians):",
        *ratios(rows, clients),
        "",
        "Processes (first 200 after the start; RSS after the route checks → after the last cell):",
        *processes_lines(processes),
        "",
        "Routes:",
        *map(routes_line, services),
        "",
        "Setup:",
        f"- template: {meta['template']}",
        *(f"- {name}: {text}" for name, text in versions.items()),
        f"- PostgreSQL {meta['postgresql']} (one throwaway server, fsync off; databases `ours` and "
        "`peer`, 100 rows seeded in each table); new sessions counted from its log "
        "(log_connections)",
        f"- {meta['cpus']} CPUs; load average {meta['load_before']} before, "
        f"{meta['load_after']} after",
        f"- noise: {noise(cells)}",
        f"- time: {meta['measuring_s']} s measuring, {meta['total_s']} s in all",
    ]
    # A background-jobs section (jobs/s, enqueue→start latency) goes here once there are jobs.
    out.mkdir(parents=True, exist_ok=True)
    text = "\n".join(lines) + "\n"
    (out / "http.md").write_text(text)
    results = {"meta": meta, "summary": rows, "cells": cells, "processes": processes}
    (out / "http.json").write_text(json.dumps(results, indent=2) + "\n")
    print(text)
