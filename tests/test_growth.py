"""Growth: what a project's source tree holds, its image ships, in every layout and package manager.

A copy of each fully run combination grows the way its README's "Grow the project" says: a
subpackage, a data file read through importlib.resources, and a second top-level package, first
undeclared, then declared in the one place pyproject.toml has for it. `make test` (the ship
check) must name whatever would not ship, the image build must fail with the same message, and
what is declared must reach the image.
"""

import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from harness.commands import TEMPLATE, run
from harness.docker import Image, make_build, remove_image, run_once
from harness.options import FULL_RUNS
from harness.pythons import project_command
from tests.params import full_run_params


def first_key_per_flavor() -> list[str]:
    """One FULL_RUNS key for each layout and package manager, in FULL_RUNS order."""
    flavors: dict[tuple[str, str], str] = {}
    for key, context in FULL_RUNS.items():
        flavors.setdefault((context["layout"], context["package_manager"]), key)
    return list(flavors.values())


KEYS = first_key_per_flavor()

# What the README tells a user to add, and a test of the project's own that uses it all.
SUBPACKAGE = '''"""A subpackage added after the project was generated."""

from importlib.resources import files


def page() -> str:
    return (files("{package}") / "templates" / "page.html").read_text()
'''
DATA_FILE = "<p>grown</p>\n"
SECOND_PACKAGE = '''"""A second top-level package."""

GREETING = "grown"
'''
PROJECT_TEST = """from {package}.sql import page
from shared import GREETING


def test_the_grown_files_are_importable() -> None:
    assert page() == "<p>grown</p>\\n"
    assert GREETING == "grown"
"""
CHECK_IN_THE_IMAGE = (
    "import shared, {package}.sql as sql; "
    "assert '/site-packages/' in shared.__file__ and sql.page() == '<p>grown</p>\\n', "
    "(shared.__file__, sql.__file__)"
)


@dataclass
class Grown(Image):
    """A grown copy of a FULL_RUNS project (`project`), and its images' tag (`tag`, no version)."""

    @property
    def root(self) -> str:
        """Where top-level packages live, as a path prefix."""
        return "src/" if self.context["layout"] == "src" else ""

    @property
    def uv(self) -> bool:
        return self.context["package_manager"] == "uv"

    def make(self, *targets: str, check: bool = True) -> str:
        version = self.context["python_version"]
        command, env = project_command(version, ["make", *targets], self.project)
        result = run(command, cwd=self.project, env=env, check=check)
        assert check or result.returncode != 0, f"make {' '.join(targets)} passed"
        return result.stdout + result.stderr

    def edit_pyproject(self, old: str, new: str) -> None:
        pyproject = self.project / "pyproject.toml"
        text = pyproject.read_text()
        assert old in text, f"{old!r} not in pyproject.toml"
        pyproject.write_text(text.replace(old, new, 1))

    def declaration(self, *packages: str) -> str:
        """The one line that lists the packages, as the README says to edit it."""
        if self.uv:
            return "module-name = [" + ", ".join(f'"{name}"' for name in packages) + "]"
        return "include = [" + ", ".join(f'"{name}*"' for name in packages) + "]"

    def declare_shared(self, declared: bool) -> None:
        alone, both = self.declaration(self.package), self.declaration(self.package, "shared")
        text = (self.project / "pyproject.toml").read_text()
        if declared and alone in text:
            self.edit_pyproject(alone, both)
        elif not declared and both in text:
            self.edit_pyproject(both, alone)

    def undeclared_message(self) -> str:
        fix = (
            'add "shared" to module-name in [tool.uv.build-backend]'
            if self.uv
            else 'add "shared*" to include in [tool.setuptools.packages.find]'
        )
        return f"error: {self.root}shared/__init__.py would not ship: in pyproject.toml, {fix}"


@pytest.fixture(scope="module", params=[p for p in full_run_params() if p.values[0] in KEYS])
def grown(
    request: pytest.FixtureRequest,
    locked_project: Callable[[str], Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Grown:
    """A copy of the locked project, grown and installed (`make install`); shared undeclared."""
    key = request.param
    source = locked_project(key)
    copy = tmp_path_factory.mktemp("grown") / source.name
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns(".venv", "__pycache__"))
    tag = f"template-test-growth-{TEMPLATE.name}-{key.lower()}"
    project = Grown(tag, key, copy)
    package_dir = copy / f"{project.root}{project.package}"
    (package_dir / "sql").mkdir()
    (package_dir / "sql" / "__init__.py").write_text(SUBPACKAGE.format(package=project.package))
    (package_dir / "templates").mkdir()
    (package_dir / "templates" / "page.html").write_text(DATA_FILE)
    (copy / f"{project.root}shared").mkdir()
    (copy / f"{project.root}shared" / "__init__.py").write_text(SECOND_PACKAGE)
    (copy / "tests" / "test_grown.py").write_text(PROJECT_TEST.format(package=project.package))
    project.make("install")
    return project


def test_make_test_names_an_undeclared_second_package_and_the_line_to_change(grown: Grown) -> None:
    grown.declare_shared(False)
    output = grown.make("test", check=False)
    assert grown.undeclared_message() in output, output[-3000:]


def test_make_test_names_a_data_file_that_would_not_ship(grown: Grown) -> None:
    grown.declare_shared(True)
    # Undo what makes data files ship: setuptools' package-data, or exclude it from uv_build.
    if grown.uv:
        undo = ('module-root = "', 'wheel-exclude = ["**/*.html"]\nmodule-root = "')
        fix = "remove the pattern matching it from wheel-exclude in [tool.uv.build-backend]"
    else:
        undo = ('"*" = ["*"]\n', "")
        fix = 'keep "*" = ["*"] in [tool.setuptools.package-data]'
    pyproject = grown.project / "pyproject.toml"
    declared = pyproject.read_text()
    grown.edit_pyproject(*undo)
    try:
        output = grown.make("dist-check", check=False)
    finally:
        pyproject.write_text(declared)
    path = f"{grown.root}{grown.package}/templates/page.html"
    assert f"error: {path} would not ship: in pyproject.toml, {fix}" in output, output[-3000:]


def test_a_grown_project_passes_its_own_lint_type_check_and_tests(grown: Grown) -> None:
    grown.declare_shared(True)
    output = grown.make("lint", "typecheck", "test")
    assert "tests/test_grown.py ." in output, output[-3000:]  # the project's test of it all ran


@pytest.mark.docker
def test_building_the_image_with_an_undeclared_package_fails_with_the_message(
    grown: Grown, docker_engine: str
) -> None:
    grown.declare_shared(False)
    tag = f"{grown.tag}:undeclared"
    try:
        result = make_build(grown.project, tag, grown.context["python_version"], check=False)
    finally:
        remove_image(tag)
    assert result.returncode != 0, "the build passed with an undeclared package"
    assert grown.undeclared_message() in result.stdout + result.stderr, result.stderr[-3000:]


@pytest.mark.docker
def test_declared_packages_subpackages_and_data_files_reach_the_image(
    grown: Grown, docker_engine: str
) -> None:
    grown.declare_shared(True)
    image = replace(grown, tag=f"{grown.tag}:declared")
    try:
        make_build(grown.project, image.tag, grown.context["python_version"])
        code = CHECK_IN_THE_IMAGE.format(package=grown.package)
        result = run_once(image, "python", "-I", "-c", code, working_dir="/")
    finally:
        remove_image(image.tag)
    assert result.returncode == 0, result.stderr
