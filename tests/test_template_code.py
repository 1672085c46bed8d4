"""The template's own code (tests, harness, scripts) is held to the bar it sets for projects."""

from harness.commands import TEMPLATE, run, tool


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
