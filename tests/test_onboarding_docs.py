"""The generated AGENTS.md and the README's code map name only what the bake has.

Every `make` target they name is a target of the bake's Makefile or mk/*.mk, every path in
backticks is a file or folder of the bake, every setting in upper case is a field of its
Settings: an agent (or a newcomer) following them never meets a command or file that isn't there.
The README's "Your first change" has its steps numbered in order, and in each of these bakes its
file blocks apply where they say and leave no undefined or unused name and no long line
(tests/test_first_change.py runs it whole on three of them).
"""

import re
from pathlib import Path

import pytest

from harness.baking import bake
from harness.commands import run, tool
from harness.walkthrough import edit_file, steps

COMBINATIONS = [
    {},
    {"database": "none"},
    {"worker": "yes"},
    {"auth": "none"},
    {"database": "none", "auth": "none"},
    {"layout": "flat", "package_manager": "pip"},
]

MAKE_TARGET = re.compile(r"^([a-z][\w-]*)\s*:(?!=)", re.MULTILINE)
MAKE_COMMAND = re.compile(r"\bmake ([a-z][\w-]*)")
BACKTICKED = re.compile(r"`([^`\s]+)`")
# A path: has a slash, or ends in an extension the project's files have.
PATH_LIKE = re.compile(r"^[\w.*/-]*(/|\.(py|md|toml|ya?ml|mk|ini|lock|sql))$|^[\w.*-]+/[\w.*/-]*$")
SETTING = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")
SETTINGS_FIELD = re.compile(r"^    ([a-z]\w*): ", re.MULTILINE)


def code_map(readme: str) -> str:
    """The README's Code map section."""
    return readme.split("\n## Code map\n", 1)[1].split("\n## ", 1)[0]


def missing_names(text: str, project: Path, package_dir: Path) -> list[str]:
    """What the text names that the bake doesn't have: make targets, paths, settings."""
    targets = {
        target
        for makefile in [project / "Makefile", *project.glob("mk/*.mk")]
        for target in MAKE_TARGET.findall(makefile.read_text())
    }
    fields = {
        field.upper()
        for module in package_dir.glob("**/settings.py")  # settings.py and each part's
        for field in SETTINGS_FIELD.findall(module.read_text())
    }
    missing = [f"make {name}" for name in MAKE_COMMAND.findall(text) if name not in targets]
    for token in BACKTICKED.findall(text):
        if PATH_LIKE.match(token) and not any(
            any(base.glob(token.rstrip("/"))) for base in (project, package_dir)
        ):
            missing.append(token)
    missing += [name for name in SETTING.findall(text) if name not in fields]
    return missing


EACH_COMBINATION = pytest.mark.parametrize(
    "answers",
    COMBINATIONS,
    ids=["-".join(f"{k}={v}" for k, v in a.items()) or "default" for a in COMBINATIONS],
)


@EACH_COMBINATION
def test_agents_md_and_code_map_name_only_what_the_bake_has(
    tmp_path: Path, answers: dict[str, str]
) -> None:
    project = bake(tmp_path, **answers)
    package_dir = project / ("" if answers.get("layout") == "flat" else "src") / "my_service"
    agents = (project / "AGENTS.md").read_text()
    readme = (project / "README.md").read_text()

    assert "## Code map" in agents
    assert code_map(readme) in agents, "AGENTS.md and the README share one code map"
    assert (project / "CLAUDE.md").read_text() == "@AGENTS.md\n"
    assert len(agents.splitlines()) <= 80, "AGENTS.md stays short"
    for text in (agents, code_map(readme)):
        assert missing_names(text, project, package_dir) == []


@EACH_COMBINATION
def test_the_first_change_walkthrough_applies_to_the_bake(
    tmp_path: Path, answers: dict[str, str]
) -> None:
    project = bake(tmp_path, **answers)
    walkthrough = steps((project / "README.md").read_text(), "Your first change")
    numbers = [step.title.split(".")[0] for step in walkthrough]
    assert numbers == [str(n) for n in range(1, len(walkthrough) + 1)], numbers
    for step in walkthrough:
        for block in step.blocks:
            if "path" in block.options:
                edit_file(project, block)
    # Names undefined or unused, and lines too long, in the code the steps wrote (`make format`,
    # the walk-through's last step, sorts the imports: they aren't checked here).
    run([tool("ruff"), "check", "--select", "F,E501", "--no-cache", "."], cwd=project)


def test_a_name_the_bake_lacks_is_reported(tmp_path: Path) -> None:
    project = bake(tmp_path, database="none", auth="none")
    package_dir = project / "src/my_service"
    bogus = "`make deploy`, `src/my_service/api/items.py`, `jobs/`, `AUTH_ISSUER` and `LOG_LEVEL`"

    assert missing_names(bogus, project, package_dir) == [
        "make deploy",
        "src/my_service/api/items.py",
        "jobs/",
        "AUTH_ISSUER",
    ]
