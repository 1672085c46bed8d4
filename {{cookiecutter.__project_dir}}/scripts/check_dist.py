#!/usr/bin/env python3
"""Fail when a file under the source tree's packages would not ship in the built wheel.

Usage: scripts/check_dist.py WHEEL   (run from the project's root)

`make test` and the image build both run it, on the wheel they have just built. The source tree's
packages are every directory and module under `src/` (src layout), or every directory with an
`__init__.py` at the root except `tests` (flat layout). Each file there that is missing from the
wheel is reported with the one line of pyproject.toml to change. Standard library only: it runs
in the image's builder stage, where only the base image's Python exists.
"""

import sys
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

# Never meant to ship, and left out of wheels by the build backends: bytecode and its caches,
# build metadata, hidden files (editor and OS droppings).
SKIPPED_SUFFIXES = {".pyc", ".pyo", ".egg-info", ".dist-info"}
NOT_SHIPPED_AT_THE_ROOT = {"tests"}


def skipped(path: Path) -> bool:
    hidden = path.name.startswith(".")
    return hidden or path.name == "__pycache__" or path.suffix in SKIPPED_SUFFIXES


def source_root(pyproject: dict[str, Any]) -> Path:
    """Where the packages live: uv_build's module-root, or setuptools' package search directory."""
    tool = pyproject.get("tool", {})
    if pyproject["build-system"]["build-backend"] == "uv_build":
        return Path(tool.get("uv", {}).get("build-backend", {}).get("module-root", "src") or ".")
    find = tool.get("setuptools", {}).get("packages", {}).get("find", {})
    return Path(find.get("where", ["."])[0])


def top_level_packages(root: Path) -> Iterator[Path]:
    """src layout: everything under src/; flat layout: the root's directories with __init__.py."""
    for path in sorted(root.iterdir()):
        if skipped(path):
            continue
        if root != Path():
            if path.is_dir() or path.suffix == ".py":
                yield path
        elif path.name not in NOT_SHIPPED_AT_THE_ROOT and (path / "__init__.py").is_file():
            yield path


def source_files(package: Path) -> Iterator[Path]:
    if package.is_file():
        yield package
        return
    for path in sorted(package.iterdir()):
        if skipped(path):
            continue
        if path.is_dir():
            yield from source_files(path)
        else:
            yield path


def fix(backend: str, package: str, declared: bool, path: Path) -> str:
    """The one line of pyproject.toml that makes this file ship."""
    if backend == "uv_build":
        if declared:  # uv_build ships a declared package whole unless told to leave files out
            return "remove the pattern matching it from wheel-exclude in [tool.uv.build-backend]"
        return f'add "{package}" to module-name in [tool.uv.build-backend]'
    if declared and path.suffix != ".py":
        return 'keep "*" = ["*"] in [tool.setuptools.package-data] (every package\'s data files)'
    return f'add "{package}*" to include in [tool.setuptools.packages.find]'


def problems(wheel: Path) -> list[str]:
    pyproject = tomllib.loads(Path("pyproject.toml").read_text())
    backend = pyproject["build-system"]["build-backend"]
    root = source_root(pyproject)
    with zipfile.ZipFile(wheel) as archive:
        shipped = {PurePosixPath(name) for name in archive.namelist()}
    shipped_top_level = {name.parts[0] for name in shipped}
    found = []
    for package in top_level_packages(root):
        missing = [
            path
            for path in source_files(package)
            if PurePosixPath(path.relative_to(root).as_posix()) not in shipped
        ]
        declared = package.name in shipped_top_level
        if missing and not declared:  # one line for the whole package
            more = len(missing) - 1
            files = f"{more} more file{'s' if more > 1 else ''}"
            missing = [Path(f"{missing[0]} (and {files} under {package}/)" if more else missing[0])]
        found += [
            f"{path} would not ship: in pyproject.toml, "
            f"{fix(backend, package.stem, declared, path)}"
            for path in missing
        ]
    return found


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    errors = problems(Path(sys.argv[1]))
    for line in errors:
        print(f"error: {line}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
