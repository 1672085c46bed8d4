"""The template's changes between two renders (old: the service's commit, new: the target),
merged into the service's files.

For each file: unchanged by the template, nothing happens. Changed: where the service left it
as the old render had it, it takes the new one; otherwise git merge-file merges the two sets of
changes, and where they touch the same lines leaves git-style conflict markers. Added by the
template: added (merged against an empty base if the service has its own). Deleted or renamed
by the template: removed where the service left it as it was, else kept and listed for review.
Binary files are taken where untouched, else listed. Lock files and .cruft.json are never
merged: the lock is regenerated from the merged pyproject.toml, the record rewritten.
"""

import difflib
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

EXECUTABLE = 0o111
# The least similarity for "renamed to" in a review note about a file the template removed.
RENAME_SIMILARITY = 0.5


@dataclass
class Merged:
    """What the merge did to the service, by path (relative, POSIX)."""

    updated: list[str] = field(default_factory=list)  # cleanly, with the template's changes
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)  # git-style markers in the file
    review: dict[str, str] = field(default_factory=dict)  # path -> why a human should look

    @property
    def changed(self) -> list[str]:
        return sorted({*self.updated, *self.added, *self.removed, *self.conflicts})


def files_under(root: Path) -> dict[str, Path]:
    return {path.relative_to(root).as_posix(): path for path in root.rglob("*") if path.is_file()}


def is_text(data: bytes) -> bool:
    if b"\0" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def executable(path: Path) -> bool:
    return bool(path.stat().st_mode & EXECUTABLE)


def write(target: Path, data: bytes, like: Path) -> None:
    """Writes the file with the template's executable bits (those of `like`, the new render)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    follow_mode(target, like)


def follow_mode(target: Path, like: Path) -> None:
    """Executable where `like` is (for whoever may read it), else not."""
    mode = target.stat().st_mode & 0o7777 & ~EXECUTABLE
    if executable(like):
        mode |= (mode & 0o444) >> 2
    target.chmod(mode)


def merge_file(ours: bytes, base: bytes, theirs: bytes, labels: list[str]) -> tuple[bytes, bool]:
    """git merge-file of the service's file (ours) with the template's change base -> theirs;
    the result, and whether it has conflicts."""
    with tempfile.TemporaryDirectory(prefix="template-merge-") as directory:
        paths = []
        for name, data in (("ours", ours), ("base", base), ("theirs", theirs)):
            path = Path(directory, name)
            path.write_bytes(data)
            paths.append(str(path))
        labelled = [argument for label in labels for argument in ("-L", label)]
        command = ["git", "merge-file", "--stdout", *labelled, *paths]
        result = subprocess.run(command, capture_output=True, check=False)
    if result.returncode > 127:  # an error; 1-127 counts the conflicts
        raise RuntimeError(f"git merge-file failed: {result.stderr.decode(errors='replace')}")
    return result.stdout, result.returncode > 0


def renamed_to(old: bytes, added: dict[str, Path]) -> str | None:
    """The file the template added that most resembles a file it removed, if any does."""
    if not is_text(old):
        return None
    best, best_ratio = None, RENAME_SIMILARITY
    for path, new_file in added.items():
        new = new_file.read_bytes()
        if not is_text(new):
            continue
        ratio = difflib.SequenceMatcher(None, old.decode(), new.decode()).ratio()
        if ratio > best_ratio:
            best, best_ratio = path, ratio
    return best


def skipped(path: str, skip: list[str]) -> bool:
    return any(
        path == entry.rstrip("/") or path.startswith(entry.rstrip("/") + "/") for entry in skip
    )


def merge_renders(
    service: Path, old_root: Path, new_root: Path, labels: list[str], never: list[str]
) -> Merged:
    """Merges the template's changes from old_root to new_root into the service. `never`:
    paths (files or directories) left alone; `labels`: the conflict markers' names for the
    service, the old and the new version."""
    old, new = files_under(old_root), files_under(new_root)
    merged = Merged()
    for path in sorted(old.keys() | new.keys()):
        if skipped(path, never):
            continue
        target = service / path
        mine = target.read_bytes() if target.is_file() else None
        if path not in new:
            remove_or_keep(path, target, mine, old[path], new, old, merged)
        elif path not in old:
            add(path, target, mine, new[path], labels, merged)
        else:
            update(path, target, mine, old[path], new[path], labels, merged)
    remove_empty_directories(service, merged.removed)
    return merged


def remove_or_keep(
    path: str,
    target: Path,
    mine: bytes | None,
    old_file: Path,
    new: dict[str, Path],
    old: dict[str, Path],
    merged: Merged,
) -> None:
    """A file the template deleted or renamed."""
    if mine is None:
        return
    if mine == old_file.read_bytes():
        target.unlink()
        merged.removed.append(path)
        return
    added = {other: new[other] for other in new.keys() - old.keys()}
    successor = renamed_to(old_file.read_bytes(), added)
    merged.review[path] = (
        f"the template renamed it to {successor}; you changed it: move your changes there, "
        "then delete it"
        if successor
        else "the template deleted it; you changed it: delete it, or keep it as your own"
    )


def add(
    path: str, target: Path, mine: bytes | None, new_file: Path, labels: list[str], merged: Merged
) -> None:
    """A file the template added."""
    theirs = new_file.read_bytes()
    if mine is None:
        write(target, theirs, new_file)
        merged.added.append(path)
    elif mine != theirs:
        combine(path, target, mine, b"", new_file, labels, merged)


def update(
    path: str,
    target: Path,
    mine: bytes | None,
    old_file: Path,
    new_file: Path,
    labels: list[str],
    merged: Merged,
) -> None:
    """A file both renders have."""
    base, theirs = old_file.read_bytes(), new_file.read_bytes()
    mode_changed = executable(old_file) != executable(new_file)
    if mine is None:
        if base != theirs:
            merged.review[path] = "you deleted it; the template changed it (not restored)"
    elif base == theirs or mine == theirs:
        if mode_changed:
            follow_mode(target, new_file)
            merged.updated.append(path)
    elif mine == base:
        write(target, theirs, new_file)
        merged.updated.append(path)
    else:
        combine(path, target, mine, base, new_file, labels, merged)


def combine(
    path: str,
    target: Path,
    mine: bytes,
    base: bytes,
    new_file: Path,
    labels: list[str],
    merged: Merged,
) -> None:
    """Three-way merge of the service's changes and the template's into the service's file."""
    theirs = new_file.read_bytes()
    if not all(map(is_text, (mine, base, theirs))):
        merged.review[path] = "binary; you and the template both changed it: pick one"
        return
    result, conflicted = merge_file(mine, base, theirs, labels)
    write(target, result, new_file)
    (merged.conflicts if conflicted else merged.updated).append(path)


def remove_empty_directories(service: Path, removed: list[str]) -> None:
    """Removes the directories the removed files leave empty."""
    for path in removed:
        directory = (service / path).parent
        while directory != service and directory.is_dir() and not any(directory.iterdir()):
            directory.rmdir()
            directory = directory.parent
