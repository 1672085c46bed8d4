"""Plain helpers shared by the template's tests: the options, baking, running commands."""

import fcntl
import glob
import itertools
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

TEMPLATE = Path(__file__).resolve().parents[1]
COOKIECUTTER_JSON = json.loads((TEMPLATE / "cookiecutter.json").read_text())

# The options that change which files a project has or what they say.
FILE_CHANGING_OPTIONS = (
    "python_version",
    "layout",
    "package_manager",
    "database",
    "ci",
    "kubernetes",
)

PYPROJECT_BACKENDS = {"uv": "uv_build", "pip": "setuptools.build_meta"}


def choices(option: str) -> list[str]:
    return list(COOKIECUTTER_JSON[option])


def all_combinations(**fixed: str) -> list[dict[str, str]]:
    """The cross product of the file-changing options, those in `fixed` held at one value."""
    values = [[fixed[o]] if o in fixed else choices(o) for o in FILE_CHANGING_OPTIONS]
    return [
        dict(zip(FILE_CHANGING_OPTIONS, combo, strict=True)) for combo in itertools.product(*values)
    ]


def combination_id(context: Mapping[str, Any]) -> str:
    """A readable test id: py3.14-src-uv-postgresql-github (extra answers appended)."""
    parts = [f"py{context.get('python_version', '3.14')}"]
    parts += [str(value) for key, value in context.items() if key != "python_version"]
    return "-".join(parts)


def numbered_ids(contexts: list[dict[str, str]]) -> list[str]:
    """Ids that show the count: 001of132-py3.14-src-uv-postgresql-github."""
    width = len(str(len(contexts)))
    total = len(contexts)
    return [f"{i:0{width}}of{total}-{combination_id(c)}" for i, c in enumerate(contexts, 1)]


def bake(cookies: Any, **context: Any) -> Path:
    """Bake with these answers (locking off unless `_lock` says otherwise); fail loudly."""
    result = cookies.bake(extra_context={"_lock": False, **context})
    assert result.exception is None, f"baking {context} failed: {result.exception!r}"
    return Path(result.project_path)


def text_files(project: Path) -> Iterator[Path]:
    for path in sorted(project.rglob("*")):
        if path.is_file() and ".venv" not in path.parts and "__pycache__" not in path.parts:
            yield path


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
    """Run a command, capturing output; on failure, fail the test with that output."""
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
        pytest.fail(
            f"`{command}` in {cwd} exited {result.returncode}\n"
            f"--- stdout ---\n{result.stdout[-6000:]}\n--- stderr ---\n{result.stderr[-6000:]}",
            pytrace=False,
        )
    return result


def tool(name: str) -> str:
    """A command-line tool installed beside the interpreter running the tests (or on PATH)."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} not found: install the test dependencies (requirements-test.txt)")
    return found


def find_python(version: str) -> str | None:
    """An interpreter for `version` on this machine: python3.X on PATH if it runs, else pyenv's."""
    candidates = [shutil.which(f"python{version}")]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates += [str(p) for p in sorted(pyenv.glob(f"{version}.*/bin/python{version}"))]
    for candidate in filter(None, candidates):
        if subprocess.run([candidate, "-c", ""], capture_output=True, check=False).returncode == 0:
            return candidate
    return None


def python_executable(version: str) -> str:
    python = find_python(version)
    if python is None:
        pytest.fail(f"Python {version} is needed for this test and was not found", pytrace=False)
    return python


def project_env(python_version: str) -> dict[str, str]:
    """Environment for a generated project's Makefile: the chosen Python, never a download."""
    python = python_executable(python_version)
    return {
        "PYTHON": python,  # pip projects
        "UV_PYTHON": python,  # uv projects
        "UV_PYTHON_DOWNLOADS": "never",
        "PATH": f"{Path(tool('uv')).parent}{os.pathsep}{os.environ['PATH']}",
    }


PRE_GEN_HOOK = TEMPLATE / "hooks" / "pre_gen_project.py"
NAMES_BEGIN, NAMES_END = (
    "# BEGIN dependency import names\n",
    "# END dependency import names\n",
)


def dependency_import_names() -> set[str]:
    """The import names the pre-gen hook refuses as package names (its generated block)."""
    block = PRE_GEN_HOOK.read_text().split(NAMES_BEGIN)[1].split(NAMES_END)[0]
    return set(re.findall(r'"(\w+)"', block))


# Prints the top-level import names of every distribution installed in the running environment.
PRINT_IMPORT_NAMES = "import importlib.metadata as m; print(*m.packages_distributions())"


def import_names(printed: str) -> set[str]:
    """The lowercase module names among what PRINT_IMPORT_NAMES printed."""
    return {name for name in printed.split() if re.fullmatch(r"[a-z][a-z0-9_]*", name)}


def installed_import_names(python: Path) -> set[str]:
    """Top-level import names of every distribution installed in that interpreter's environment."""
    command = [python, "-c", PRINT_IMPORT_NAMES]
    return import_names(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


# The combinations run fully: locked, installed, checked, and built into images where their
# Python has a base image (all of them with the official images). The first is the default one.
FULL_RUNS = {
    combination_id(context): context
    for context in [
        {
            "layout": "src",
            "package_manager": "uv",
            "database": "postgresql",
            "python_version": "3.14",
        },
        {
            "layout": "flat",
            "package_manager": "pip",
            "database": "postgresql",
            "python_version": "3.11",
            "package_name": "backend",
        },
        {
            "layout": "src",
            "package_manager": "pip",
            "database": "sqlite",
            "python_version": "3.13",
            "port": "8082",
        },
        {
            "layout": "flat",
            "package_manager": "uv",
            "database": "none",
            "python_version": "3.11",
        },
        {
            "layout": "src",
            "package_manager": "uv",
            "database": "sqlite",
            "python_version": "3.12",
        },
        {
            "layout": "flat",
            "package_manager": "uv",
            "database": "postgresql",
            "python_version": "3.15",
        },
    ]
}


def full_run_params() -> list[Any]:
    """FULL_RUNS keys as fixture params, grouped so that pytest-xdist sends every test of one
    combination (full run and image) to the same worker, which then bakes it once."""
    return [pytest.param(key, marks=pytest.mark.xdist_group(key)) for key in FULL_RUNS]


def postgres_bin(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if found is None:
        pytest.fail(
            f"{name} not found: these tests need a PostgreSQL server installation "
            "(Debian: apt-get install postgresql); .ci/run installs it",
            pytrace=False,
        )
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
