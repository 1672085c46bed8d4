"""Shape the baked project to the chosen options, then lock its dependencies.

Quiet unless something needs the user's attention, or a step is slow: then it says what it is
doing and shows the tool's output.
"""

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

PACKAGE = "{{ cookiecutter.package_name }}"
LAYOUT = "{{ cookiecutter.layout }}"
PACKAGE_MANAGER = "{{ cookiecutter.package_manager }}"
DATABASE = "{{ cookiecutter.database }}"
WORKER = "{{ cookiecutter.worker }}"
AUTH = "{{ cookiecutter.auth }}"
CI = "{{ cookiecutter.ci }}"
LICENSE = "{{ cookiecutter.license }}"
LOCK = "{{ cookiecutter._lock }}".lower() in {"true", "1", "yes"}
# Everything cookiecutter knows about this bake, answers included: data on one line, however long.
CONTEXT = json.loads({{ cookiecutter | tojson | tojson }})  # noqa: E501  # fmt: skip
# scripts/template-update (as cruft did) renders with a `_commit` in the context, to merge two
# template versions into a service, and writes .cruft.json itself; the update locks once, after
# the merge. Every release's hook skips both then: keep it so.
RENDERED_BY_CRUFT = "_commit" in CONTEXT

PACKAGE_DIR = f"src/{PACKAGE}"

# The one table of optional files: each row is (kept when, paths that exist only for that option).
# Paths are as the template holds them, before the layout moves the package.
OPTIONAL_PATHS = [
    # (Rows removing files inside a directory come before the row that may remove it.)
    (
        WORKER == "yes",
        [
            "migrations/versions/0002_job_queue.py",
            "migrations/versions/0002_job_queue.sql",
            "mk/worker.mk",
            f"{PACKAGE_DIR}/jobs",
            "tests/test_jobs.py",
            "tests/test_job_queue.py",
            "k8s/components/worker",
            "compose/worker.yaml",
        ],
    ),
    (
        DATABASE != "none",
        [
            "alembic.ini",
            "migrations",
            "mk/database.mk",
            f"{PACKAGE_DIR}/database",
            f"{PACKAGE_DIR}/api/items.py",
            "tests/database_fixtures.py",
            "tests/test_database.py",
            "tests/test_items.py",
            "tests/test_migrations.py",
        ],
    ),
    (DATABASE == "postgresql", ["tests/test_postgresql.py", ".devcontainer/postgresql.yaml"]),
    (
        AUTH == "oidc",
        [
            "mk/auth.mk",
            "scripts/dev_issuer.py",
            f"{PACKAGE_DIR}/auth",
            "tests/auth_fixtures.py",
            "tests/test_auth.py",
            "tests/test_auth_keys.py",
            "k8s/components/auth",
            "compose/auth.yaml",
        ],
    ),
    (AUTH == "oidc" and DATABASE != "none", ["tests/test_auth_items.py"]),
    (PACKAGE_MANAGER == "uv", ["mk/uv.mk"]),
    (PACKAGE_MANAGER == "pip", ["mk/pip.mk"]),
    # What the database decides in the Kubernetes components and the compose files. One SQLite
    # file allows one pod: no autoscaler or disruption budget, a volume instead.
    (DATABASE == "postgresql", ["k8s/components/postgresql", "compose/postgresql.yaml"]),
    (DATABASE == "sqlite", ["k8s/components/sqlite", "compose/sqlite.yaml"]),
    (DATABASE != "sqlite", ["k8s/components/autoscaled"]),
    (DATABASE != "none", ["k8s/components/migrate", "compose/migrate.yaml"]),
    (DATABASE == "none", ["compose/build.yaml"]),
    (
        "{{ cookiecutter.kubernetes }}" == "yes",
        ["k8s", "mk/kubernetes.mk", ".github/workflows/kubernetes.yml"],
    ),
    (CI == "github", [".github", "mk/github.mk"]),
    (LICENSE == "MIT", ["licenses/MIT"]),
    (LICENSE == "Apache-2.0", ["licenses/Apache-2.0"]),
    (LICENSE == "proprietary", ["licenses/proprietary"]),
]

# Files that are in every bake but differ by an option: the template holds one variant per
# answer beside the path, named with the answer (`access.oidc.py`, `access.none.py` for
# `access.py`); the bake keeps the chosen one at the path and removes the others.
CHOSEN_FILES = {f"{PACKAGE_DIR}/access.py": AUTH}

LOCK_FILES = {"uv": "uv.lock", "pip": "requirements.lock and requirements-dev.lock"}
# What `make lock` does, said when it takes longer than QUICK_SECONDS.
LOCKING = {
    "uv": "locking dependencies with uv (a few seconds)",
    "pip": "locking dependencies with uv pip compile, installed into .tools/ first "
    "(10 to 30 seconds)",
}
QUICK_SECONDS = 2
# The commands `make lock` runs, each with how to get it (the Makefile reads PYTHON like this).
PYTHON = os.environ.get("PYTHON", "python{{ cookiecutter.python_version }}")
LOCK_TOOLS = {
    "make": "install it (Debian/Ubuntu: apt-get install make; macOS: xcode-select --install)"
} | (
    {"uv": "install it (https://docs.astral.sh/uv/getting-started/installation/)"}
    if PACKAGE_MANAGER == "uv"
    else {
        PYTHON: "install Python {{ cookiecutter.python_version }} (python.org, pyenv, "
        "`uv python install {{ cookiecutter.python_version }}` or your OS packages), or set PYTHON "
        "to its path"
    }
)


def remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()


def prune() -> None:
    for kept, paths in OPTIONAL_PATHS:
        if not kept:
            for path in paths:
                remove(Path(path))


def choose() -> None:
    for path, answer in CHOSEN_FILES.items():
        kept = Path(path)
        kept.with_name(f"{kept.stem}.{answer}{kept.suffix}").rename(kept)
        for other in kept.parent.glob(f"{kept.stem}.*{kept.suffix}"):
            other.unlink()


def arrange() -> None:
    """Put the chosen license and the package where the options say."""
    (license_file,) = Path("licenses").iterdir()
    license_file.rename("LICENSE")
    if LAYOUT == "flat":
        Path(PACKAGE_DIR).rename(PACKAGE)


def remove_empty_dirs() -> None:
    for path in sorted(Path().rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_dir() and not any(path.iterdir()):
            path.rmdir()


def cloned_from(template: str) -> str | None:
    """The URL cookiecutter cloned the template from, as cruft clones it (abbreviations such as
    gh:org/name expanded, a plain git URL); None if it was not cloned."""
    # Imported here, for bakes from a URL only: cookiecutter's clone and download code takes a
    # quarter of a second to import, in every bake (the template's own tests bake hundreds).
    from cookiecutter.config import BUILTIN_ABBREVIATIONS
    from cookiecutter.repository import expand_abbreviations, is_repo_url

    url = expand_abbreviations(template, BUILTIN_ABBREVIATIONS)
    return url.removeprefix("git+") if is_repo_url(url) else None


def record_template() -> None:
    """Write .cruft.json as `cruft create` would, so `make template-check` and updates work."""
    # Hooks run inside the new project; a relative template path is relative to where the user
    # ran cookiecutter, which the shell's PWD still says.
    cwd = os.environ.get("PWD", ".")
    repo_dir = Path(cwd, CONTEXT["_repo_dir"]).resolve()
    # A cloned template is recorded by its URL, a local checkout by its absolute path.
    local = Path(cwd, CONTEXT["_template"]).resolve() == repo_dir
    template = (None if local else cloned_from(CONTEXT["_template"])) or str(repo_dir)
    # S603, S607: git as the user runs it, with the hook's own arguments.
    head = subprocess.run(  # noqa: S603
        ["git", "-C", str(repo_dir), "rev-parse", "HEAD"],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )
    commit = head.stdout.strip() if head.returncode == 0 else None
    # Not answers: where and how this bake ran, and the template's own settings (a later release
    # must use its own list of files copied without rendering).
    local_only = {"_output_dir", "_repo_dir", "_checkout", "_lock", "_copy_without_render"}
    answers = {key: value for key, value in CONTEXT.items() if key not in local_only}
    answers |= {"_template": template, "_commit": commit}
    state = {
        "template": template,
        "commit": commit,
        "checkout": CONTEXT.get("_checkout"),
        "context": {"cookiecutter": answers},
        "directory": None,
    }
    Path(".cruft.json").write_text(json.dumps(state, indent=2) + "\n")


def lock() -> None:
    """Create the lock file; without a tool or the package index, keep the project and say how
    to finish."""
    finish = f"run `make lock` in {Path.cwd().name}/"
    missing = [name for name in LOCK_TOOLS if shutil.which(name) is None]
    for name in missing:
        print(
            f"warning: {name} not found, so `make lock` could not create "
            f"{LOCK_FILES[PACKAGE_MANAGER]}: {LOCK_TOOLS[name]}, then {finish}.",
            file=sys.stderr,
        )
    if missing:
        return
    command = ["make", "--silent", "lock"]
    returncode, output = run_shown_when_slow(command, LOCKING[PACKAGE_MANAGER])
    if returncode != 0:
        detail = "\n".join(output.strip().splitlines()[-5:])
        print(
            f"warning: could not create {LOCK_FILES[PACKAGE_MANAGER]}: {lock_failure(output)}."
            f"\nThe project is complete otherwise: {finish} once that is fixed.\n{detail}",
            file=sys.stderr,
        )


def run_shown_when_slow(command: list[str], doing: str) -> tuple[int, str]:
    """Run command, keeping its output; still running after QUICK_SECONDS, it says what it is
    doing and shows its output on stderr, so far and then as it comes. Returns the exit status
    and the whole output."""
    # S603: the commands are the hook's own (make as the user runs it, found on PATH).
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # noqa: S603
    output = bytearray()
    shown = threading.Event()
    writing = threading.Lock()  # the output so far, then each chunk: in order, never twice

    def show() -> None:
        with writing:
            print(f"{doing}...", file=sys.stderr, flush=True)
            sys.stderr.buffer.write(output)
            sys.stderr.buffer.flush()
            shown.set()

    timer = threading.Timer(QUICK_SECONDS, show)
    timer.start()
    while chunk := process.stdout.read1():
        with writing:
            output += chunk
            if shown.is_set():
                sys.stderr.buffer.write(chunk)
                sys.stderr.buffer.flush()
    timer.cancel()
    return process.wait(), output.decode(errors="replace")


def lock_failure(output: str) -> str:
    """What stopped `make lock`, and how to fix it, as far as its output tells."""
    # uv looks for an interpreter first and, finding none, downloads one from GitHub: the
    # package index may be fine while that download is blocked or turned off.
    if "No interpreter found" in output or "python-build-standalone" in output:
        return (
            "uv found no Python {{ cookiecutter.python_version }} interpreter here and could not "
            "download one. Install Python {{ cookiecutter.python_version }} (python.org, pyenv or "
            "your OS packages; uv uses it when it is on PATH or named by UV_PYTHON), or bake "
            "again with a python_version that is installed"
        )
    return "is the package index reachable? (the last lines of `make lock` follow)"


def remove_own_copy() -> None:
    """cookiecutter runs a hook from a copy it renders into the temporary directory and never
    deletes: the copy deletes itself, so a bake leaves nothing behind there. (Python has read the
    file by now; a copy that can't be deleted is no reason to fail the bake.)"""
    own_copy = Path(__file__)
    if own_copy.parent == Path(tempfile.gettempdir()):
        with contextlib.suppress(OSError):
            own_copy.unlink()


if __name__ == "__main__":
    remove_own_copy()
    prune()
    choose()
    arrange()
    remove_empty_dirs()
    if not RENDERED_BY_CRUFT:
        record_template()
        if LOCK:
            lock()
