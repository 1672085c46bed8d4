"""The template as services reach it, for the update tests: a git repository with this
checkout's history (so every release in releases.toml) and, on top, one commit of the working
tree under test (committed or not, less ignored files). Services are baked from it through a
file:// URL at any commit, as from a hosted template, and committed in repositories of their
own; the updater (scripts/template-update) then moves them."""

import os
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cookiecutter.main import cookiecutter

from harness.commands import TEMPLATE, run

UPDATER = TEMPLATE / "scripts" / "template-update"
FLEET = TEMPLATE / "scripts" / "fleet"
RELEASES = tomllib.loads((TEMPLATE / "releases.toml").read_text())

# Commits in the temporary repositories, whatever the user's git configuration says.
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Template Tests",
    "GIT_AUTHOR_EMAIL": "tests@example.com",
    "GIT_COMMITTER_NAME": "Template Tests",
    "GIT_COMMITTER_EMAIL": "tests@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(repo: Path, *args: str) -> str:
    return run(["git", *args], cwd=repo, env=GIT_ENV).stdout


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--allow-empty", "--message", message)


def start_repo(project: Path) -> None:
    git(project, "init", "--quiet", "--initial-branch=main")
    commit_all(project, "Generate from the template")


def status(project: Path) -> list[str]:
    """`git status --porcelain` lines, untracked files one by one."""
    return git(project, "status", "--porcelain", "--untracked-files=all").splitlines()


@dataclass
class TemplateRepo:
    path: Path
    url: str  # file://.../service-template.git: cookiecutter clones a URL only if it says git
    head: str  # the working tree's commit
    config: Path  # a cookiecutter config keeping its clones out of the home directory

    def bake(self, commit: str, parent: Path, **answers: Any) -> Path:
        """A project generated at `commit` with these answers, unlocked and not committed."""
        baked = cookiecutter(
            self.url,
            checkout=commit,
            no_input=True,
            output_dir=str(parent),
            config_file=str(self.config),
            extra_context={"_lock": False, **answers},
        )
        return Path(baked)


def working_tree_repo(directory: Path) -> TemplateRepo:
    """Clones this checkout with its history, then commits the working tree on top."""
    missing = [
        version
        for version, commit in RELEASES.items()
        if subprocess.run(
            ["git", "-C", str(TEMPLATE), "cat-file", "-e", f"{commit}^{{commit}}"],
            capture_output=True,
            check=False,
        ).returncode
    ]
    if missing:
        pytest.fail(
            f"this checkout lacks the commits of releases {', '.join(missing)} (releases.toml), "
            "which the update tests bake services from: fetch the full history "
            "(git fetch --unshallow; in GitHub Actions, checkout with fetch-depth: 0)",
            pytrace=False,
        )
    repo = directory / "service-template.git"
    run(["git", "clone", "--quiet", "--no-hardlinks", str(TEMPLATE), str(repo)], cwd=directory)
    # The working tree's files, as git sees them there (its .gitignore applies).
    run(
        ["git", f"--git-dir={repo / '.git'}", f"--work-tree={TEMPLATE}", "add", "--all"],
        cwd=directory,
        env=GIT_ENV,
    )
    git(repo, "commit", "--quiet", "--allow-empty", "--message", "The working tree under test")
    git(repo, "reset", "--quiet", "--hard")
    config = directory / "cookiecutter-config.yaml"
    config.write_text(
        f"cookiecutters_dir: {directory}/cookiecutters\nreplay_dir: {directory}/replay\n"
    )
    return TemplateRepo(repo, repo.as_uri(), git(repo, "rev-parse", "HEAD").strip(), config)


def update_command(*args: str) -> list[str]:
    return [sys.executable, str(UPDATER), *args]
