"""The command line of scripts/benchmark (its docstring says what each mode measures)."""

import argparse
import os
from pathlib import Path

from benchmarking.http_bench import Options, run_http
from benchmarking.images import measure_images
from benchmarking.jobs_bench import JobOptions, measure_jobs
from benchmarking.load import Timing
from harness.commands import TEMPLATE

# This machine's base images (scripts/build-base-images), where TEMPLATE_BASE_IMAGES is unset.
DEFAULT_BASES = (
    "3.11=local/python:3.11-slim-bookworm,3.12=local/python:3.12-slim-bookworm,"
    "3.13=local/python:3.13-slim-trixie"
)


def main(description: str) -> None:
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=TEMPLATE / "bench-results")
    parser.add_argument("--runs", type=int, default=3, help="image mode: runs (default 3)")
    http = parser.add_argument_group("--http mode")
    http.add_argument("--http", action="store_true", help="the request path (see above)")
    http.add_argument("--python", default="3.13", help="on the host and in the image (3.13)")
    http.add_argument("--rounds", type=int, default=2, help="default 2")
    http.add_argument("--clients", default="32,256", help="comma-separated (32,256)")
    http.add_argument("--warmup", type=int, default=2, help="seconds before each cell (2)")
    http.add_argument("--seconds", type=int, default=8, help="seconds measured per cell (8)")
    http.add_argument("--template", type=Path, default=TEMPLATE, help="a checkout (this one)")
    http.add_argument("--work", type=Path, help="kept there, the peer reused (default: temporary)")
    http.add_argument("--exclusive", action="store_true", help="hold the tests' machine lock")
    http.add_argument("--servers", action="store_true", help="also on uvicorn and Hypercorn")
    jobs = parser.add_argument_group("--jobs mode")
    jobs.add_argument("--jobs", action="store_true", help="the background job worker (see above)")
    jobs.add_argument("--queued", type=int, default=2000, help="throughput: jobs queued (2000)")
    jobs.add_argument("--concurrency", type=int, default=10, help="WORKER_CONCURRENCY (10)")
    jobs.add_argument("--rate", type=float, default=20, help="latency: POSTs per second (20)")
    jobs.add_argument("--for", dest="duration", type=float, default=15, help="latency: s (15)")
    args = parser.parse_args()
    os.environ.setdefault("TEMPLATE_BASE_IMAGES", DEFAULT_BASES)
    if args.http and args.jobs:
        parser.error("--http and --jobs are separate runs: choose one")
    if args.jobs:
        measure_jobs(JobOptions(args.queued, args.concurrency, args.rate, args.duration, args.out))
        return
    if not args.http:
        measure_images(args.runs, args.out)
        return
    options = Options(
        python_version=args.python,
        rounds=args.rounds,
        clients=[int(count) for count in args.clients.split(",")],
        timing=Timing(args.warmup, args.seconds),
        template=args.template.resolve(),
        work=args.work.resolve() if args.work else None,
        out=args.out,
        exclusive=args.exclusive,
        servers=args.servers,
    )
    run_http(options)
