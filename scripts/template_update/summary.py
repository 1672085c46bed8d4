"""The update's one summary: what it did and how it ended, for people (text), for machines
(JSON: scripts/fleet, the pull request workflow), and the pull request's title and Markdown
body."""

import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from template_update.template import ChangelogSection, updating_notes

# GitHub refuses a pull request body over 65,536 characters.
BODY_LIMIT = 60_000


class Result(StrEnum):
    """How the update ended."""

    UPDATED = "updated"  # merged, relocked, `make check` green (or not asked for)
    UP_TO_DATE = "up to date"
    BEHIND = "behind"  # --check: a newer release (or the --ref) is ahead
    NEEDS_REVIEW = "needs review"  # conflicts, files to look at, a failed step or check
    REFUSED = "refused"  # nothing touched; the note says why
    ERROR = "error"  # the updater crashed, printing no summary (scripts/fleet's word for it)


class Lock(StrEnum):
    """What became of the lock, which is never merged."""

    REGENERATED = "regenerated from the merged pyproject.toml"
    KEPT = "kept"  # the update changed nothing
    CONFLICTED = "not regenerated: pyproject.toml has conflicts; resolve them, then `make lock`"
    FAILED = "failed: make lock"


class Check(StrEnum):
    """What became of `make install check` after the update."""

    PASSED = "passed"
    INSTALL_FAILED = "failed: make install"
    CHECK_FAILED = "failed: make check"
    CONFLICTS = "not run: conflicts to resolve first"
    STALE_LOCK = "not run: the lock is not up to date"
    SKIPPED = "not run (--no-check)"
    NO_CHANGE = "not run: no change"


# A make target failed: its last lines are the summary's failure_output.
FAILED_TARGET = {Lock.FAILED, Check.INSTALL_FAILED, Check.CHECK_FAILED}


class How(StrEnum):
    """How a question the update asked got its answer."""

    DEFAULT = "default"
    ASKED = "answered"
    GIVEN = "--answer"
    EARLIER_RELEASES = "earlier releases"  # updates/questions.toml's answer


# The answers no one chose: an unattended update took them (scripts/fleet names them).
BY_DEFAULT = {How.DEFAULT, How.EARLIER_RELEASES}
SAID = {
    How.DEFAULT: "new question, no terminal to ask at: its default",
    How.ASKED: "new question, answered at the terminal",
    How.GIVEN: "given with --answer",
    How.EARLIER_RELEASES: "new question: the answer for services from earlier releases",
}


@dataclass
class Answer:
    """A question the update answered, its value and how; the template's note on the value."""

    question: str
    value: Any
    how: How
    note: str = ""


@dataclass
class StepRun:
    """A release's migration step (updates/X.Y.Z.py) as the update ran it."""

    step: str  # the release, X.Y.Z
    ok: bool
    output: str  # its last lines


@dataclass
class Summary:
    """Everything the update says. Versions are names (v0.2.0, v0.2.0+3 (abc1234)); paths are
    relative to the service, POSIX."""

    service: str  # the checkout's directory name
    path: str
    result: Result | None = None  # None until the update ends
    note: str = ""  # why it was refused; or a remark on the result
    from_version: str = "?"
    to_version: str = "?"
    from_commit: str = ""
    to_commit: str = ""
    conflicts: list[str] = field(default_factory=list)  # git-style markers in them
    review: dict[str, str] = field(default_factory=dict)  # path -> why a human should look
    updated: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    questions: list[Answer] = field(default_factory=list)
    migrations: list[StepRun] = field(default_factory=list)
    lock: Lock | None = None  # None: the update stopped before the lock
    check: Check | None = None
    failure_output: str = ""  # the last lines of the make target that failed (lock, install, check)
    changelog: list[ChangelogSection] = field(default_factory=list)


# The JSON's names for the versions (`from` is Python's keyword; `to` goes with it).
JSON_NAMES = {"from_version": "from", "to_version": "to"}


def needs_a_human(summary: Summary) -> list[str]:
    """One line per file someone has to look at, conflicts first."""
    lines = [f"{path}: conflict (git-style markers)" for path in summary.conflicts]
    return lines + [f"{path}: {why}" for path, why in summary.review.items()]


def answered_by_default(summary: Summary) -> list[Answer]:
    """The new questions no one answered: their defaults, or the answer for earlier releases."""
    return [answer for answer in summary.questions if answer.how in BY_DEFAULT]


def question_lines(summary: Summary, before_note: str = ": ") -> list[str]:
    """One line per question answered, each with the template's note on its answer, if any."""
    lines = []
    for answer in summary.questions:
        line = f"{answer.question} = {answer.value} ({SAID[answer.how]})"
        lines.append(f"{line}{before_note}{answer.note}" if answer.note else line)
    return lines


def with_failure(status: Lock | Check | None, summary: Summary) -> str:
    """A lock or check status, followed by the failing target's last lines if it failed."""
    return f"{status}\n{summary.failure_output}" if status in FAILED_TARGET else str(status)


def next_step(summary: Summary) -> str:
    if summary.result is Result.REFUSED:
        return "Nothing was changed."
    if summary.result in {Result.UP_TO_DATE, Result.BEHIND}:
        return ""
    steps = []
    if summary.conflicts:
        relock = (
            "make lock install check"
            if "pyproject.toml" in summary.conflicts
            else "make install check"
        )
        steps.append(f"resolve the conflicts (search for <<<<<<<), then run `{relock}`")
    if summary.review:
        steps.append("look at the files listed for review")
    if summary.check in FAILED_TARGET:
        steps.append("fix what the check reports")
    steps.append("review `git diff` and commit (nothing is committed)")
    return "Next: " + "; ".join(steps) + "."


def text(summary: Summary) -> str:
    head = (
        f"{summary.service}: template {summary.from_version} → {summary.to_version}: "
        f"{summary.result}"
    )
    if summary.result is Result.REFUSED:
        return f"{head}\n{summary.note}\n{next_step(summary)}"
    rows = [("conflicts", path) for path in summary.conflicts]
    rows += [("review", f"{path}: {why}") for path, why in summary.review.items()]
    # A note goes on a line of its own, under its question's value (past the label's column).
    rows += [("question", line) for line in question_lines(summary, "\n" + " " * 13)]
    rows += [
        ("migration", f"{run.step}: {'ok' if run.ok else 'FAILED'}: {last}".rstrip(": "))
        for run in summary.migrations
        for last in [run.output.splitlines()[-1] if run.output else ""]
    ]
    if summary.result in {Result.UPDATED, Result.NEEDS_REVIEW}:
        counts = f"{len(summary.updated)} updated, {len(summary.added)} added, "
        counts += f"{len(summary.removed)} removed"
        rows += [
            ("files", counts),
            ("lock", with_failure(summary.lock, summary)),
            ("check", with_failure(summary.check, summary)),
        ]
    lines = [head, summary.note, *(f"  {label:<10} {value}" for label, value in rows)]
    notes = [(section.version, updating_notes(section.text)) for section in summary.changelog]
    notes = [(version, note) for version, note in notes if note]
    if notes:
        lines.append("Updating notes (CHANGELOG):")
        lines += [f"  {version}:\n" + indent(note, "    ") for version, note in notes]
    return "\n".join(filter(None, [*lines, next_step(summary)]))


def indent(block: str, prefix: str) -> str:
    return "\n".join(prefix + line if line else line for line in block.splitlines())


def title(summary: Summary) -> str:
    return f"template {summary.from_version} → {summary.to_version}"


def body(summary: Summary) -> str:
    """The pull request's description: what the update did, what needs a human, the questions
    it answered, the migration steps it ran, and the CHANGELOG between the two versions."""
    sections = [
        (
            "Needs a human",
            "Conflicts are committed with their markers: resolve them on this branch.",
            [f"- [ ] {line}" for line in needs_a_human(summary)],
        ),
        (
            "Questions answered",
            "Another answer, once this is merged: `make template-update "
            "TEMPLATE_UPDATE_FLAGS='--answer QUESTION=VALUE'`.",
            [f"- {line}" for line in question_lines(summary)],
        ),
        (
            "Migration steps",
            "",
            [
                f"- {run.step}: {'ok' if run.ok else 'FAILED'}\n\n```\n{run.output}\n```"
                for run in summary.migrations
            ],
        ),
        (
            "What the template changed (CHANGELOG)",
            "",
            [
                f"<details><summary>{s.version}</summary>\n\n{s.text}\n\n</details>\n"
                for s in summary.changelog
            ],
        ),
    ]
    parts = [
        f"Updates this service from template **{summary.from_version}** "
        f"(`{summary.from_commit}`) to **{summary.to_version}** (`{summary.to_commit}`) with "
        "`make template-update`.",
        f"- result: **{summary.result}**\n- lock: {summary.lock}\n- `make check`: {summary.check}",
    ]
    if summary.failure_output:
        parts.append(f"```\n{summary.failure_output}\n```")
    parts += [
        "\n\n".join(filter(None, [f"### {heading}", note, "\n".join(items)]))
        for heading, note, items in sections
        if items
    ]
    text = "\n\n".join(parts) + "\n"
    if len(text) > BODY_LIMIT:
        text = text[:BODY_LIMIT] + "\n\n(cut short: GitHub's limit; the CHANGELOG has the rest)\n"
    return text


def to_json(summary: Summary) -> dict[str, Any]:
    """The summary for machines: its fields (the versions as `from` and `to`), the pull
    request's title and body."""
    fields = {JSON_NAMES.get(name, name): value for name, value in asdict(summary).items()}
    return fields | {"title": title(summary), "body": body(summary)}


def from_json(data: dict[str, Any]) -> Summary:
    """The summary to_json wrote (scripts/fleet reads the updater's)."""
    names = {json_name: name for name, json_name in JSON_NAMES.items()}
    fields = {names.get(key, key): value for key, value in data.items()}
    del fields["title"], fields["body"]
    typed = {
        "result": Result(data["result"]),
        "lock": Lock(data["lock"]) if data["lock"] else None,
        "check": Check(data["check"]) if data["check"] else None,
        "questions": [
            Answer(**answer | {"how": How(answer["how"])}) for answer in data["questions"]
        ],
        "migrations": [StepRun(**run) for run in data["migrations"]],
        "changelog": [ChangelogSection(**section) for section in data["changelog"]],
    }
    return Summary(**fields | typed)


def output(summary: Summary, as_json: bool) -> str:
    if as_json:
        return json.dumps(to_json(summary), indent=2)
    return text(summary)
