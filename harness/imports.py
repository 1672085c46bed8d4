"""The import graph of a generated package, read with `ast` from its files, and its cycles; and
the private names its code reaches into.

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


def private(name: str) -> bool:
    """`_name` is private by Python's convention; `__name__` (a dunder) is not."""
    return name.startswith("_") and not name.endswith("__")


def private_names_used(project: Path) -> list[str]:
    """Each place the project's Python reaches a private name it doesn't own: an attribute
    `._name` of anything but `self` or `cls`, the same through getattr/setattr/hasattr, or an
    import of an underscored module or name. A library's private names change in any release:
    code using them breaks on a routine dependency update."""
    found = []
    for path in sorted(project.rglob("*.py")):
        if ".venv" in path.parts:
            continue
        where = path.relative_to(project)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and private(node.attr):
                if not (isinstance(node.value, ast.Name) and node.value.id in {"self", "cls"}):
                    found.append(f"{where}:{node.lineno}: {ast.unparse(node)}")
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                names = [a.value for a in node.args[1:2] if isinstance(a, ast.Constant)]
                if node.func.id in {"getattr", "setattr", "hasattr"} and any(
                    isinstance(name, str) and private(name) for name in names
                ):
                    found.append(f"{where}:{node.lineno}: {ast.unparse(node)}")
            elif isinstance(node, ast.Import | ast.ImportFrom):
                # `import a._b`, `from a._b import c`, `from a import _b`: each part a name.
                module = (node.module or "") if isinstance(node, ast.ImportFrom) else ""
                parts = [*module.split("."), *(p for a in node.names for p in a.name.split("."))]
                if any(private(part) for part in parts):
                    found.append(f"{where}:{node.lineno}: {ast.unparse(node)}")
    return found
