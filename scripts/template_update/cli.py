"""The command line, and the order of an update's steps (scripts/template-update says what it
does as a whole)."""

import argparse
import sys
import tempfile
from pathlib import Path

from template_update.merge import Merged, merge_renders
from template_update.render import (
    answer_new_questions,
    record_answers,
    recorded_answers,
    render,
    rendered_context,
)
from template_update.service import (
    LOCK_FILES,
    RECORD,
    Refused,
    git,
    make,
    read_record,
    require_clean_checkout,
    run_step,
    write_record,
)
from template_update.summary import Summary, output
from template_update.template import (
    Template,
    changelog_between,
    clone_template,
    migration_steps,
    resolve,
    tag_of,
    version_name,
)

EXIT_STATUS = {"updated": 0, "up to date": 0, "needs review": 1, "behind": 1, "refused": 2}
NEVER_MERGED = [RECORD, *LOCK_FILES]


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="template-update",
        description="Update a generated service from its template (see the script's docstring).",
    )
    parser.add_argument("--project", default=".", help="the service's directory (default: .)")
    parser.add_argument(
        "--ref", help="a release (0.3.0 or v0.3.0), tag, branch or commit (default: newest release)"
    )
    parser.add_argument(
        "--template", help="clone the template from here instead of .cruft.json's URL or path"
    )
    parser.add_argument(
        "--answer",
        action="append",
        default=[],
        metavar="QUESTION=VALUE",
        help="answer a question (new, or to change the recorded answer); repeatable",
    )
    parser.add_argument(
        "--check", action="store_true", help="change nothing: say whether the service is behind"
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument(
        "--no-input", action="store_true", help="take new questions' defaults even at a terminal"
    )
    parser.add_argument(
        "--no-check", action="store_true", help="skip `make install check` after the update"
    )
    return parser.parse_args(argv)


def given_answers(pairs: list[str]) -> dict[str, str]:
    malformed = [pair for pair in pairs if "=" not in pair]
    if malformed:
        raise Refused(f"--answer takes QUESTION=VALUE, not {malformed[0]!r}")
    return dict(pair.split("=", 1) for pair in pairs)


def new_summary(service: Path) -> Summary:
    return {
        "service": service.name,
        "path": str(service),
        "result": "",
        "note": "",
        "from": "?",
        "to": "?",
        "from_commit": "",
        "to_commit": "",
        "conflicts": [],
        "review": {},
        "updated": [],
        "added": [],
        "removed": [],
        "questions": [],
        "migrations": [],
        "lock": "",
        "check": "",
        "changelog": [],
    }


def commits(template: Template, record: dict, ref: str | None) -> tuple[str, str]:
    """The commit the service is at and the one to update to."""
    old = record.get("commit") or ""
    if not template.has_commit(old):
        raise Refused(
            f"{RECORD} says the service is at template commit {old or '(none)'}, which "
            f"{template.source} does not have. If the template moved, pass --template with "
            "the repository that has it."
        )
    return old, resolve(template, ref)


def relock(service: Path, merged: Merged) -> str:
    """Regenerates the lock from the merged pyproject.toml (lock files are never merged).
    Returns what happened, for the summary."""
    if "pyproject.toml" in merged.conflicts:
        return "not regenerated: pyproject.toml has conflicts; resolve them, then `make lock`"
    locked, tail = make(service, "lock")
    return "regenerated from the merged pyproject.toml" if locked else f"failed: make lock\n{tail}"


def run_check(service: Path, merged: Merged, lock: str, wanted: bool) -> str:
    if merged.conflicts:
        return "not run: conflicts to resolve first"
    if lock.startswith(("failed", "not regenerated")):
        return "not run: the lock is not up to date"
    if not wanted:
        return "not run (--no-check)"
    for target in ("install", "check"):
        passed, tail = make(service, target)
        if not passed:
            return f"failed: make {target}\n{tail}"
    return "passed"


def update(service: Path, args: argparse.Namespace, workdir: Path, summary: Summary) -> Summary:
    record = read_record(service)
    if not args.check:
        require_clean_checkout(service)
    template = clone_template(args.template or record["template"], workdir / "template")
    old, new = commits(template, record, args.ref)
    summary |= {"from": version_name(template, old), "to": version_name(template, new)}
    summary |= {"from_commit": old, "to_commit": new}
    if args.check:
        return summary | {"result": "up to date" if template.contains(old, new) else "behind"}
    if new != old and template.contains(old, new):
        if args.ref:
            raise Refused(
                f"{args.ref} ({summary['to']}) is older than the service's {summary['from']}: "
                "the updater only moves a service forward"
            )
        return summary | {"result": "up to date", "note": f"ahead of {summary['to']}"}

    old_tree = template.checkout(old, workdir / "old")
    new_tree = old_tree if new == old else template.checkout(new, workdir / "new")
    answers = recorded_answers(record)
    interactive = not args.no_input and sys.stdin.isatty()
    new_answers, questions = answer_new_questions(
        new_tree, answers, given_answers(args.answer), interactive, summary["to"]
    )
    new_context = rendered_context(new_tree, new_answers, summary["to"])
    old_context = rendered_context(old_tree, answers, summary["from"])
    old_root = render(old_tree, old_context, record["template"], old, workdir / "old-render")
    new_root = render(new_tree, new_context, record["template"], new, workdir / "new-render")

    # From here on the service changes: nothing below refuses.
    labels = [service.name, f"template {summary['from']}", f"template {summary['to']}"]
    merged = merge_renders(
        service, old_root, new_root, labels, [*NEVER_MERGED, *record.get("skip", [])]
    )
    answers_recorded = record_answers(new_context, record["template"], new)
    # `checkout` says what the bake checked out; after a move, the version taken.
    checkout = record.get("checkout") if new == old else tag_of(template, new)
    write_record(
        service,
        record
        | {"commit": new, "checkout": checkout, "context": {"cookiecutter": answers_recorded}},
    )
    summary |= {
        "conflicts": merged.conflicts,
        "review": merged.review,
        "updated": merged.updated,
        "added": merged.added,
        "removed": merged.removed,
        "questions": questions,
        "changelog": changelog_between(template, new_tree, old, new),
    }
    for step in migration_steps(template, new_tree, old, new):
        passed, tail = run_step(step, service)
        summary["migrations"].append({"step": step.stem, "ok": passed, "output": tail})
    if not git(service, "status", "--porcelain", "--", ".").stdout.strip():
        return summary | {"result": "up to date", "lock": "kept", "check": "not run: no change"}

    summary["lock"] = relock(service, merged)
    summary["check"] = run_check(service, merged, summary["lock"], not args.no_check)
    trouble = (
        merged.conflicts
        or merged.review
        or any(not step["ok"] for step in summary["migrations"])
        or not summary["check"].startswith(("passed", "not run (--no-check)"))
    )
    return summary | {"result": "needs review" if trouble else "updated"}


def main(argv: list[str]) -> int:
    args = parse_arguments(argv)
    service = Path(args.project).resolve()
    summary = new_summary(service)
    try:
        with tempfile.TemporaryDirectory(prefix="template-update-") as workdir:
            summary = update(service, args, Path(workdir), summary)
    except Refused as refusal:
        summary |= {"result": "refused", "note": str(refusal)}
    print(output(summary, args.json))
    return EXIT_STATUS[summary["result"]]
