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
from template_update.summary import Check, Lock, Result, StepRun, Summary, output
from template_update.template import (
    Template,
    changelog_between,
    clone_template,
    migration_steps,
    resolve,
    tag_of,
    version_name,
)

EXIT_STATUS = {
    Result.UPDATED: 0,
    Result.UP_TO_DATE: 0,
    Result.NEEDS_REVIEW: 1,
    Result.BEHIND: 1,
    Result.REFUSED: 2,
}
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


def relock(service: Path, merged: Merged) -> tuple[Lock, str]:
    """Regenerates the lock from the merged pyproject.toml (lock files are never merged).
    Returns what became of it, and the output's last lines if `make lock` failed."""
    if "pyproject.toml" in merged.conflicts:
        return Lock.CONFLICTED, ""
    locked, tail = make(service, "lock")
    return (Lock.REGENERATED, "") if locked else (Lock.FAILED, tail)


def run_check(service: Path, merged: Merged, lock: Lock, wanted: bool) -> tuple[Check, str]:
    """`make install check`, where it can tell something; the output's last lines if it failed."""
    if merged.conflicts:
        return Check.CONFLICTS, ""
    if lock is not Lock.REGENERATED:
        return Check.STALE_LOCK, ""
    if not wanted:
        return Check.SKIPPED, ""
    for target, failed in (("install", Check.INSTALL_FAILED), ("check", Check.CHECK_FAILED)):
        passed, tail = make(service, target)
        if not passed:
            return failed, tail
    return Check.PASSED, ""


def update(service: Path, args: argparse.Namespace, workdir: Path, summary: Summary) -> Result:
    """Updates the service, filling in the summary as it goes; how the update ended."""
    record = read_record(service)
    if not args.check:
        require_clean_checkout(service)
    template = clone_template(args.template or record["template"], workdir / "template")
    old, new = commits(template, record, args.ref)
    summary.from_version, summary.to_version = (
        version_name(template, old),
        version_name(template, new),
    )
    summary.from_commit, summary.to_commit = old, new
    if args.check:
        return Result.UP_TO_DATE if template.contains(old, new) else Result.BEHIND
    if new != old and template.contains(old, new):
        if args.ref:
            raise Refused(
                f"{args.ref} ({summary.to_version}) is older than the service's "
                f"{summary.from_version}: the updater only moves a service forward"
            )
        summary.note = f"ahead of {summary.to_version}"
        return Result.UP_TO_DATE

    old_tree = template.checkout(old, workdir / "old")
    new_tree = old_tree if new == old else template.checkout(new, workdir / "new")
    answers = recorded_answers(record)
    interactive = not args.no_input and sys.stdin.isatty()
    new_answers, summary.questions = answer_new_questions(
        new_tree, answers, given_answers(args.answer), interactive, summary.to_version
    )
    new_context = rendered_context(new_tree, new_answers, summary.to_version)
    old_context = rendered_context(old_tree, answers, summary.from_version)
    old_root = render(old_tree, old_context, record["template"], old, workdir / "old-render")
    new_root = render(new_tree, new_context, record["template"], new, workdir / "new-render")

    # From here on the service changes: nothing below refuses.
    labels = [service.name, f"template {summary.from_version}", f"template {summary.to_version}"]
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
    summary.conflicts, summary.review = merged.conflicts, merged.review
    summary.updated, summary.added, summary.removed = merged.updated, merged.added, merged.removed
    summary.changelog = changelog_between(template, new_tree, old, new)
    for step in migration_steps(template, new_tree, old, new):
        summary.migrations.append(StepRun(step.stem, *run_step(step, service)))
    if not git(service, "status", "--porcelain", "--", ".").stdout.strip():
        summary.lock, summary.check = Lock.KEPT, Check.NO_CHANGE
        return Result.UP_TO_DATE

    summary.lock, lock_failure = relock(service, merged)
    summary.check, check_failure = run_check(service, merged, summary.lock, not args.no_check)
    summary.failure_output = lock_failure or check_failure  # the check runs on a good lock only
    trouble = (
        merged.conflicts
        or merged.review
        or not all(run.ok for run in summary.migrations)
        or summary.check not in {Check.PASSED, Check.SKIPPED}
    )
    return Result.NEEDS_REVIEW if trouble else Result.UPDATED


def main(argv: list[str]) -> int:
    args = parse_arguments(argv)
    service = Path(args.project).resolve()
    summary = Summary(service.name, str(service))
    try:
        with tempfile.TemporaryDirectory(prefix="template-update-") as workdir:
            summary.result = update(service, args, Path(workdir), summary)
    except Refused as refusal:
        summary.result, summary.note = Result.REFUSED, str(refusal)
    print(output(summary, args.json))
    return EXIT_STATUS[summary.result]
