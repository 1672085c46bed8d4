"""The import graph of a generated package, read with `ast` from its files, and its cycles.

A module imports what its import statements name, and the packages above it: importing
`pkg.database.engines` runs `pkg/__init__.py` and `pkg/database/__init__.py` first. So an
`__init__.py` that imports a module which imports a sibling (through the package) is a cycle, the
kind that works only while nothing reads the half-imported package. Every import statement
counts, those inside functions and `if TYPE_CHECKING:` too: a cycle of any kind is a layering
mistake waiting for a caller.
"""

import ast
from pathlib import Path


def module_names(package_dir: Path) -> dict[str, Path]:
    """Every module of the package by its dotted name (a package by its own name)."""
    root = package_dir.parent
    names = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def with_packages(module: str, modules: dict[str, Path]) -> set[str]:
    """The module and every package above it, those of the package under test only."""
    parts = module.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts) + 1)} & modules.keys()


def imported(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that importing `module` imports first."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found |= with_packages(alias.name, modules)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's own package, up level - 1
                here = module.split(".") if is_package else module.split(".")[:-1]
                anchor = here[: len(here) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found |= with_packages(base, modules)
            for alias in node.names:  # `from pkg.web import health`: the module health
                found |= with_packages(f"{base}.{alias.name}", modules) - with_packages(
                    base, modules
                )
    return found - {module}


def import_graph(package_dir: Path) -> dict[str, set[str]]:
    modules = module_names(package_dir)
    return {name: imported(name, path, modules) for name, path in modules.items()}


def import_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle of the graph as the modules along it (the first repeated at the end), or []."""
    done: set[str] = set()
    path: list[str] = []

    def visit(module: str) -> list[str]:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return []
        path.append(module)
        for target in sorted(graph.get(module, ())):
            if cycle := visit(target):
                return cycle
        path.pop()
        done.add(module)
        return []

    for module in sorted(graph):
        if cycle := visit(module):
            return cycle
    return []
