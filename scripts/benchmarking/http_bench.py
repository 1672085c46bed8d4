"""The --http mode: the order of its steps (scripts/benchmark says what it measures)."""

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarking import report
from benchmarking.load import (
    BODY_LUA,
    SessionCounter,
    Timing,
    check_routes,
    measure,
    rss_mib,
    wait_ready,
    wrk_binary,
)
from benchmarking.servers import SERVERS, bare_on, install_other_servers, ours_on
from benchmarking.services import (
    SEED,
    UNAUTHENTICATED_ROUTES,
    Service,
    bare,
    migrate_ours,
    migrate_peer,
    ours_in_image,
    ours_on_host,
    peer,
    prepare_ours,
    prepare_peer,
)
from harness.commands import machine_share
from harness.docker import Image, make_build, remove_image
from harness.oidc import Issuer
from harness.postgres import postgres_server
from harness.pythons import project_env


@dataclass
class Options:
    python_version: str
    rounds: int
    clients: list[int]
    timing: Timing
    template: Path
    work: Path | None  # kept (and the peer reused) when given; a temporary directory otherwise
    out: Path
    exclusive: bool  # hold the machine (harness.commands.machine_share) while measuring
    servers: bool = False  # also ours and the bare app on uvicorn and Hypercorn (servers.py)


def log(message: str) -> None:
    print(f"[benchmark] {message}", file=sys.stderr, flush=True)


def run_service(
    service: Service, round_: int, options: Options, sessions: SessionCounter, body_lua: Path
) -> tuple[list[dict[str, object]], dict[str, object]]:
    """Starts the service, checks its routes, measures each route at each client count, stops it."""
    started = time.monotonic()
    server = service.start()
    try:
        first_200_s = wait_ready(server, service.routes["health"], started)
        check_routes(server, service.routes, service.headers)
        time.sleep(0.5)
        idle_rss = rss_mib(server.pid)
        cells = []
        for route_name, route in service.routes.items():
            for clients in options.clients:
                cell = measure(server, route, clients, options.timing, sessions,
                               service.database, body_lua, service.headers)  # fmt: skip
                cells.append({"service": service.name, "round": round_, "route": route_name,
                              "clients": clients, **cell})  # fmt: skip
                log(f"round {round_} {service.name} {route_name}@{clients}: "
                    f"{cell['requests_per_s']:,.0f}/s p99 {cell['p99_ms']} ms, "
                    f"{cell['new_sessions']} new sessions")  # fmt: skip
        process = {"service": service.name, "round": round_,
                   "first_200_s": round(first_200_s, 2), "idle_rss_mib": round(idle_rss, 1),
                   "final_rss_mib": round(rss_mib(server.pid), 1),
                   "load": round(os.getloadavg()[0], 2)}  # fmt: skip
        if not server.running():
            raise RuntimeError(f"{service.name} exited during the load:\n{server.output()}")
    finally:
        server.stop()
    return cells, process


def template_revision(template: Path) -> str:
    described = subprocess.run(
        ["git", "-C", str(template), "describe", "--always", "--dirty", "--abbrev=12"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return described.stdout.strip() or "unknown (not a git checkout)"


def run_http(options: Options) -> None:
    began = time.monotonic()
    wrk_binary()  # missing: fail before the minutes of preparation
    os.environ.update(project_env(options.python_version))  # the bake locks, make installs with it
    python = os.environ["UV_PYTHON"]
    meta: dict[str, object] = {
        "template": f"{options.template} at {template_revision(options.template)}",
        "python": python, "rounds": options.rounds, "clients": options.clients,
        "warmup_s": options.timing.warmup, "seconds": options.timing.seconds,
        "cpus": os.cpu_count(), "load_before": [round(x, 2) for x in os.getloadavg()],
    }  # fmt: skip
    with contextlib.ExitStack() as stack:
        work = options.work or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        logs = work / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log(f"baking and installing ours (Python {options.python_version}) in {work / 'ours'}")
        ours = prepare_ours(work / "ours", options.template, options.python_version)
        tag = f"benchmark-ours:{os.getpid()}"
        log(f"building its image {tag}")
        make_build(ours, tag, options.python_version)
        stack.callback(remove_image, tag)
        # The cost of checking a token: the same template baked without auth, GET by id beside.
        log(f"baking, installing and building ours with auth=none in {work / 'ours-no-auth'}")
        ours_no_auth = prepare_ours(
            work / "ours-no-auth", options.template, options.python_version, auth="none"
        )
        tag_no_auth = f"benchmark-ours-no-auth:{os.getpid()}"
        make_build(ours_no_auth, tag_no_auth, options.python_version)
        stack.callback(remove_image, tag_no_auth)
        issuer = stack.enter_context(Issuer())
        log(f"installing and generating the peer in {work / 'peer'}")
        peer_project = prepare_peer(work / "peer", python)
        body_lua = work / "body.lua"
        body_lua.write_text(BODY_LUA)
        database = stack.enter_context(postgres_server())
        sessions = SessionCounter(database)
        ours_url, _ = database.create_database("ours"), database.create_database("peer")
        migrate_ours(ours, ours_url, issuer)
        migrate_peer(peer_project, database.port)
        sessions.psql(SEED.format(table="items"), "ours")
        sessions.psql(SEED.format(table="dummy_model"), "peer")
        services = [
            ours_on_host(ours, ours_url, logs, issuer),
            ours_in_image(Image(tag, "benchmark", ours, issuer), ours_url),
            ours_in_image(
                Image(tag_no_auth, "benchmark", ours_no_auth),
                ours_url,
                "ours (image, auth=none)",
                UNAUTHENTICATED_ROUTES,
            ),
            peer(peer_project, database.port, logs),
            bare(work / "bare", ours, logs),
        ]
        if options.servers:
            log("installing uvicorn and Hypercorn into ours' venv")
            install_other_servers(ours)
            services += [ours_on(server, ours, ours_url, logs, issuer) for server in SERVERS]
            services += [bare_on(server, work / "bare", ours, logs) for server in SERVERS]
        meta["postgresql"] = sessions.psql("SHOW server_version")
        meta["versions"] = {service.name: service.versions for service in services}
        measuring = time.monotonic()
        cells, processes = [], []
        with machine_share(exclusive=True) if options.exclusive else contextlib.nullcontext():
            for round_ in range(1, options.rounds + 1):
                # Alternating order: what runs first in one round runs last in the next.
                order = services if round_ % 2 else services[::-1]
                for service in order:
                    done, process = run_service(service, round_, options, sessions, body_lua)
                    cells += done
                    processes.append(process)
        meta["measuring_s"] = round(time.monotonic() - measuring)
    meta["load_after"] = [round(x, 2) for x in os.getloadavg()]
    meta["total_s"] = round(time.monotonic() - began)
    report.write(options.out, meta, services, options.clients, cells, processes)
