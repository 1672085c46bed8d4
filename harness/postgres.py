"""Throwaway PostgreSQL servers on 127.0.0.1 (trust auth), started from the server binaries: the
session's shared server and the private ones a test stops and starts (the outage test)."""

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from harness.commands import MissingRequirement, free_port


def postgres_bin(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if found is None:
        raise MissingRequirement(
            f"{name} not found: a PostgreSQL server installation is needed "
            "(Debian: apt-get install postgresql); .ci/run installs it"
        )
    return found


# An immediate stop takes a tenth of a second; past this, it is hung (PostgresServer.stop).
IMMEDIATE_STOP_TIMEOUT = 15


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def processes(pid: int) -> str:
    """The postmaster `pid` and its children: state (D: waiting in the kernel, where SIGKILL can't
    end it yet; Z: exited, not yet reaped), what the kernel has it wait on, and the command."""
    listing = subprocess.run(
        ["ps", "-o", "pid=,stat=,wchan:32=,args=", "-p", str(pid), "--ppid", str(pid)],
        capture_output=True, text=True, check=False, timeout=10,
    )  # fmt: skip
    return listing.stdout.rstrip() or f"(ps found none: {listing.stderr.strip()})"


@dataclass
class PostgresServer:
    directory: Path  # holds the data directory, the socket and the log
    port: int = field(default_factory=free_port)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}"

    def _as_postgres(self) -> list[str]:
        return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _pg_ctl(self, *args: str, check: bool = True, timeout: float = 60) -> None:
        data = str(self.directory / "data")
        subprocess.run(
            [*self._as_postgres(), postgres_bin("pg_ctl"), "-D", data, *args],
            check=check, capture_output=True, timeout=timeout,
        )  # fmt: skip

    def initdb(self) -> None:
        if os.geteuid() == 0:  # the server refuses to run as root
            shutil.chown(self.directory, "postgres", "postgres")
        subprocess.run(
            [*self._as_postgres(), postgres_bin("initdb"), "-D", str(self.directory / "data"),
             "-U", "postgres", "--auth=trust", "--no-sync"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip

    def start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.directory} -c fsync=off"
        self._pg_ctl("-o", options, "-l", str(self.directory / "log"), "-w", "start")

    def stop(self, mode: str = "fast", check: bool = True) -> None:
        """`fast` ends the clients' sessions, as a server that goes away does. `immediate` is a
        crash: connections cut, nothing flushed or waited for. It takes a tenth of a second, but
        now and then on a loaded machine it hangs, after the server's own SIGKILL of its children
        (the cause wasn't found): such a stop ends as a crash too, its processes killed (kill())."""
        if mode != "immediate":
            self._pg_ctl("-m", mode, "-w", "stop", check=check)
            return
        try:
            self._pg_ctl("-m", mode, "-w", "stop", check=check, timeout=IMMEDIATE_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """The server's processes killed, the postmaster last, and a warning with what they were
        waiting on and the end of its log, so that a stop that had to end so is seen."""
        try:
            pid = int((self.directory / "data" / "postmaster.pid").read_text().split()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return
        hung = processes(pid)  # before they are killed: what the stop was waiting on
        subprocess.run(["pkill", "-KILL", "-P", str(pid)], check=False, timeout=10)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        for _ in range(50):  # it has no parent of ours to reap it: gone, or a zombie, is dead
            if not running(pid):
                break
            time.sleep(0.1)
        # Its lock files name its PID, which a zombie keeps until this machine's PID 1 reaps it:
        # the next start would take the server for running.
        if not running(pid):
            (self.directory / "data" / "postmaster.pid").unlink(missing_ok=True)
            for socket_lock in self.directory.glob(".s.PGSQL.*.lock"):
                socket_lock.unlink()
        server_log = (self.directory / "log").read_text(errors="replace")[-2000:]
        message = (
            f"PostgreSQL did not stop in time and was killed. Its processes then:\n{hung}\n"
            f"Its log ends:\n{server_log}"
        )
        warnings.warn(message, stacklevel=2)

    def create_database(self, name: str) -> str:
        return create_database(self.url, name)


def create_database(server_url: str, name: str) -> str:
    """Creates an empty database on the server at `postgresql://postgres@127.0.0.1:PORT`."""
    port = server_url.rsplit(":", 1)[1]
    subprocess.run(
        [postgres_bin("createdb"), "-h", "127.0.0.1", "-p", port, "-U", "postgres", name],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return f"{server_url}/{name}"


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """A new, running server; stopped and its files removed afterwards."""
    server = PostgresServer(Path(tempfile.mkdtemp(prefix="template-tests-pg-")))
    try:
        server.initdb()
        server.start()
        yield server
    finally:
        server.stop("immediate", check=False)
        shutil.rmtree(server.directory, ignore_errors=True)


def psql(url: str, query: str, timeout: float = 30) -> list[list[str]]:
    """Rows of one query (tab-separated text fields), through the server binaries' psql."""
    result = subprocess.run(
        [postgres_bin("psql"), url, "-X", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1",
         "-c", query],
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"psql: {query}\n{result.stderr}")
    return [line.split("\t") for line in result.stdout.splitlines() if line]
