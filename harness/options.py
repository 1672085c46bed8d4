"""The template's options, their combinations, and the combinations that are run fully."""

import itertools
import json
from collections.abc import Mapping
from typing import Any

from harness.commands import TEMPLATE

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
    """A readable id: py3.14-src-uv-postgresql-github (extra answers appended)."""
    parts = [f"py{context.get('python_version', '3.14')}"]
    parts += [str(value) for key, value in context.items() if key != "python_version"]
    return "-".join(parts)


def numbered_ids(contexts: list[dict[str, str]]) -> list[str]:
    """Ids that show the count: 001of132-py3.14-src-uv-postgresql-github."""
    width = len(str(len(contexts)))
    total = len(contexts)
    return [f"{i:0{width}}of{total}-{combination_id(c)}" for i, c in enumerate(contexts, 1)]


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
