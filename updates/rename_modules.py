"""For migration steps: rewrite a service's imports of modules its package renamed or split.

    from rename_modules import rename_modules, tidy
    changed = rename_modules({"schema": "database.migrations"}, moved={"db": {"Base": "models"}})
    tidy(changed)

`renames` maps an old module of the package to its new one (dotted: a subpackage's module);
`moved` names what went elsewhere than its module's new home, or out of a module that stays:
{old module: {name: "new.module" or "new.module:new_name"}}. In every Python file of the
service (not .venv, build output or hidden directories): `from <package>.old import a, b` and
`from .old import a, b` import each name from where it lives now (a renamed name keeps the name
the code uses: `new_name as a`); `from <package> import old` (or `from <package>.web import old`
for "web.old") becomes `from <package>.<new's package> import <new> as old`, so the code using
`old.` keeps working; `import <package>.old` and its uses `<package>.old.` name the new module.
In a file that doesn't parse (conflict markers), each import on one line is rewritten as above,
and the rest gets the module renames only, as text. Prints each file it changed.
"""

import ast
import json
import shutil
import subprocess
from pathlib import Path

SKIPPED_DIRECTORIES = {".venv", ".venv-lock", "build", "dist", "node_modules", "__pycache__"}
LINE_LENGTH = 100  # the generated project's ruff line length


def python_files(service: Path) -> list[Path]:
    return [
        path
        for path in sorted(service.rglob("*.py"))
        if not any(
            part in SKIPPED_DIRECTORIES or part.startswith(".")
            for part in path.relative_to(service).parts[:-1]
        )
    ]


def import_statement(indent: str, module: str, names: list[str]) -> str:
    """`from module import names` as ruff formats it: one line, or one name per line."""
    line = f"{indent}from {module} import {', '.join(names)}"
    if len(line) <= LINE_LENGTH:
        return line
    inner = "".join(f"{indent}    {name},\n" for name in names)
    return f"{indent}from {module} import (\n{inner}{indent})"


def rewritten_import(node: ast.ImportFrom, package: str, renames: dict[str, str],
                     moved: dict[str, dict[str, str]]) -> str | None:  # fmt: skip
    """The statements replacing this import, or None when it imports nothing renamed."""
    indent = " " * node.col_offset
    prefix = package if node.level == 0 else "." * node.level
    module = node.module or ""
    if node.level == 0:
        module = module.removeprefix(package).removeprefix(".") if module != package else ""
    moves = moved.get(module, {})
    if module in renames or any(alias.name in moves for alias in node.names):
        # from <package>.old import a, b
        destinations: dict[str, list[str]] = {}
        for alias in node.names:
            target = moves.get(alias.name, renames.get(module, module))
            new_module, _, new_name = target.partition(":")
            shown = alias.asname or alias.name
            name = f"{new_name} as {shown}" if new_name and new_name != shown else shown
            if not new_name and alias.asname:
                name = f"{alias.name} as {alias.asname}"
            destinations.setdefault(new_module, []).append(name)
        joiner = "." if prefix != "." * node.level else ""
        return "\n".join(
            import_statement(indent, f"{prefix}{joiner}{new}", names)
            for new, names in sorted(destinations.items())
        )

    def dotted(name: str) -> str:  # a module imported from its package: `from <package>.a import b`
        return f"{module}.{name}" if module else name

    def source(parent: str) -> str:  # where `from ... import` finds a module of `parent`
        if node.level:
            return prefix + parent
        return f"{prefix}.{parent}" if parent else prefix

    if any(dotted(alias.name) in renames for alias in node.names):
        kept = [a for a in node.names if dotted(a.name) not in renames]
        statements = []
        if kept:
            names = [f"{a.name} as {a.asname}" if a.asname else a.name for a in kept]
            statements.append(import_statement(indent, source(module), names))
        for alias in node.names:
            if dotted(alias.name) in renames:
                parent, _, leaf = renames[dotted(alias.name)].rpartition(".")
                name = alias.asname or alias.name
                shown = leaf if name == leaf else f"{leaf} as {name}"
                statements.append(f"{indent}from {source(parent)} import {shown}")
        return "\n".join(statements)
    return None


def one_line_import(line: str) -> ast.ImportFrom | None:
    """The `from ... import ...` statement this line holds whole, or None."""
    if not line.lstrip().startswith("from "):
        return None
    try:
        (node,) = ast.parse(line.strip()).body
    except (SyntaxError, ValueError):  # a statement's first line, or more than one statement
        return None
    if not isinstance(node, ast.ImportFrom):
        return None
    node.col_offset = len(line) - len(line.lstrip())
    return node


def rename_in(text: str, package: str, renames: dict[str, str],
              moved: dict[str, dict[str, str]]) -> str:  # fmt: skip
    """The text with its references to renamed modules (and moved names) naming the new ones."""
    try:
        tree = ast.parse(text)
    except SyntaxError:  # conflict markers: the plain module renames below still apply
        tree = None
    lines = text.splitlines(keepends=True)
    if tree is not None:
        imports = [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
        for node in sorted(imports, key=lambda n: n.lineno, reverse=True):
            replacement = rewritten_import(node, package, renames, moved)
            if replacement is not None and node.end_lineno is not None:
                lines[node.lineno - 1 : node.end_lineno] = [replacement + "\n"]
    else:
        for index, line in enumerate(lines):
            node = one_line_import(line)
            replacement = node and rewritten_import(node, package, renames, moved)
            if replacement is not None:
                lines[index] = replacement + "\n"
    text = "".join(lines)
    for old, new in renames.items():  # `import package.old`, `package.old.f()`
        text = text.replace(f"{package}.{old}.", f"{package}.{new}.")
        text = text.replace(f"import {package}.{old}\n", f"import {package}.{new}\n")
    return text


def rename_modules(
    renames: dict[str, str],
    moved: dict[str, dict[str, str]] | None = None,
    service: Path = Path(),
) -> list[Path]:
    """Rewrites the service's imports of each renamed module; returns the files changed."""
    answers = json.loads((service / ".cruft.json").read_text())["context"]["cookiecutter"]
    package = answers["package_name"]
    changed = []
    for path in python_files(service):
        original = path.read_text()
        text = rename_in(original, package, renames, moved or {})
        if text != original:
            path.write_text(text)
            changed.append(path)
            print(f"{path.relative_to(service)}: imports of {', '.join(renames)} renamed")
    return changed


def replace_in_files(old: str, new: str, said: str, service: Path = Path()) -> list[Path]:
    """Replace a text that isn't an import (a call, an attribute) in every Python file of the
    service; prints `said` for each file changed, and returns them."""
    changed = []
    for path in python_files(service):
        text = path.read_text()
        if old in text:
            path.write_text(text.replace(old, new))
            print(f"{path}: {said}")
            changed.append(path)
    return changed


def tidy(paths: list[Path], service: Path = Path()) -> None:
    """Sort the imports and format the files a step changed, with the service's own ruff (or
    uv's), as `make format` would; without either, say to run `make format`."""
    if not paths:
        return
    ruff = [str(service / ".venv/bin/ruff")] if (service / ".venv/bin/ruff").exists() else None
    if ruff is None and shutil.which("uvx"):
        ruff = ["uvx", "ruff"]
    if ruff is None:
        print("imports rewritten: run `make format` to sort them")
        return
    files = [str(path) for path in paths]
    subprocess.run([*ruff, "check", "--quiet", "--fix", "--select", "I", *files], check=False)
    subprocess.run([*ruff, "format", "--quiet", *files], check=False)
