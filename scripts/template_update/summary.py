"""The update's one summary: for people (text), for machines (JSON: scripts/fleet, the pull
request workflow), and the pull request's title and Markdown body."""

import json
from typing import Any

from template_update.template import updating_notes

Summary = dict[str, Any]
# GitHub refuses a pull request body over 65,536 characters.
BODY_LIMIT = 60_000


def needs_a_human(summary: Summary) -> list[str]:
    """One line per file someone has to look at, conflicts first."""
    lines = [f"{path}: conflict (git-style markers)" for path in summary["conflicts"]]
    return lines + [f"{path}: {why}" for path, why in summary["review"].items()]


def question_lines(summary: Summary, before_note: str = ": ") -> list[str]:
    """One line per question answered, each with the template's note on its answer, if any."""
    how = {
        "default": "new question, no terminal to ask at: its default",
        "answered": "new question, answered at the terminal",
        "--answer": "given with --answer",
        "earlier releases": "new question: the answer for services from earlier releases",
    }
    lines = []
    for question in summary["questions"]:
        line = f"{question['question']} = {question['value']} ({how[question['how']]})"
        lines.append(f"{line}{before_note}{question['note']}" if question["note"] else line)
    return lines


def next_step(summary: Summary) -> str:
    if summary["result"] == "refused":
        return "Nothing was changed."
    if summary["result"] in {"up to date", "behind"}:
        return ""
    steps = []
    if summary["conflicts"]:
        relock = (
            "make lock install check"
            if "pyproject.toml" in summary["conflicts"]
            else ("make install check")
        )
        steps.append(f"resolve the conflicts (search for <<<<<<<), then run `{relock}`")
    if summary["review"]:
        steps.append("look at the files listed for review")
    if summary["check"].startswith("failed"):
        steps.append("fix what the check reports")
    steps.append("review `git diff` and commit (nothing is committed)")
    return "Next: " + "; ".join(steps) + "."


def text(summary: Summary) -> str:
    head = (
        f"{summary['service']}: template {summary['from']} → {summary['to']}: {summary['result']}"
    )
    if summary["result"] == "refused":
        return f"{head}\n{summary['note']}\n{next_step(summary)}"
    rows = [("conflicts", path) for path in summary["conflicts"]]
    rows += [("review", f"{path}: {why}") for path, why in summary["review"].items()]
    # A note goes on a line of its own, under its question's value (past the label's column).
    rows += [("question", line) for line in question_lines(summary, "\n" + " " * 13)]
    rows += [
        ("migration", f"{m['step']}: {'ok' if m['ok'] else 'FAILED'}: {last}".rstrip(": "))
        for m in summary["migrations"]
        for last in [m["output"].splitlines()[-1] if m["output"] else ""]
    ]
    if summary["result"] in {"updated", "needs review"}:
        counts = ", ".join(
            f"{len(summary[kind])} {kind}" for kind in ("updated", "added", "removed")
        )
        rows += [("files", counts), ("lock", summary["lock"]), ("check", summary["check"])]
    lines = [head, summary["note"], *(f"  {label:<10} {value}" for label, value in rows)]
    notes = [
        (section["version"], updating_notes(section["text"])) for section in summary["changelog"]
    ]
    notes = [(version, note) for version, note in notes if note]
    if notes:
        lines.append("Updating notes (CHANGELOG):")
        lines += [f"  {version}:\n" + indent(note, "    ") for version, note in notes]
    return "\n".join(filter(None, [*lines, next_step(summary)]))


def indent(block: str, prefix: str) -> str:
    return "\n".join(prefix + line if line else line for line in block.splitlines())


def title(summary: Summary) -> str:
    return f"template {summary['from']} → {summary['to']}"


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
                f"- {m['step']}: {'ok' if m['ok'] else 'FAILED'}\n\n```\n{m['output']}\n```"
                for m in summary["migrations"]
            ],
        ),
        (
            "What the template changed (CHANGELOG)",
            "",
            [
                f"<details><summary>{s['version']}</summary>\n\n{s['text']}\n\n</details>\n"
                for s in summary["changelog"]
            ],
        ),
    ]
    parts = [
        f"Updates this service from template **{summary['from']}** (`{summary['from_commit']}`) "
        f"to **{summary['to']}** (`{summary['to_commit']}`) with `make template-update`.",
        f"- result: **{summary['result']}**\n- lock: {summary['lock']}\n"
        f"- `make check`: {summary['check']}",
    ]
    parts += [
        "\n\n".join(filter(None, [f"### {heading}", note, "\n".join(items)]))
        for heading, note, items in sections
        if items
    ]
    text = "\n\n".join(parts) + "\n"
    if len(text) > BODY_LIMIT:
        text = text[:BODY_LIMIT] + "\n\n(cut short: GitHub's limit; the CHANGELOG has the rest)\n"
    return text


def output(summary: Summary, as_json: bool) -> str:
    if as_json:
        return json.dumps(summary | {"title": title(summary), "body": body(summary)}, indent=2)
    return text(summary)
