"""Running commands: with their output kept for the error, and the machine shared between the
test workers (a timing measurement takes it for itself)."""

import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[1]


class CommandFailed(Exception):
    """A command exited non-zero; the message holds its output."""


class CommandTimedOut(CommandFailed):
    """A command ran past its timeout and was killed, its descendants too; the message holds the
    end of its output: what it was doing."""


class MissingRequirement(Exception):
    """A tool, interpreter or server this machine lacks; the message says how to get it."""


QUIET_LOCK = Path(tempfile.gettempdir()) / "template-tests-quiet-machine.lock"
_holding_exclusive = False


@contextmanager
def machine_share(exclusive: bool = False) -> Iterator[None]:
    """Commands of all test workers share the machine; a timing measurement takes it exclusively,
    waiting for the other workers' running commands and holding back their next ones. That wait
    is as long as the longest of those commands: their timeouts (run's) bound it."""
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
    carrying that output. Past `timeout` seconds, it and its descendants are killed (a hung test
    run's processes don't outlive it) and CommandTimedOut carries the end of its output."""
    with machine_share():
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            shell=isinstance(command, str),
        )
        with process:
            try:
                stdout, stderr = process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                stdout, stderr = kill_and_collect(process)
                raise CommandTimedOut(
                    f"`{command}` in {cwd} ran past its {timeout} s timeout and was killed\n"
                    + output_tails(stdout, stderr)
                ) from None
            except BaseException:  # interrupted (Ctrl-C, the test's own timeout): it goes too
                kill_tree(process.pid)
                raise
    if check and process.returncode != 0:
        raise CommandFailed(
            f"`{command}` in {cwd} exited {process.returncode}\n" + output_tails(stdout, stderr)
        )
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def kill_and_collect(process: subprocess.Popen[str]) -> tuple[str, str]:
    """Kill a process and its descendants; what it wrote (all of it, unless something that left
    its tree still holds the pipes after 30 s: then what was written until then)."""
    kill_tree(process.pid)
    try:
        return process.communicate(timeout=30)
    except subprocess.TimeoutExpired as still_open:
        return (as_text(still_open.stdout), as_text(still_open.stderr))


def kill_tree(pid: int) -> None:
    for each in processes(pid):
        with suppress(ProcessLookupError):
            os.kill(each, signal.SIGKILL)


def as_text(output: bytes | str | None) -> str:
    return output.decode(errors="replace") if isinstance(output, bytes) else output or ""


def output_tails(stdout: str, stderr: str) -> str:
    return f"--- stdout ---\n{stdout[-6000:]}\n--- stderr ---\n{stderr[-6000:]}"


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
