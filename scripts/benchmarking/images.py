"""The image (the default mode): for the default project of each package manager, on Python
3.13, its sizes, cold build, a one-line change's rebuild, first /healthz and `docker stop`.

Bakes src/<uv|pip>/postgresql/3.13 (every other answer default, locking on) and, for each run:
  cold build  `docker rmi` the images, `docker builder prune -af` (the BuildKit cache and its
              cache mounts), then time `make docker-build`. The base image stays local.
  sizes       image and base: `docker image inspect -f {{.Size}}`. venv: the bytes of /app/.venv
              inside the image counted as Docker counts a layer: regular files, hard links once
              (symlinks and directories are 0 in a layer tar). `du -sb` is recorded beside it; it
              adds the symlinks' target lengths. App files: /app/alembic.ini + /app/migrations,
              counted alike and NOT waste. waste = image - base - venv - app files.
  code change append a new comment line to src/<pkg>/app.py, time `make docker-build`, and sum
              the sizes (`docker history --human=false`) of the layers whose digests
              (RootFS.Layers) the previous image did not have: the bytes a push or pull ships.
  first 200   from just before `docker run -d` to the first 200 from /healthz (polled every 10 ms).
  stop        the time `docker stop` takes (10 s grace) and the exit code (0 or 143 is clean).
Writes medians (and every run) to OUT/benchmark.json and a table to OUT/benchmark.md.
MB = 10^6 bytes. DOCKER_RUN_FLAGS (default "--network host": the service is then on
127.0.0.1:8000).
"""

import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchmarking.baked import bake_locked
from harness.docker import base_images, make_build
from harness.pythons import project_env

DOCKER = os.environ.get("DOCKER", "docker")
RUN_FLAGS = shlex.split(os.environ.get("DOCKER_RUN_FLAGS", "--network host"))
# Not the default 3.14: the post-gen hook locks on this machine, which has no 3.14 (the tests lock
# 3.14 in a container); the image figures compare like with like on either.
PYTHON_VERSION = "3.13"
HEALTHZ = "http://127.0.0.1:8000/healthz"
# The service only needs a valid URL to start; /healthz never touches the database.
DATABASE_URL = "DATABASE_URL=postgresql://x@127.0.0.1:9/x"
MB = 1_000_000
# Measure: (label, unit, target or None). Targets are upper bounds.
MEASURES = {
    "image_bytes": ("image", "MB", None),
    "base_bytes": ("base", "MB", None),
    "venv_bytes": ("venv", "MB", None),
    "app_files_bytes": ("app files", "MB", None),
    "waste_bytes": ("waste", "MB", 1 * MB),
    "cold_build_s": ("cold build", "s", None),
    "change_ships_bytes": ("code change ships", "MB", 1 * MB),
    "rebuild_s": ("rebuild", "s", 1.5),
    "first_200_s": ("first 200", "s", 1.0),
    "stop_s": ("stop", "s", 1.0),
}
# Dockerfile instructions that never make a layer (BuildKit and legacy `#(nop)` history rows).
METADATA = {"ENV", "ARG", "LABEL", "CMD", "ENTRYPOINT", "EXPOSE", "HEALTHCHECK", "USER", "VOLUME",
            "STOPSIGNAL", "SHELL", "ONBUILD", "MAINTAINER"}  # fmt: skip
# Bytes of the regular files under the given paths (hard links once), as Docker sizes a layer.
FILE_BYTES = """import os, stat, sys
files = {}
for top in sys.argv[1:]:
    for path in [top] + [os.path.join(d, n) for d, _, names in os.walk(top) for n in names]:
        st = os.lstat(path)
        if stat.S_ISREG(st.st_mode):
            files[st.st_dev, st.st_ino] = st.st_size
print(sum(files.values()))"""


def docker(*args: str) -> str:
    result = subprocess.run([DOCKER, *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"`docker {shlex.join(args)}` failed:\n{result.stderr}")
    return result.stdout.strip()


def inspect(image: str, template: str) -> str:
    return docker("inspect", "-f", template, image)


def timed_build(project: Path, image: str) -> float:
    """Seconds `make docker-build` takes, on the base image TEMPLATE_BASE_IMAGES names."""
    started = time.perf_counter()
    make_build(project, image, PYTHON_VERSION)
    return time.perf_counter() - started


def layers(image: str) -> list[tuple[str, int, str]]:
    """(digest, size, instruction) per layer, oldest first, pairing RootFS with the history."""
    digests = json.loads(inspect(image, "{{json .RootFS.Layers}}"))
    rows = docker("history", "--human=false", "--no-trunc", "--format", "{{.Size}}\t{{.CreatedBy}}",
                  image).splitlines()  # fmt: skip
    made = []
    for size, _, created_by in (row.partition("\t") for row in reversed(rows)):
        words = created_by.replace("/bin/sh -c #(nop)", "").split()
        if int(size) or not words or words[0] not in METADATA:
            made.append((int(size), created_by[:60]))
    if len(made) != len(digests):
        sys.exit(f"{image}: {len(digests)} layers but {len(made)} layer-making history rows")
    return [(digest, size, what) for digest, (size, what) in zip(digests, made, strict=True)]


def file_bytes(image: str, *paths: str) -> int:
    return int(docker("run", "--rm", "--entrypoint", "python", image, "-c", FILE_BYTES, *paths))


def healthz_ok() -> bool:
    try:
        with urllib.request.urlopen(HEALTHZ, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def running(container: str) -> bool:
    return inspect(container, "{{.State.Running}}") == "true"


def start_and_stop(image: str) -> dict[str, float | int]:
    if healthz_ok():
        sys.exit(f"something else already answers {HEALTHZ}: stop it first")
    started = time.perf_counter()
    container = docker("run", "-d", *RUN_FLAGS, "-e", DATABASE_URL, image)
    try:
        polls = 0
        while not healthz_ok():
            polls += 1
            if polls % 100 == 0 and (polls > 3000 or not running(container)):
                sys.exit(f"{image} never answered /healthz:\n{docker('logs', container)}")
            time.sleep(0.01)
        first_200 = time.perf_counter() - started
        if not running(container):
            sys.exit(f"/healthz answered, but not from {container} (is port 8000 taken?)")
        started = time.perf_counter()
        docker("stop", container)
        stop = time.perf_counter() - started
        exit_code = int(inspect(container, "{{.State.ExitCode}}"))
    finally:
        docker("rm", "-f", "-v", container)
    return {"first_200_s": first_200, "stop_s": stop, "stop_exit_code": exit_code}


def one_run(project: Path, image: str, base: str, run: int, ids: set[str]) -> dict[str, object]:
    for old in ids:
        subprocess.run([DOCKER, "rmi", "-f", old], capture_output=True, check=False)
    docker("builder", "prune", "-af")
    result: dict[str, object] = {"cold_build_s": timed_build(project, image)}
    ids.add(inspect(image, "{{.Id}}"))
    image_bytes, base_bytes = int(inspect(image, "{{.Size}}")), int(inspect(base, "{{.Size}}"))
    venv = file_bytes(image, "/app/.venv")
    app_files = file_bytes(image, "/app/alembic.ini", "/app/migrations")
    du = docker("run", "--rm", "--entrypoint", "du", image, "-sb", "/app/.venv").split()[0]
    result |= {"image_bytes": image_bytes, "base_bytes": base_bytes, "venv_bytes": venv,
               "venv_du_sb_bytes": int(du), "app_files_bytes": app_files,
               "waste_bytes": image_bytes - base_bytes - venv - app_files}  # fmt: skip
    result |= start_and_stop(image)
    before = {digest for digest, _, _ in layers(image)}
    app = next(project.glob("src/*/app.py"))
    with app.open("a") as f:
        f.write(f"# benchmark change {run} at {time.time_ns()}\n")
    result["rebuild_s"] = timed_build(project, image)
    ids.add(inspect(image, "{{.Id}}"))
    shipped = [(size, what) for digest, size, what in layers(image) if digest not in before]
    result |= {"change_ships_bytes": sum(size for size, _ in shipped), "change_layers": shipped}
    return result


def cell(key: str, value: float) -> str:
    _, unit, target = MEASURES[key]
    if unit == "s":
        shown = f"{value:.2f} s"
    else:  # small sizes in bytes too: their MB rounds to 0.00
        shown = f"{value / MB:.2f} MB" + (f" ({value:,.0f} B)" if abs(value) < MB else "")
    return shown if target is None else f"{shown} {'met' if value <= target else '**NOT met**'}"


def write(results: dict[str, dict], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "benchmark.json").write_text(json.dumps(results, indent=2) + "\n")
    head = ["", *(label for label, _, _ in MEASURES.values()), "stop exit codes"]
    target = [f"≤ {t / MB if u == 'MB' else t:g} {u}" if t else "" for _, u, t in MEASURES.values()]
    lines = [
        f"| {' | '.join(head)} |",
        f"|{'---|' * len(head)}",
        f"| target | {' | '.join(target)} | 0 or 143 |",
    ]
    for pm, result in results.items():
        codes = result["stop_exit_codes"]
        clean = "met" if set(codes) <= {0, 143} else "**NOT met**"
        cells = [cell(key, result["median"][key]) for key in MEASURES]
        lines.append(f"| {pm} | {' | '.join(cells)} | {', '.join(map(str, codes))} {clean} |")
    runs = len(next(iter(results.values()))["runs"])
    lines += [
        f"\nMedians of {runs} runs; src layout, PostgreSQL, Python {PYTHON_VERSION}, other answers"
        " default. MB = 10^6 bytes. waste = image - base - venv - app files (alembic.ini +"
        " migrations, reported apart). The layers each code change shipped:"
    ]
    for pm, result in results.items():
        for run, r in enumerate(result["runs"], 1):
            shipped = ", ".join(f"`{what}` {size:,} B" for size, what in r["change_layers"])
            lines.append(f"- {pm} run {run} ({r['rebuild_s']:.2f} s): {shipped}")
    (out / "benchmark.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def benchmark(package_manager: str, tmp: Path, base: str, runs: int) -> dict[str, object]:
    print(f"[benchmark] baking and locking the {package_manager} project", file=sys.stderr)
    project = bake_locked(tmp, PYTHON_VERSION, package_manager)
    image = f"benchmark-{package_manager}:{os.getpid()}"
    ids: set[str] = set()  # every image built here, removed at the end
    try:
        results = []
        for run in range(1, runs + 1):
            results.append(one_run(project, image, base, run, ids))
            print(f"[benchmark] {package_manager} run {run}: {results[-1]}", file=sys.stderr)
    finally:
        for old in ids:
            subprocess.run([DOCKER, "rmi", "-f", old], capture_output=True, check=False)
    keys = [*MEASURES, "venv_du_sb_bytes"]
    return {
        "median": {key: statistics.median(r[key] for r in results) for key in keys},
        "stop_exit_codes": sorted({r["stop_exit_code"] for r in results}),
        "runs": results,
    }


def measure_images(runs: int, out: Path) -> None:
    base = base_images()[PYTHON_VERSION]
    os.environ.update(project_env(PYTHON_VERSION))  # the post-gen hook locks with these
    with tempfile.TemporaryDirectory() as tmp:
        results = {pm: benchmark(pm, Path(tmp, pm), base, runs) for pm in ("uv", "pip")}
    write(results, out)
