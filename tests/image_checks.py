"""Checks of a built image, each returning the problem it found or None: the image tests assert
None on every built image, the negative controls assert a problem on the broken ones."""

import re
import time
from typing import Any

from harness.commands import machine_share
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


def graceful_stop_problem(image: Image, start: StartContainer, **options: Any) -> str | None:
    with machine_share(exclusive=True):  # timed: other workers' commands wait
        return _graceful_stop_problem(image, start, **options)


def _graceful_stop_problem(image: Image, start: StartContainer, **options: Any) -> str | None:
    container = start(image, **options)
    if wait_for_healthz(container) is None:
        return f"never answered /healthz:\n{container.logs()[-2000:]}"
    began = time.monotonic()
    container.stop(timeout=10)  # `docker stop`'s default
    took, code = time.monotonic() - began, container.state()["ExitCode"]
    if took > 2 or code not in (0, 143):
        return (
            f"`docker stop` took {took:.1f} s with exit code {code} (SIGTERM not handled by PID 1)"
        )
    return None
