"""A README walk-through read as steps to run, in order, as a newcomer follows it.

A walk-through is a `##` section of the README; each `###` heading under it is a step, and the
step's fenced blocks, in order, are what it does, told by the block's info string:

- `sh`: commands, run in the project;
- `<language> path="<file>"`: the file's whole new content;
- `<language> path="<file>" append`: added at the end of the file, after a blank line or two;
- `<language> path="<file>" after="<line>"`: inserted after the one line of the file that is
  `<line>` (leading and trailing spaces aside);
- `<language> path="<file>" replace="<line>"`: that one line replaced.

Any other block is for reading. Markdown renderers show the language and ignore the rest of the
info string, so the reader sees the code; the text around a block says where it goes, and must
name an `after` or `replace` line as it stands. Parsed with markdown-it-py (CommonMark), so a
block inside a list item comes out without its indentation.
"""

import shlex
from dataclasses import dataclass, field
from pathlib import Path

from markdown_it import MarkdownIt

EDITS = ("append", "after", "replace")


class WalkthroughError(Exception):
    """The walk-through can't be applied as written; the message says where."""


@dataclass
class Block:
    language: str
    content: str
    options: dict[str, str]  # from the info string: path, and one of EDITS
    text_before: str  # the paragraph just before it, where it says where the block goes

    @property
    def runs(self) -> bool:
        return self.language == "sh" and "path" not in self.options


@dataclass
class Step:
    title: str
    blocks: list[Block] = field(default_factory=list)


def info_options(info: str) -> tuple[str, dict[str, str]]:
    """`python path="a.py" after='x = 1'` -> ("python", {"path": "a.py", "after": "x = 1"});
    a bare word is an option set to ""."""
    language, *words = shlex.split(info)
    options = dict(word.partition("=")[::2] for word in words)
    return language, options


def steps(readme: str, section: str) -> list[Step]:
    """The steps of the README's `## <section>`, each with its blocks in order."""
    tokens = MarkdownIt("commonmark").parse(readme)
    found: list[Step] = []
    in_section = False
    paragraph = ""
    for index, token in enumerate(tokens):
        if token.type == "heading_open":
            title = tokens[index + 1].content
            if token.tag == "h2":
                in_section = title == section
            elif token.tag == "h3" and in_section:
                found.append(Step(title))
        elif not in_section or not found:
            continue
        elif token.type == "inline":
            paragraph = token.content
        elif token.type == "fence" and token.info.strip():
            language, options = info_options(token.info)
            found[-1].blocks.append(Block(language, token.content, options, paragraph))
    if not found:
        raise WalkthroughError(f"the README has no `## {section}` with `###` steps")
    return found


def one_line(lines: list[str], wanted: str, path: str) -> int:
    """The index of the one line that is `wanted`, spaces around either aside."""
    matches = [i for i, line in enumerate(lines) if line.strip() == wanted.strip()]
    if len(matches) != 1:
        raise WalkthroughError(
            f"{path} has {len(matches)} lines `{wanted.strip()}`: the step needs exactly one"
        )
    return matches[0]


def edit_file(project: Path, block: Block) -> None:
    """Write or change the block's file as its options say."""
    path = block.options["path"]
    target = project / path
    edits = [name for name in EDITS if name in block.options]
    if len(edits) > 1:
        raise WalkthroughError(f"a block for {path} says both {edits[0]} and {edits[1]}")
    if not edits:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(block.content)
        return
    (edit,) = edits
    if not target.is_file():
        raise WalkthroughError(f"{path} does not exist: the step changes it")
    current = target.read_text()
    if edit == "append":
        target.write_text(current.rstrip("\n") + "\n\n\n" + block.content)
        return
    anchor = block.options[edit]
    if anchor.strip() not in block.text_before:
        raise WalkthroughError(
            f"the text before the block for {path} doesn't name its line `{anchor.strip()}`"
        )
    lines = current.splitlines(keepends=True)
    at = one_line(lines, anchor, path)
    lines[at : at + 1] = [lines[at], block.content] if edit == "after" else [block.content]
    target.write_text("".join(lines))
