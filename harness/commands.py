"""Running commands: with their output kept for the error, and the machine shared between the
test workers (a timing measurement takes it for itself)."""

import fcntl
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[1]


class CommandFailed(Exception):
    """A command exited non-zero; the message holds its output."""


class MissingRequirement(Exception):
    """A tool, interpreter or server this machine lacks; the message says how to get it."""


QUIET_LOCK = Path(tempfile.gettempdir()) / "template-tests-quiet-machine.lock"
_holding_exclusive = False


@contextmanager
def machine_share(exclusive: bool = False) -> Iterator[None]:
    """Commands of all test workers share the machine; a timing measurement takes it exclusively,
    waiting for the other workers' running commands and holding back their next ones."""
    global _holding_exclusive
    if _holding_exclusive:  # this process already has the machine to itself
        yield
        return
    with QUIET_LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        _holding_exclusive = exclusive
        try:
            yield
        finally:
            _holding_exclusive = False
            fcntl.flock(lock, fcntl.LOCK_UN)


def run(
    command: list[str] | str,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing its output; with `check`, a non-zero exit raises CommandFailed
    carrying that output."""
    with machine_share():
        result = subprocess.run(
            command,
            cwd=cwd,
            env={**os.environ, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            shell=isinstance(command, str),
            check=False,
        )
    if check and result.returncode != 0:
        raise CommandFailed(
            f"`{command}` in {cwd} exited {result.returncode}\n"
            f"--- stdout ---\n{result.stdout[-6000:]}\n--- stderr ---\n{result.stderr[-6000:]}"
        )
    return result


def tool(name: str) -> str:
    """A command-line tool installed beside the interpreter running this (or on PATH)."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        raise MissingRequirement(
            f"{name} not found: install the test dependencies (requirements-test.txt)"
        )
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def processes(pid: int) -> list[int]:
    """A process and its descendants (a server's supervisor and its workers); none if it has
    just ended."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return []
    return [pid, *(p for child in children for p in processes(int(child)))]
