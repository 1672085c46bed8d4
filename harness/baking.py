"""Baking the template, and the dependency import names its pre-gen hook refuses."""

import functools
import os
import re
import shutil
import subprocess
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jinja2
from cookiecutter import generate as cookiecutter_generate
from cookiecutter.environment import StrictEnvironment
from cookiecutter.main import cookiecutter

from harness.commands import TEMPLATE


class CompiledTemplates(jinja2.BytecodeCache):
    """Jinja's compiled code for each template file, kept in memory by file and source (a changed
    file is compiled again): Jinja's documented extension point for caching compilation."""

    def __init__(self) -> None:
        self.code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        if bucket.key in self.code:
            bucket.bytecode_from_string(self.code[bucket.key])

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.code[bucket.key] = bucket.bytecode_to_string()


def compile_each_template_once() -> None:
    """Cookiecutter makes a Jinja environment per bake, without a cache, so each bake compiles
    every file of the template again, and every path, answer and hook it renders from a string:
    most of a bake's time. The tests bake hundreds of times in a process; the environments
    cookiecutter renders files with (keep_trailing_newline, as every one of them is made) share
    one cache instead, and the strings' compiled code is kept by source and settings. What a bake
    writes is the same."""
    make_environment = StrictEnvironment.__init__
    compile_source = StrictEnvironment.compile
    compiled = CompiledTemplates()
    compiled_strings: dict[tuple[str, bool, tuple[str, ...]], Any] = {}

    @functools.wraps(make_environment)
    def make_environment_sharing_compiled_code(self: StrictEnvironment, **options: Any) -> None:
        make_environment(self, **options)
        if self.keep_trailing_newline:  # a lexer setting: compiled code differs without it
            self.bytecode_cache = compiled

    @functools.wraps(compile_source)
    def compile_each_string_once(
        self: StrictEnvironment, source: str, name: str | None = None, *args: Any, **options: Any
    ) -> Any:
        # from_string() compiles its source with no name and no other argument; the rest (a
        # file's template, Jinja's raw output) is compiled as before.
        if name is not None or args or options:
            return compile_source(self, source, name, *args, **options)
        # What else shapes the compiled code: the lexer setting and the extensions (their tags).
        key = (source, self.keep_trailing_newline, tuple(sorted(self.extensions)))
        if key not in compiled_strings:
            compiled_strings[key] = compile_source(self, source)
        return compiled_strings[key]

    StrictEnvironment.__init__ = make_environment_sharing_compiled_code  # type: ignore[method-assign]
    StrictEnvironment.compile = compile_each_string_once  # type: ignore[method-assign]


def check_each_file_for_binary_once() -> None:
    """Cookiecutter reads the start of each template file on every bake to tell a binary file
    (copied as it is) from text (rendered); the answer is kept per file, size and change time."""
    is_binary = cookiecutter_generate.is_binary

    @functools.wraps(is_binary)
    def is_binary_once(path: str) -> bool:
        found = os.stat(path)
        return binary_files(os.path.abspath(path), found.st_size, found.st_mtime_ns)

    @functools.cache
    def binary_files(path: str, size: int, changed: int) -> bool:
        return bool(is_binary(path))

    cookiecutter_generate.is_binary = is_binary_once


compile_each_template_once()
check_each_file_for_binary_once()


@functools.cache
def cookiecutter_config() -> str:
    """A configuration of our own: clones and replay files stay out of the home directory, and
    the user's ~/.cookiecutterrc doesn't change what a bake answers."""
    directory = Path(tempfile.mkdtemp(prefix="template-cookiecutter-"))
    config = directory / "config.yaml"
    config.write_text(f"cookiecutters_dir: {directory}/clones\nreplay_dir: {directory}/replay\n")
    return str(config)


def bake(output_dir: Path, template: str | Path = TEMPLATE, **answers: Any) -> Path:
    """Bake with these answers, no prompts, into output_dir; locking is off unless `_lock` says
    otherwise. A refused answer raises cookiecutter's exception (FailedHookException, ...)."""
    return Path(
        cookiecutter(
            str(template),
            no_input=True,
            output_dir=str(output_dir),
            extra_context={"_lock": False, **answers},
            config_file=cookiecutter_config(),
        )
    )


# What a copy of a bake leaves behind: the environment is made again; caches mislead.
NOT_COPIED = shutil.ignore_patterns(".venv", ".*_cache", "__pycache__", "coverage.xml")


def copy_project(project: Path, destination: Path) -> Path:
    """A copy of a (locked) bake to change, without its environment and caches."""
    shutil.copytree(project, destination, ignore=NOT_COPIED)
    return destination


def text_files(project: Path) -> Iterator[Path]:
    for path in sorted(project.rglob("*")):
        if path.is_file() and ".venv" not in path.parts and "__pycache__" not in path.parts:
            yield path


# ---- the package names the pre-gen hook refuses because a dependency imports under them ------

PRE_GEN_HOOK = TEMPLATE / "hooks" / "pre_gen_project.py"
NAMES_BEGIN, NAMES_END = "# BEGIN dependency import names\n", "# END dependency import names\n"
# Prints the top-level import names of every distribution installed in the running environment.
PRINT_IMPORT_NAMES = "import importlib.metadata as m; print(*m.packages_distributions())"


def dependency_import_names() -> set[str]:
    """The import names the pre-gen hook refuses as package names (its generated block)."""
    block = PRE_GEN_HOOK.read_text().split(NAMES_BEGIN)[1].split(NAMES_END)[0]
    return set(re.findall(r'"(\w+)"', block))


def write_dependency_import_names(names: set[str]) -> None:
    """Replace the hook's generated block with these names."""
    listed = ", ".join(f'"{name}"' for name in sorted(names))
    body = textwrap.fill(listed, 96, initial_indent="    ", subsequent_indent="    ")
    block = f"DEPENDENCY_IMPORT_NAMES = frozenset({{\n{body}\n}})\n"
    head, rest = PRE_GEN_HOOK.read_text().split(NAMES_BEGIN)
    PRE_GEN_HOOK.write_text(head + NAMES_BEGIN + block + NAMES_END + rest.split(NAMES_END)[1])


def import_names(printed: str) -> set[str]:
    """The lowercase module names among what PRINT_IMPORT_NAMES printed."""
    return {name for name in printed.split() if re.fullmatch(r"[a-z][a-z0-9_]*", name)}


def installed_import_names(python: Path) -> set[str]:
    """Top-level import names of every distribution installed in that interpreter's environment."""
    command = [python, "-c", PRINT_IMPORT_NAMES]
    return import_names(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
