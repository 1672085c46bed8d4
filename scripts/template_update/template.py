"""The template's clone: its releases, the commits a service moves between, and what the
CHANGELOG and the migration steps say about the releases crossed."""

import re
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

from template_update.service import Refused

RELEASES_FILE = "releases.toml"
# A migration step: updates/X.Y.Z.py, run in the service after the merge of an update that
# crosses release X.Y.Z (or that brings the step in, before its release is recorded).
STEP = re.compile(r"\d+\.\d+\.\d+")
CHANGELOG_HEADING = re.compile(r"^## \[(?P<name>[^\]]+)\]", re.MULTILINE)
UNRELEASED = "Unreleased"


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


@dataclass
class ChangelogSection:
    version: str  # the release, or Unreleased
    text: str  # the section, its heading included


@dataclass
class Template:
    source: str  # the URL or path it was cloned from
    clone: Path
    releases: dict[str, str]  # version -> commit, oldest first

    def git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["git", "-C", str(self.clone), *args], capture_output=True, text=True, check=False
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"git {' '.join(args)} failed in the template's clone:\n{result.stderr.strip()}"
            )
        return result

    def has_commit(self, commit: str) -> bool:
        return self.git("cat-file", "-e", f"{commit}^{{commit}}", check=False).returncode == 0

    def contains(self, descendant: str, ancestor: str) -> bool:
        """Whether `descendant` is `ancestor` or comes after it."""
        found = self.git("merge-base", "--is-ancestor", ancestor, descendant, check=False)
        return found.returncode == 0

    def has_file(self, commit: str, path: str) -> bool:
        return self.git("cat-file", "-e", f"{commit}:{path}", check=False).returncode == 0

    def checkout(self, commit: str, directory: Path) -> Path:
        """The template's files at `commit`, in a directory of their own."""
        self.git("worktree", "add", "--quiet", "--detach", str(directory), commit)
        return directory


def clone_template(source: str, directory: Path) -> Template:
    cloned = subprocess.run(
        ["git", "clone", "--quiet", "--no-checkout", source, str(directory)],
        capture_output=True,
        text=True,
        check=False,
    )
    if cloned.returncode != 0:
        raise Refused(
            f"cannot clone the template {source}: {cloned.stderr.strip()}\nIs it reachable "
            "(network, credentials)? --template URL_OR_PATH reads it from elsewhere."
        )
    template = Template(source, directory, {})
    record = template.git("show", f"HEAD:{RELEASES_FILE}", check=False)
    if record.returncode == 0:
        releases = tomllib.loads(record.stdout)
        template.releases = {v: releases[v] for v in sorted(releases, key=version_key)}
    return template


def resolve(template: Template, ref: str | None) -> str:
    """The commit to update to: the newest release, or REF (a version, tag, branch or commit)."""
    if ref is None:
        if not template.releases:
            raise Refused(
                f"{template.source} records no releases ({RELEASES_FILE} on its default "
                "branch): name the commit, tag or branch to update to with --ref (REF=)"
            )
        return list(template.releases.values())[-1]
    if ref.removeprefix("v") in template.releases:
        return template.releases[ref.removeprefix("v")]
    for candidate in (ref, f"origin/{ref}"):
        found = template.git(
            "rev-parse", "--verify", "--quiet", f"{candidate}^{{commit}}", check=False
        )
        if found.returncode == 0:
            return found.stdout.strip()
    known = ", ".join(template.releases) or "none recorded"
    raise Refused(
        f"{ref} is neither a release of the template (releases: {known}) nor a commit, tag or "
        f"branch of {template.source}"
    )


def tag_of(template: Template, commit: str) -> str:
    """The release tag (v0.3.0) naming the commit, else the commit."""
    versions = [version for version, release in template.releases.items() if release == commit]
    return f"v{versions[-1]}" if versions else commit


def version_name(template: Template, commit: str) -> str:
    """v0.2.0 for a release; v0.2.0+3 (abc1234) for a commit 3 after it; else abc1234."""
    for version, release in reversed(template.releases.items()):
        if release == commit:
            return f"v{version}"
        if template.contains(commit, release):
            count = template.git("rev-list", "--count", f"{release}..{commit}").stdout.strip()
            return f"v{version}+{count} ({commit[:7]})"
    return commit[:7]


def releases_crossed(template: Template, old: str, new: str) -> list[str]:
    """The releases `new` has and `old` hasn't, oldest first."""
    return [
        version
        for version, commit in template.releases.items()
        if template.contains(new, commit) and not template.contains(old, commit)
    ]


def changelog_sections(tree: Path) -> dict[str, str]:
    """CHANGELOG.md's sections by name (Unreleased, 0.2.0, ...), each with its heading."""
    changelog = tree / "CHANGELOG.md"
    text = changelog.read_text() if changelog.is_file() else ""
    headings = list(CHANGELOG_HEADING.finditer(text))
    ends = [heading.start() for heading in headings[1:]] + [len(text)]
    return {
        heading["name"]: text[heading.start() : end].strip()
        for heading, end in zip(headings, ends, strict=True)
    }


def changelog_between(template: Template, tree: Path, old: str, new: str) -> list[ChangelogSection]:
    """The CHANGELOG sections (from `tree`, the new commit's files) an update from `old` to
    `new` brings: each release crossed, and Unreleased when `new` is no release."""
    sections = changelog_sections(tree)
    names = releases_crossed(template, old, new)
    if new not in template.releases.values():
        names.append(UNRELEASED)
    # A heading alone (an empty Unreleased) says nothing.
    return [
        ChangelogSection(name, sections[name])
        for name in names
        if name in sections and "\n" in sections[name]
    ]


def updating_notes(section: str) -> str:
    """The **Updating** part of one CHANGELOG section, without its heading."""
    notes = re.search(r"^### Updating\n(.*?)(?=^### |\Z)", section, re.MULTILINE | re.DOTALL)
    return notes[1].strip() if notes else ""


def migration_steps(template: Template, tree: Path, old: str, new: str) -> list[Path]:
    """The steps in `tree` (the new commit's files) an update from `old` to `new` runs, oldest
    release first: a recorded release's step when the update crosses that release; an
    unreleased one when `old` lacks it."""
    steps = [path for path in (tree / "updates").glob("*.py") if STEP.fullmatch(path.stem)]
    crossed = set(releases_crossed(template, old, new))
    unreleased = [
        step
        for step in steps
        if step.stem not in template.releases and not template.has_file(old, f"updates/{step.name}")
    ]
    due = [step for step in steps if step.stem in crossed] + unreleased
    return sorted(due, key=lambda step: version_key(step.stem))
