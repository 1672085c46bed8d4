"""Input validation: each bad answer is refused with its own one-line message, leaving nothing
in the output directory, beside it or in the temporary directory (a bake that succeeds leaves
nothing there either: cookiecutter's copies of the hooks delete themselves). And a missing tool
is named as the cause, with how to get it; a slow lock says what it is doing and shows its
output, a quick one says nothing.
"""

import tempfile
from pathlib import Path

import pytest

from harness.baking import bake, cookiecutter_config, dependency_import_names
from harness.commands import tool

LONG = "a" * 10_000  # absurd: every message must still be one short line
# Look-alikes of ASCII that \w and str.isdigit() accept.
FULLWIDTH_NAME, FULLWIDTH_PORT, ARABIC_INDIC_VERSION = (
    "\uff46\uff4f\uff4f",
    "\uff18\uff10\uff18\uff10",
    "\u0661.\u0660",
)

BAD_ANSWERS = [
    # (answers, the message that must name the field, the value and what is allowed)
    (
        {"package_name": "My-Service"},
        "package_name: 'My-Service' must be a lowercase Python identifier",
    ),
    (
        {"package_name": "9lives"},
        "package_name: '9lives' must be a lowercase Python identifier",
    ),
    (
        {"package_name": "my service"},
        "package_name: 'my service' must be a lowercase Python identifier",
    ),
    ({"package_name": "class"}, "package_name: 'class' is a Python keyword"),
    (
        {"package_name": "json"},
        "package_name: 'json' would shadow the standard library module",
    ),
    (
        {"package_name": "logging"},
        "package_name: 'logging' would shadow the standard library module",
    ),
    ({"package_name": "fastapi"}, "package_name: 'fastapi' would shadow a dependency"),
    (
        {"package_name": "sqlalchemy"},
        "package_name: 'sqlalchemy' would shadow a dependency",
    ),
    (
        {"package_name": "starlette"},
        "package_name: 'starlette' would shadow a dependency",
    ),
    ({"package_name": "pytest"}, "package_name: 'pytest' would shadow a dependency"),
    (
        {"package_name": "tests"},
        "package_name: 'tests' is a directory the project layout reserves",
    ),
    (
        {"package_name": "migrations"},
        "package_name: 'migrations' is a directory the project layout reserves",
    ),
    (
        {"package_name": "src"},
        "package_name: 'src' is a directory the project layout reserves",
    ),
    (
        {"package_name": "build"},
        "package_name: 'build' is a directory the project layout reserves",
    ),
    (
        {"project_name": "!!!"},
        "project_slug: '!!!' must be lowercase ASCII letters and digits",
    ),
    (
        {"project_slug": "my--service"},
        "project_slug: 'my--service' must be lowercase ASCII letters and digits",
    ),
    (
        {"project_slug": "-service", "package_name": "service"},
        "project_slug: '-service' must be",
    ),
    ({"port": "80"}, "port: '80' must be an integer from 1024 to 65535"),
    ({"port": "65536"}, "port: '65536' must be an integer from 1024 to 65535"),
    ({"port": "http"}, "port: 'http' must be an integer from 1024 to 65535"),
    ({"author_email": "nobody"}, "author_email: 'nobody' must be an email address"),
    ({"author_email": "a@b"}, "author_email: 'a@b' must be an email address"),
    ({"version": "one"}, "version: 'one' must be a PEP 440 version"),
    # Answers that name files and directories: no paths, hidden or option-like names, whitespace,
    # non-ASCII, Windows device names or absurd lengths, whether typed or derived.
    ({"project_slug": "../evil"}, "project_slug: '../evil' must be lowercase ASCII letters"),
    ({"project_slug": "a/b"}, "project_slug: 'a/b' must be lowercase ASCII letters"),
    ({"project_slug": "a\\b"}, "project_slug: 'a\\\\b' must be lowercase ASCII letters"),
    ({"project_slug": ".hidden"}, "project_slug: '.hidden' must be lowercase ASCII letters"),
    ({"project_slug": "--help"}, "project_slug: '--help' must be lowercase ASCII letters"),
    ({"project_slug": "my service"}, "project_slug: 'my service' must be lowercase ASCII"),
    ({"project_slug": "service\n"}, "project_slug: 'service\\n' must be lowercase ASCII"),
    ({"project_slug": "café"}, "project_slug: 'café' must be lowercase ASCII letters"),
    ({"project_name": "../../etc"}, "project_slug: '../../etc' must be lowercase ASCII"),
    ({"project_name": "Café Crème"}, "project_slug: 'café-crème' must be lowercase ASCII"),
    ({"project_slug": "con"}, "project_slug: 'con' is a device name Windows reserves"),
    ({"project_slug": "lpt1"}, "project_slug: 'lpt1' is a device name Windows reserves"),
    ({"package_name": "nul"}, "package_name: 'nul' is a device name Windows reserves"),
    ({"package_name": "com1"}, "package_name: 'com1' is a device name Windows reserves"),
    (
        {"package_name": FULLWIDTH_NAME},
        f"package_name: {FULLWIDTH_NAME!r} must be a lowercase Python identifier",
    ),
    ({"package_name": "../x"}, "package_name: '../x' must be a lowercase Python identifier"),
    (
        {"project_slug": "a" * 65},
        f"project_slug: {'a' * 40!r}... (65 characters) is longer than 64 characters",
    ),
    (
        {"project_slug": LONG},
        f"project_slug: {'a' * 40!r}... (10000 characters) is longer than 64 characters",
    ),
    (
        {"package_name": "a" * 65},
        f"package_name: {'a' * 40!r}... (65 characters) is longer than 64 characters",
    ),
    (
        {"project_name": LONG},
        f"project_name: {'a' * 40!r}... (10000 characters) must be one line of printable text",
    ),
    (
        {"project_name": "two\nlines", "project_slug": "two-lines"},
        "project_name: 'two\\nlines' must be one line of printable text",
    ),
    ({"port": FULLWIDTH_PORT}, f"port: {FULLWIDTH_PORT!r} must be an integer from 1024 to 65535"),
    ({"version": ARABIC_INDIC_VERSION}, f"version: {ARABIC_INDIC_VERSION!r} must be a PEP 440"),
    ({"author_email": 'a"b@example.com'}, "author_email: 'a\"b@example.com' must be an email"),
    # An answer that needs another: the worker's queue is PostgreSQL.
    (
        {"worker": "yes", "database": "sqlite"},
        "worker: 'yes' needs database=postgresql (its jobs are queued in PostgreSQL), not "
        "'sqlite': answer database=postgresql, or worker=no",
    ),
    (
        {"worker": "yes", "database": "none"},
        "worker: 'yes' needs database=postgresql (its jobs are queued in PostgreSQL), not 'none'",
    ),
]


def tree(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


@pytest.fixture(autouse=True)
def temp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tmp_path/tmp as the temporary directory of the bake and of its hooks (TMPDIR), empty: what
    a bake leaves there shows."""
    cookiecutter_config()  # the harness's own, made once per process: not in this directory
    directory = tmp_path / "tmp"
    directory.mkdir()
    monkeypatch.setenv("TMPDIR", str(directory))
    monkeypatch.setattr(tempfile, "tempdir", None)  # gettempdir() reads TMPDIR again
    return directory


def refused(tmp_path: Path, **answers: str) -> Exception:
    """Bakes into tmp_path/out, expecting a refusal; nothing may be left in the output directory,
    beside it, in the temporary directory (tmp_path/tmp), or anywhere else under tmp_path."""
    output_dir = tmp_path / "out"
    output_dir.mkdir()
    with pytest.raises(Exception) as refusal:
        bake(output_dir, **answers)
    assert tree(tmp_path) == ["out", "tmp"]
    return refusal.value


def test_a_bake_leaves_nothing_in_the_temporary_directory(tmp_path: Path, temp_dir: Path) -> None:
    bake(tmp_path / "out")
    assert (tmp_path / "out" / "my-service" / "pyproject.toml").is_file()
    assert tree(temp_dir) == []


@pytest.mark.parametrize(
    ("answers", "message"), BAD_ANSWERS, ids=[repr(a)[:60] for a, _ in BAD_ANSWERS]
)
def test_a_bad_answer_is_refused_with_its_message_and_no_leftovers(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], answers: dict[str, str], message: str
) -> None:
    refused(tmp_path, **answers)
    errors = [line for line in capfd.readouterr().err.splitlines() if line.startswith("error: ")]

    assert any(line.startswith(f"error: {message}") for line in errors), errors
    assert all(len(line) < 300 for line in errors), errors


def test_several_bad_answers_are_all_reported_at_once(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    refused(tmp_path, port="1", author_email="x")
    errors = [line for line in capfd.readouterr().err.splitlines() if line.startswith("error: ")]
    assert [e.split(":")[1].strip() for e in errors] == ["author_email", "port"]


def test_an_unknown_choice_is_refused_naming_the_allowed_values(tmp_path: Path) -> None:
    refusal = refused(tmp_path, python_version="3.9")
    assert "python_version" in str(refusal)
    assert "'3.14', '3.15', '3.13', '3.12', '3.11'" in str(refusal)


# ---- a missing tool is the cause it reports ---------------------------------------------------

MISSING_TOOLS = [
    # (package manager, the tools on PATH, the warning that names the missing one)
    (
        "uv",
        ["git", "make", "uv"],
        "warning: could not create uv.lock: uv found no Python 3.14 interpreter here and could "
        "not download one. Install Python 3.14",
    ),
    (
        "uv",
        ["git", "make"],
        "warning: uv not found, so `make lock` could not create uv.lock: install it (",
    ),
    (
        "uv",
        ["git", "uv"],
        "warning: make not found, so `make lock` could not create uv.lock: install it (",
    ),
    (
        "pip",
        ["git", "make"],
        "warning: python3.14 not found, so `make lock` could not create requirements.lock and "
        "requirements-dev.lock: install Python 3.14",
    ),
]


@pytest.mark.parametrize(("package_manager", "on_path", "warning"), MISSING_TOOLS)
def test_a_missing_tool_is_named_with_how_to_install_it_and_the_project_is_kept(
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    package_manager: str,
    on_path: list[str],
    warning: str,
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in on_path:
        (bin_dir / name).symlink_to(tool(name))
    monkeypatch.setenv("PATH", str(bin_dir))
    for name in ("PYTHON", "UV_PYTHON"):
        monkeypatch.delenv(name, raising=False)
    # No interpreter uv manages either, and none downloaded: the one on PATH is all there is.
    monkeypatch.setenv("UV_PYTHON_INSTALL_DIR", str(tmp_path / "no-managed-pythons"))
    monkeypatch.setenv("UV_PYTHON_DOWNLOADS", "never")

    project = bake(tmp_path / "out", package_manager=package_manager, _lock=True)
    stderr = capfd.readouterr().err

    assert warning in stderr, stderr
    assert "run `make lock` in my-service/" in stderr
    assert "package index" not in stderr  # the cause is the tool, not the network
    assert stderr.count("warning: ") == 1, stderr
    assert (project / "pyproject.toml").is_file()


# ---- a slow step says what it is doing, a quick one nothing -----------------------------------

SLOW_AND_QUICK_LOCKS = [
    # (what a stand-in `make lock` runs, what the bake shows on stderr)
    (
        "echo resolving; sleep 6; echo resolved",
        "locking dependencies with uv (a few seconds)...\nresolving\nresolved\n",
    ),
    ("echo resolved", ""),
]


@pytest.mark.parametrize(("make_lock", "shown"), SLOW_AND_QUICK_LOCKS, ids=["slow", "quick"])
def test_a_slow_lock_is_announced_with_its_output_and_a_quick_one_is_silent(
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    make_lock: str,
    shown: str,
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("git", "uv", "sh", "sleep"):
        (bin_dir / name).symlink_to(tool(name))
    make = bin_dir / "make"
    make.write_text(f"#!{tool('sh')}\n{make_lock}\n")
    make.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))

    bake(tmp_path / "out", package_manager="uv", _lock=True)

    assert capfd.readouterr().err == shown


def test_the_dependency_names_the_hook_refuses_are_filled_in() -> None:
    """The reserved list is generated (scripts/refresh-dependency-names), never left empty."""
    assert {"fastapi", "sqlalchemy", "alembic", "granian", "pydantic", "psycopg"} <= (
        dependency_import_names()
    )
