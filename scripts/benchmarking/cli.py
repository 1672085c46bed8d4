"""The command line of scripts/benchmark (its docstring says what each mode measures)."""

import argparse
import os
from pathlib import Path

from benchmarking.images import measure_images
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
    args = parser.parse_args()
    os.environ.setdefault("TEMPLATE_BASE_IMAGES", DEFAULT_BASES)
    measure_images(args.runs, args.out)
