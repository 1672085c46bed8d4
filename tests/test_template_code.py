"""The template's own code (tests, harness, scripts) is held to the bar it sets for projects."""

import time
from pathlib import Path

import pytest

from harness.commands import TEMPLATE, CommandTimedOut, run, tool


def test_the_templates_own_python_is_lint_clean_and_formatted() -> None:
    """ruff.toml includes the scripts that have no .py suffix."""
    run([tool("ruff"), "check", "--no-cache", "."], cwd=TEMPLATE)
    run([tool("ruff"), "format", "--check", "--no-cache", "."], cwd=TEMPLATE)


def test_no_script_reaches_into_the_tests() -> None:
    """Scripts share code with the tests through harness/, never by importing tests."""
    scripts = [path for path in (TEMPLATE / "scripts").iterdir() if path.is_file()]
    importing = [
        p.name for p in scripts if "from tests" in p.read_text() or "import tests" in p.read_text()
    ]
    assert not importing, importing


# An option is whole files, kept or pruned by the post-gen hook's OPTIONAL_PATHS (Kubernetes
# components, compose files, README partials in templates/): a file of the generated project
# holds value substitution and at most this many {% %} tags.
MAX_TAGS = 8
PROJECT = TEMPLATE / "{{cookiecutter.__project_dir}}"


def test_no_file_of_the_generated_project_threads_options_through_many_jinja_tags() -> None:
    counts = {
        str(path.relative_to(PROJECT)): path.read_text().count("{%")
        for path in sorted(PROJECT.rglob("*"))
        if path.is_file()
    }
    assert counts, PROJECT
    offenders = {path: count for path, count in counts.items() if count > MAX_TAGS}
    assert offenders == {}, (
        f"over {MAX_TAGS} {{% %}} tags (an option's own files instead): {offenders}"
    )


def test_a_command_past_its_timeout_is_killed_with_its_children_and_shows_its_last_output(
    tmp_path: Path,
) -> None:
    """What a stalled command was doing is at the end of its output: the failure keeps that."""
    stalls = "seq 1 5000; echo stuck here; sleep 60 & echo $! > child; wait"
    with pytest.raises(CommandTimedOut) as timed_out:
        run(["sh", "-c", stalls], cwd=tmp_path, timeout=1)
    assert "4999\n5000\nstuck here\n" in str(timed_out.value)
    # Its pipes close as it exits, a moment before the kernel marks it ended: wait that moment.
    child = int((tmp_path / "child").read_text())
    deadline = time.monotonic() + 5
    while not ended(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ended(child)


def ended(pid: int) -> bool:
    """Gone, or a zombie (killed, not yet reaped by whoever inherited it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")
