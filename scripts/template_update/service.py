"""The service being updated: its record of the template (.cruft.json), its git state, and the
commands it runs (make targets, migration steps) with their output kept for the summary."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

RECORD = ".cruft.json"
# What `make lock` writes (uv; pip): never merged, regenerated after the merge.
LOCK_FILES = ["uv.lock", "requirements.lock", "requirements-dev.lock"]
TAIL_LINES = 15


class Refused(Exception):
    """The update can't start; nothing was touched. The message says why and what to do."""


def read_record(service: Path) -> dict:
    path = service / RECORD
    if not path.is_file():
        raise Refused(
            f"no {RECORD} in {service}: the updater reads there which template, commit and "
            "answers the service was generated with. A service made without it can be linked "
            f"to the template with `cruft link <template URL>`, which writes {RECORD}."
        )
    try:
        record = dict(json.loads(path.read_text()))
    except ValueError as error:
        raise Refused(
            f"{path} is not valid JSON ({error}): fix it, or restore it from git"
        ) from None
    missing = [key for key in ("template", "commit", "context") if not record.get(key)]
    if missing:
        raise Refused(
            f"{path} lacks {', '.join(missing)}: restore it from git, or link the service again "
            "with `cruft link <template URL>`"
        )
    return record


def write_record(service: Path, record: dict) -> bool:
    """Writes the record as the post-gen hook does; False if it already said that."""
    path = service / RECORD
    if json.loads(path.read_text()) == record:
        return False
    path.write_text(json.dumps(record, indent=2) + "\n")
    return True


def git(service: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=service, capture_output=True, text=True, check=False)


def require_clean_checkout(service: Path) -> None:
    """Refuses a service whose update could not be reviewed, or undone, with git alone."""
    if git(service, "rev-parse", "--is-inside-work-tree").stdout.strip() != "true":
        raise Refused(
            f"{service} is not a git checkout: the update leaves its changes uncommitted for "
            "review with git (`git diff`, and `git checkout`/`git clean` to undo). Commit the "
            "service to git first."
        )
    status = git(service, "status", "--porcelain", "--", ".").stdout
    if status.strip():
        changed = ", ".join(line[3:] for line in status.splitlines()[:5])
        raise Refused(
            f"uncommitted changes in {service} ({changed}...): commit or stash them first, so "
            "that the update's changes can be reviewed, and undone, on their own"
        )


def command_env() -> dict[str, str]:
    """The environment for the service's own commands: this process's, less the virtual
    environment the updater may run in (`uv run` names it; the service has its own .venv)."""
    return {name: value for name, value in os.environ.items() if name != "VIRTUAL_ENV"}


def run_streamed(command: list[str], cwd: Path) -> tuple[bool, str]:
    """Runs a command with its output passed on to stderr (stdout stays for the summary);
    whether it succeeded, and its last lines."""
    print(f"$ {' '.join(command)}", file=sys.stderr, flush=True)
    started = time.monotonic()
    lines: list[str] = []
    with subprocess.Popen(
        command,
        cwd=cwd,
        env=command_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            sys.stderr.write(line)
            lines = [*lines[-(TAIL_LINES - 1) :], line.rstrip("\n")]
    elapsed = time.monotonic() - started
    print(f"# exit {process.returncode} after {elapsed:.0f} s", file=sys.stderr, flush=True)
    return process.returncode == 0, "\n".join(lines)


def make(service: Path, target: str) -> tuple[bool, str]:
    return run_streamed(["make", target], service)


def run_step(step: Path, service: Path) -> tuple[bool, str]:
    """A release's migration step, run in the service with this Python."""
    return run_streamed([sys.executable, str(step)], service)
