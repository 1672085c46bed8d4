"""The template's own code (tests, harness, scripts) is held to the bar it sets for projects."""

from harness.commands import TEMPLATE, run, tool

# Executable scripts have no .py suffix: ruff checks them only when named.
PYTHON_SCRIPTS = ["scripts/benchmark", "scripts/fleet", "scripts/refresh-dependency-names"]


def test_the_templates_own_python_is_lint_clean_and_formatted() -> None:
    run([tool("ruff"), "check", "--no-cache", ".", *PYTHON_SCRIPTS], cwd=TEMPLATE)
    run([tool("ruff"), "format", "--check", "--no-cache", ".", *PYTHON_SCRIPTS], cwd=TEMPLATE)


def test_no_script_reaches_into_the_tests() -> None:
    """Scripts share code with the tests through harness/, never by importing tests."""
    scripts = [path for path in (TEMPLATE / "scripts").iterdir() if path.is_file()]
    importing = [
        p.name for p in scripts if "from tests" in p.read_text() or "import tests" in p.read_text()
    ]
    assert not importing, importing
