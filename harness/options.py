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
    "auth",
    "ci",
    "kubernetes",
)

PYPROJECT_BACKENDS = {"uv": "uv_build", "pip": "setuptools.build_meta"}


def choices(option: str) -> list[str]:
    return list(COOKIECUTTER_JSON[option])


# Options that need another answer, left out of the cross product (their default, "no", is in
# every combination) and combined with what they need: the pre-gen hook refuses the rest.
DEPENDENT_OPTIONS = {"worker": {"database": "postgresql"}}


def all_combinations(**fixed: str) -> list[dict[str, str]]:
    """The cross product of the file-changing options, those in `fixed` held at one value; a
    dependent option (worker) only where it is in `fixed`, with what it needs held too, named
    right after it: py3.14-src-uv-postgresql-worker-github-yes."""
    for option, needs in DEPENDENT_OPTIONS.items():
        if fixed.get(option, "no") != "no":
            fixed = {**fixed, **needs}
    values = [[fixed[o]] if o in fixed else choices(o) for o in FILE_CHANGING_OPTIONS]
    combinations = []
    for combination in itertools.product(*values):
        context = {}
        for option, value in zip(FILE_CHANGING_OPTIONS, combination, strict=True):
            context[option] = value
            for dependent, needs in DEPENDENT_OPTIONS.items():
                if option in needs and dependent in fixed:
                    context[dependent] = fixed[dependent]
        combinations.append(context)
    return combinations


# Values an id would show as another option's: auth=none reads "noauth" (database=none: "none").
ID_LABELS = {"auth": {"none": "noauth"}}


def combination_id(context: Mapping[str, Any]) -> str:
    """A readable id: py3.14-src-uv-postgresql-github (extra answers appended; a dependent
    option that is on, by its name: py3.13-src-uv-postgresql-worker; auth=none as noauth)."""
    parts = [f"py{context.get('python_version', '3.14')}"]
    parts += [
        key
        if key in DEPENDENT_OPTIONS and value == "yes"
        else ID_LABELS.get(key, {}).get(value, str(value))
        for key, value in context.items()
        if key != "python_version"
    ]
    return "-".join(parts)


def numbered_ids(contexts: list[dict[str, str]]) -> list[str]:
    """Ids that show the count: 001of132-py3.14-src-uv-postgresql-github."""
    width = len(str(len(contexts)))
    total = len(contexts)
    return [f"{i:0{width}}of{total}-{combination_id(c)}" for i, c in enumerate(contexts, 1)]


# The combinations run fully: locked, installed, checked, and built into images where their
# Python has a base image (all of them with the official images). The first is the default one.
# All but one have authentication (auth=oidc, the default; database=none with it too): the one
# SQLite run on uv has none, the service as services updated from before the option run it.
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
            "auth": "none",
            "python_version": "3.12",
        },
        {
            "layout": "flat",
            "package_manager": "uv",
            "database": "postgresql",
            "python_version": "3.15",
        },
        # The background job worker (its own image tests: tests/test_worker.py). A Python this
        # machine has, so that it is locked and tested here, not in a container.
        {
            "layout": "src",
            "package_manager": "uv",
            "database": "postgresql",
            "python_version": "3.13",
            "worker": "yes",
        },
    ]
}
# The full run with the worker: its image tests (tests/test_worker.py) and benchmark.
WORKER_KEY = next(key for key, context in FULL_RUNS.items() if context.get("worker") == "yes")
