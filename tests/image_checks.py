"""Checks of a built image, each returning the problem it found or None: the image tests assert
None on every built image, the negative controls assert a problem on the broken ones."""

import re
import time
from typing import Any

from harness.docker import Image, StartContainer, run_once, wait_for_healthz


def non_root_problem(image: Image) -> str | None:
    user = image.config()["User"]
    if not re.fullmatch(r"[1-9][0-9]*(:[0-9]+)?", user):
        return f"USER is {user!r}: not a numeric non-root UID"
    writable = "[p for p in ('/app', '/app/.venv') if os.access(p, os.W_OK)]"
    probe = f"import os; print(os.getuid(), {writable})"
    result = run_once(image, "python", "-c", probe)
    uid, writable = result.stdout.split(" ", 1)
    if uid == "0" or writable.strip() != "[]":
        return f"runs as uid {uid} with writable app files {writable.strip()}"
    return None


def import_problem(image: Image) -> str | None:
    probe = f"import {image.package}; print({image.package}.__file__)"
    result = run_once(image, "python", "-I", "-c", probe, working_dir="/")
    if result.returncode != 0 or "/site-packages/" not in result.stdout:
        return f"`import {image.package}` from / failed or missed site-packages:\n{result.stderr}"
    return None


# The local OpenID provider of `make dev` and the tests (auth=oidc) signs tokens the service
# would accept while AUTH_ISSUER names it: its code must never be in an image.
LOCAL_ISSUER_FILES = ("dev_issuer.py", "auth_fixtures.py")
LEFTOVERS_PROBE = f"""
import importlib.util, os, shutil
found = [p for p in ("/root/.cache/uv", "/root/.cache/pip") if os.path.exists(p)]
found += [t for t in ("uv", "gcc", "cc") if shutil.which(t)]
found += [m for m in ("pytest", "ruff", "mypy", "setuptools") if importlib.util.find_spec(m)]
for top, dirs, files in os.walk("/"):
    dirs[:] = [d for d in dirs if os.path.join(top, d) not in ("/proc", "/sys", "/dev")]
    found += [os.path.join(top, n) for n in dirs + files if n == ".git" or n.startswith(".env")]
    found += [os.path.join(top, n) for n in files if n in {LOCAL_ISSUER_FILES!r}]
print(found)
"""


def leftovers_problem(image: Image) -> str | None:
    result = run_once(image, "python", "-c", LEFTOVERS_PROBE, user="0")
    return None if result.stdout.strip() == "[]" else f"found in the image: {result.stdout.strip()}"


# `docker stop`'s default: after it, SIGKILL (exit code 137).
STOP_TIMEOUT = 10
# An idle service stops in well under a second; past this, its shutdown stalls on something.
STOP_STALL_SECONDS = 5


def graceful_stop_problem(image: Image, start: StartContainer, **options: Any) -> str | None:
    """SIGTERM stops it: the server is PID 1 and handles it (exit 0 or 143, not SIGKILL's 137 at
    the timeout), without a stall. Not a timing measurement: scripts/benchmark reports the time."""
    container = start(image, **options)
    if wait_for_healthz(container) is None:
        return f"never answered /healthz:\n{container.logs()[-2000:]}"
    began = time.monotonic()
    container.stop(timeout=STOP_TIMEOUT)
    took, code = time.monotonic() - began, container.state()["ExitCode"]
    stopped = f"`docker stop` took {took:.1f} s, exit code {code}"
    if code not in (0, 143):
        return f"{stopped}: killed at the timeout, SIGTERM not handled by PID 1"
    if took > STOP_STALL_SECONDS:
        return f"{stopped}: its shutdown stalls"
    return None
