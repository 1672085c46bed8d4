"""The generated package is laid out by concern, its imports go one way, and its Python is
plain Python.

Its import graph, read with `ast` from each bake's files (harness/imports.py), has no cycle, the
package `__init__` modules counted: importing a module runs the packages above it first. And no
generated `.py` file builds its code with a Jinja statement: option code lives in the option's
own files, kept or pruned by the post-gen hook's OPTIONAL_PATHS. Nor does any (its tests and
scripts included) reach into a private name of a library, or of another module of its own.
"""

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.baking import bake
from harness.commands import TEMPLATE
from harness.imports import import_cycle, import_graph, private_names_used

# Each set of files the options keep (a layout or package manager changes no import).
PARTS = [
    {"database": "postgresql", "auth": "oidc", "worker": "no"},
    {"database": "postgresql", "auth": "oidc", "worker": "yes"},
    {"database": "postgresql", "auth": "none", "worker": "yes"},
    {"database": "sqlite", "auth": "oidc", "worker": "no"},
    {"database": "sqlite", "auth": "none", "worker": "no"},
    {"database": "none", "auth": "oidc", "worker": "no"},
    {"database": "none", "auth": "none", "worker": "no"},
]
# Where each concern lives: every bake has these packages, each holding these modules.
LAYOUT = {
    "api": {"__init__"},
    "web": {"__init__", "errors", "health", "limits", "middleware", "swagger_ui"},
    "observability": {"__init__", "logs", "metrics", "tracing"},
}
GENERATED = TEMPLATE / "{{cookiecutter.__project_dir}}"
# Generated Python files whose code Jinja still shapes (a statement, or an expression writing
# lines or imports): the example resource, whose worker variant defers a job in its transaction
# and stores when it ran. The list only shrinks (the test fails on a file that gains such a tag,
# and on one listed that has none).
STILL_SHAPED_BY_JINJA = {
    "src/{{cookiecutter.package_name}}/api/items.py",
    "src/{{cookiecutter.package_name}}/database/models.py",
}
# A statement, or an expression that writes a line break or an import: Python source.
SHAPING_TAG = re.compile(r"\{%|\{\{[^}]*(\\n|\bimport\b)")


@pytest.fixture(scope="module")
def bake_of(tmp_path_factory: pytest.TempPathFactory) -> Callable[[dict[str, str]], Path]:
    """The bake of one set of files, made once for every test here (they only read it)."""
    bakes: dict[str, Path] = {}

    def bake_once(answers: dict[str, str]) -> Path:
        key = "-".join(answers.values())
        if key not in bakes:
            bakes[key] = bake(tmp_path_factory.mktemp(key), **answers)
        return bakes[key]

    return bake_once


@pytest.fixture(params=PARTS, ids=lambda a: "-".join(a.values()))
def baked(request: pytest.FixtureRequest, bake_of: Callable[[dict[str, str]], Path]) -> Path:
    return bake_of(request.param)


def test_the_package_is_laid_out_by_concern_and_imports_in_no_circle(baked: Path) -> None:
    package_dir = baked / "src" / "my_service"
    graph = import_graph(package_dir)
    assert import_cycle(graph) == []
    for package, modules in LAYOUT.items():
        assert {path.stem for path in (package_dir / package).glob("*.py")} >= modules
    # A package's __init__ imports nothing: importing one of its modules loads only that.
    inits = [name for name in graph if (package_dir.parent / name.replace(".", "/")).is_dir()]
    assert {name: graph[name] for name in inits if graph[name]} == {}
    # The database installs itself without the resources: app.py includes their routers.
    database_imports = {
        t for name in graph if name.startswith("my_service.database") for t in graph[name]
    }
    assert not [name for name in database_imports if name.startswith("my_service.api")]


def test_a_cycle_through_a_package_init_is_found(tmp_path: Path) -> None:
    """The negative control: the loop the layout removed, database/__init__.py importing the
    example resource, which imports the database's engines."""
    files = {
        "pkg/__init__.py": "",
        "pkg/database/__init__.py": "from pkg.api import items\n",
        "pkg/database/engines.py": "ENGINE = None\n",
        "pkg/api/__init__.py": "",
        "pkg/api/items.py": "from pkg.database.engines import ENGINE\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    cycle = import_cycle(import_graph(tmp_path / "pkg"))
    assert cycle == ["pkg.api.items", "pkg.database", "pkg.api.items"]


def test_the_generated_code_reaches_into_no_private_name(baked: Path) -> None:
    assert private_names_used(baked) == []


def test_each_way_of_reaching_a_private_name_is_found(tmp_path: Path) -> None:
    """The negative control: the kinds of use the generated tests had (a connector's private
    options, an instrumentor's private flag), next to what stays allowed."""
    (tmp_path / "uses.py").write_text(
        "import a._b\n"
        "from a._b import c\n"
        "from a import _b\n"
        "options = connector()._pool_args\n"
        "flag = getattr(app, '_is_instrumented', False)\n"
        "from a import b\n"
        "name, fields = __name__, record.__dict__\n"
        "class A:\n"
        "    def f(self):\n"
        "        return self._own\n"
    )
    found = [line.split(": ", 1)[1] for line in private_names_used(tmp_path)]
    assert found == [
        "import a._b",
        "from a._b import c",
        "from a import _b",
        "connector()._pool_args",
        "getattr(app, '_is_instrumented', False)",
    ]


def test_only_the_listed_generated_python_files_are_shaped_by_jinja() -> None:
    shaped = {
        str(path.relative_to(GENERATED))
        for path in GENERATED.rglob("*.py")
        if SHAPING_TAG.search(path.read_text())
    }
    assert shaped == STILL_SHAPED_BY_JINJA


def test_the_example_resource_is_the_same_code_with_or_without_authentication(
    bake_of: Callable[[dict[str, str]], Path],
) -> None:
    """What differs by `auth` is which access.py the bake keeps (the hook's CHOSEN_FILES; that
    no variant is left is test_rendering's): the routes name their scopes the same way, checked
    or not."""
    bakes = {
        auth: bake_of({"database": "sqlite", "auth": auth, "worker": "no"}) / "src" / "my_service"
        for auth in ("oidc", "none")
    }
    items = {auth: (package / "api" / "items.py").read_text() for auth, package in bakes.items()}
    assert items["oidc"] == items["none"]
    assert 'dependencies=requires("items:write")' in items["oidc"]
    access = {auth: (package / "access.py").read_text() for auth, package in bakes.items()}
    assert "Security(authorized" in access["oidc"]
    assert "Security" not in access["none"]
