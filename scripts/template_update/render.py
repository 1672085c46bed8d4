"""The service's answers, the questions a newer template asks, and rendering one commit of the
template with them: cookiecutter's own context and file generation, as a bake does, with
`_commit` in the context so that the template's post-gen hook neither records .cruft.json nor
locks (every release's hook skips both when the context has `_commit`; cookiecutter's
`cookiecutter()` would drop that key, so this uses the lower-level API, as cruft does)."""

import json
import os
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cookiecutter.exceptions import CookiecutterException
from cookiecutter.generate import generate_context, generate_files
from cookiecutter.prompt import (
    prompt_for_config,
    read_user_choice,
    read_user_variable,
    read_user_yes_no,
)

from template_update.service import Refused
from template_update.summary import Answer, How

# Context keys that describe one bake on one machine, not the service (as the hook leaves out).
# Not answers (the post-gen hook leaves them out of the record too): where and how a bake ran,
# and the template's own settings.
LOCAL_ONLY = {"_output_dir", "_repo_dir", "_checkout", "_lock", "_copy_without_render"}
# Per question, the answer services from earlier releases get and a note on it (the file says why).
EARLIER_ANSWERS = "updates/questions.toml"

Answers = dict[str, Any]


def recorded_answers(record: dict) -> Answers:
    """The answers in .cruft.json: every question's value (private `_` keys are the bake's)."""
    context = record.get("context", {}).get("cookiecutter", {})
    return {key: value for key, value in context.items() if not key.startswith("_")}


def template_questions(tree: Path) -> dict[str, Any]:
    """The template's questions (cookiecutter.json keys a user answers) with their defaults."""
    questions = json.loads((tree / "cookiecutter.json").read_text())
    return {key: value for key, value in questions.items() if not key.startswith("_")}


def rendered_context(tree: Path, answers: Answers, name: str) -> dict[str, Any]:
    """cookiecutter's context for these answers: every value rendered, defaults for the rest."""
    try:
        context = generate_context(str(tree / "cookiecutter.json"), extra_context=answers)
        return dict(prompt_for_config(context, no_input=True))
    except (ValueError, CookiecutterException) as error:
        raise Refused(
            f"the template at {name} does not accept the service's answers: {error}\n"
            "Give an answer it accepts with --answer KEY=VALUE (TEMPLATE_UPDATE_FLAGS in make)."
        ) from None


def ask(question: str, default: Any, choices: Any, prompts: dict[str, Any]) -> Any:
    """The user's answer to one question, at a terminal (cookiecutter's own prompts)."""
    if isinstance(choices, list):
        return read_user_choice(question, [default, *(c for c in choices if c != default)], prompts)
    if isinstance(default, bool):
        return read_user_yes_no(question, default, prompts)
    return read_user_variable(question, default, prompts)


def earlier_answers(tree: Path) -> dict[str, dict[str, str]]:
    """The template's answers for services baked before a question existed, where they are not
    the question's default: {question: {"answer": ..., "note": ...}}."""
    table = tree / EARLIER_ANSWERS
    return tomllib.loads(table.read_text()) if table.is_file() else {}


def answer_new_questions(
    tree: Path, answers: Answers, given: Answers, interactive: bool, name: str
) -> tuple[Answers, list[Answer]]:
    """The answers for the template at `tree`: the recorded ones, those given (--answer), and
    for each question the record lacks, the user's answer (at a terminal) or else the answer the
    template gives services from earlier releases, or its default. Returns them with the
    questions answered here, each with its value, how it was set and the template's note."""
    questions = template_questions(tree)
    unknown = sorted(set(given) - set(questions))
    if unknown:
        raise Refused(
            f"the template at {name} asks no question {', '.join(unknown)}: "
            f"its questions are {', '.join(questions)}"
        )
    answers = {**answers, **given}
    new = [question for question in questions if question not in answers]
    defaults = rendered_context(tree, answers, name)
    earlier = earlier_answers(tree)
    prompts = json.loads((tree / "cookiecutter.json").read_text()).get("__prompts__", {})
    how = {}
    for question in new:
        offered = earlier[question]["answer"] if question in earlier else defaults[question]
        if interactive:
            answers[question] = ask(question, offered, questions[question], prompts)
            how[question] = How.ASKED
        else:
            answers[question] = offered
            how[question] = How.EARLIER_RELEASES if question in earlier else How.DEFAULT
    how |= dict.fromkeys(given, How.GIVEN)
    # Where the earlier releases' answer was taken, its note says what it means, how to change it.
    notes = {q: entry["note"] for q, entry in earlier.items() if answers.get(q) == entry["answer"]}
    return answers, [Answer(q, answers[q], how[q], notes.get(q, "")) for q in how]


@contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """The template's hooks print to stdout; the summary (JSON for machines) owns it."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


@contextmanager
def temporary_directory(directory: Path) -> Iterator[None]:
    """`directory` as the temporary directory of this process and of the hooks it runs (TMPDIR)
    for a while. cookiecutter writes each hook it runs to the temporary directory and never
    deletes it; the hooks of earlier releases don't delete themselves either."""
    directory.mkdir()
    saved_variable, saved_directory = os.environ.get("TMPDIR"), tempfile.tempdir
    os.environ["TMPDIR"] = tempfile.tempdir = str(directory)
    try:
        yield
    finally:
        tempfile.tempdir = saved_directory
        if saved_variable is None:
            del os.environ["TMPDIR"]
        else:
            os.environ["TMPDIR"] = saved_variable


def render(tree: Path, context: dict[str, Any], template: str, commit: str, output: Path) -> Path:
    """The project the template at `tree` (commit `commit`) bakes from this context, hooks
    included; returns its directory. What the hooks leave in the temporary directory stays in
    one beside `output`, in the update's work directory (removed with it), not the user's."""
    full_context = {"cookiecutter": {**context, "_template": template, "_commit": commit}}
    output.mkdir(parents=True)
    try:
        with stdout_to_stderr(), temporary_directory(output.with_name(f"{output.name}-tmp")):
            project = generate_files(repo_dir=str(tree), context=full_context, output_dir=output)
    except CookiecutterException as error:
        raise Refused(
            f"the template at {commit[:7]} could not be rendered with the service's answers: "
            f"{error} (its hook's message, if any, is above). Give an answer it accepts with "
            "--answer KEY=VALUE."
        ) from None
    return Path(project)


def record_answers(context: dict[str, Any], template: str, commit: str) -> dict[str, Any]:
    """What .cruft.json's context holds after a bake with this context, as the post-gen hook
    writes it: every key but the local ones, sorted, then the commit."""
    kept = {key: value for key, value in context.items() if key not in LOCAL_ONLY}
    return dict(sorted({**kept, "_template": template}.items())) | {"_commit": commit}
