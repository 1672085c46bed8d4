"""For migration steps: rewrite a service's imports of modules its package renamed.

    from rename_modules import rename_modules
    rename_modules({"schema": "migrations"})   # <package>/schema.py is now migrations.py

In every Python file of the service (not .venv, build output or hidden directories), for each
renamed module: `from <package>.old import x` and `from .old import x` import from the new
module; `from <package> import old` (and `from . import old`) becomes `... import new as old`,
so that the code using `old.` keeps working; `import <package>.old` and its uses
`<package>.old.` name the new module. Prints each file it changed.
"""

import json
import re
from pathlib import Path

SKIPPED_DIRECTORIES = {".venv", ".venv-lock", "build", "dist", "node_modules", "__pycache__"}


def python_files(service: Path) -> list[Path]:
    return [
        path
        for path in sorted(service.rglob("*.py"))
        if not any(
            part in SKIPPED_DIRECTORIES or part.startswith(".")
            for part in path.relative_to(service).parts[:-1]
        )
    ]


def rename_in(text: str, package: str, old: str, new: str) -> str:
    """The text with its references to the package's module `old` naming `new` instead."""
    pkg, old_name = re.escape(package), re.escape(old)
    # package.old anywhere: `from package.old import`, `import package.old`, `package.old.f()`
    text = re.sub(rf"\b{pkg}\.{old_name}\b", f"{package}.{new}", text)
    # from .old import ...
    text = re.sub(rf"^(\s*from \.){old_name}\b", rf"\g<1>{new}", text, flags=re.MULTILINE)

    # from package import a, old  /  from . import (old, b): keep the name the code uses
    def alias(statement: re.Match[str]) -> str:
        names = re.sub(
            rf"(?<!as )\b{old_name}\b(\s+as\b)?",
            lambda name: f"{new}{name[1]}" if name[1] else f"{new} as {old}",
            statement[2],
        )
        return statement[1] + names

    pattern = rf"^(\s*from (?:{pkg}|\.) import\s+)(\([^)]*\)|[^\n]*)"
    return re.sub(pattern, alias, text, flags=re.MULTILINE)


def rename_modules(renames: dict[str, str], service: Path = Path()) -> list[Path]:
    """Rewrites the service's imports of each renamed module; returns the files changed."""
    answers = json.loads((service / ".cruft.json").read_text())["context"]["cookiecutter"]
    package = answers["package_name"]
    changed = []
    for path in python_files(service):
        text = original = path.read_text()
        for old, new in renames.items():
            text = rename_in(text, package, old, new)
        if text != original:
            path.write_text(text)
            changed.append(path)
            print(f"{path.relative_to(service)}: imports of {', '.join(renames)} renamed")
    return changed
