"""Reading GitHub Actions workflows, for tests/test_ci_workflow.py: their documents, steps and
`make` calls, the targets a Makefile has, and the checks every workflow here passes (GitHub's
schemas, zizmor, the hardening rules in assert_hardened)."""

import re
from pathlib import Path
from typing import Any

import yaml

from harness.commands import TEMPLATE, run, tool

# `uses: owner/repo(/path)@<40 hex> # v1.2.3`: a commit cannot be moved the way a tag can, and the
# comment is what Dependabot and reviewers read. Or the project's own action, ./.github/actions/.
PINNED_USES = re.compile(
    r"^\s*(?:- )?uses: (?:[\w.-]+/[\w.-]+(?:/[\w./-]+)?@[0-9a-f]{40} # v\d+(?:\.\d+)*"
    r"|\./\.github/actions/[\w-]+)$"
)
MAKE_CALL = re.compile(r"(?:^|[;&|(]\s*)make\s+([^\n;&|)]+)", re.MULTILINE)


def load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text())
    assert isinstance(document, dict), f"{path} is not a mapping"
    return document


def triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    """The `on:` mapping (YAML 1.1, which PyYAML reads, makes the key `on` the boolean True)."""
    return workflow.get("on", workflow.get(True)) or {}


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def step_index(job: dict[str, Any], predicate: Any) -> int:
    matches = [i for i, step in enumerate(job["steps"]) if predicate(step)]
    assert len(matches) == 1, f"expected one matching step, found {len(matches)}"
    return matches[0]


def uses(step: dict[str, Any], action: str) -> bool:
    return str(step.get("uses", "")).startswith(f"{action}@")


def runs(step: dict[str, Any], command: str) -> bool:
    return command in str(step.get("run", ""))


def make_calls(workflow: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """Each `make` in a run step: (target, VAR=value assignments)."""
    calls = []
    for step in steps(workflow):
        for arguments in MAKE_CALL.findall(str(step.get("run", ""))):
            words = arguments.split()
            assignments = [word.split("=", 1)[0] for word in words if "=" in word]
            targets = [word for word in words if "=" not in word and word[0] not in "-<>"]
            calls += [(target, assignments) for target in targets]  # not options, redirections
    return calls


def make_targets(project: Path) -> set[str]:
    """Targets make knows with a recipe or prerequisites (a bare .PHONY entry is neither)."""
    database = run(
        ["make", "--print-data-base", "--question", "--no-builtin-rules"],
        cwd=project,
        check=False,
    ).stdout
    targets = set()
    for block in database.split("\n\n"):
        if block.startswith("# Not a target:"):
            continue
        # `name: prerequisites` (a line `name: VAR = value` is a target-specific variable)
        for header in re.finditer(r"^([\w.-]+):(?!=)([^=\n]*)$", block, re.MULTILINE):
            if header[2].strip() or "#  recipe to execute" in block:
                targets.add(header[1])
    return targets


def check_schema(schema: str, *paths: Path) -> None:
    """Validate against one of check-jsonschema's bundled schemas (offline)."""
    run(
        [tool("check-jsonschema"), "--builtin-schema", f"vendor.{schema}", *map(str, paths)],
        cwd=TEMPLATE,
    )


def check_zizmor(path: Path) -> None:
    """zizmor's offline audits report nothing of medium severity or above."""
    run(
        [tool("zizmor"), "--offline", "--min-severity", "medium", path.name],
        cwd=path.parent,
    )


def assert_hardened(workflow_path: Path) -> dict[str, Any]:
    """The rules every workflow here follows, beyond its schema and zizmor; returns it parsed."""
    text = workflow_path.read_text()
    # GitHub's ${{ }} expressions and docker/metadata-action's {{version}} placeholders belong.
    expected = re.sub(r"\$\{\{.*?\}\}|\{\{(?:version|major|minor|patch)\}\}", "", text)
    assert not re.search(r"{{|}}|{%|%}|{#|#}", expected), "Jinja left in the workflow"

    workflow = load(workflow_path)
    uses_lines = [line for line in text.splitlines() if re.match(r"\s*(- )?uses:", line)]
    unpinned = [line.strip() for line in uses_lines if not PINNED_USES.match(line)]
    assert not unpinned, f"not pinned to a commit SHA with a version comment: {unpinned}"
    assert len(uses_lines) == sum("uses" in step for step in steps(workflow))

    assert workflow["permissions"] == {}, "the token must grant nothing unless a job asks"
    for name, job in workflow["jobs"].items():
        assert "permissions" in job, f"job {name} must say which permissions it needs"
    checkouts = [step for step in steps(workflow) if uses(step, "actions/checkout")]
    assert checkouts
    for step in checkouts:
        assert step.get("with", {}).get("persist-credentials") is False, (
            "a checkout keeps the token"
        )
    assert "group" in workflow["concurrency"]
    return workflow
