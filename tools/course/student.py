"""Student copies: every solution replaced by a ``NotImplementedError`` stub (``student/``)."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

from .lessons import (
    COLAB_BADGE,
    EXERCISE_TAG,
    SOLUTION_TAG,
    STUDENT_DIR,
    _cell_id,
    _default_root,
    lesson_sources,
    read_lesson,
)
from .settings import _COLAB_LINK, repository_setting
from .sync import _cells_key

_BEGIN = re.compile(r"^(?P<indent>[ \t]*)#[ \t]*BEGIN SOLUTION\b[ \t]*:?[ \t]*(?P<name>.*?)[ \t]*$")
_END = re.compile(r"^[ \t]*#[ \t]*END SOLUTION\b.*$")
#: Inside a solution block, ``# STUB: <code>`` lines are the skeleton the student copy keeps.
_STUB = re.compile(r"^(?P<indent>[ \t]*)#[ \t]*STUB:[ ]?(?P<code>.*)$")
_EXERCISE_HEADING = re.compile(r"^#+[ \t]*Exercise\b[ \t]*(?P<name>.*?)[ \t]*$", re.M)


def _docstring_summary(source: str, line: int) -> Optional[str]:
    """First sentence of the docstring of the innermost function around ``line`` (1-based), on one
    line."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    best = None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.lineno <= line <= (
            node.end_lineno or node.lineno
        ):
            if best is None or node.lineno >= best.lineno:
                best = node
    doc = ast.get_docstring(best) if best is not None else None
    if not doc:
        return None
    paragraph = " ".join(doc.strip().split("\n\n")[0].split())
    return re.split(r"(?<=[.!?])\s+(?=[A-Z`])", paragraph)[0]  # its first sentence


def _exercise_heading(markdown_sources: Sequence[str]) -> Optional[str]:
    """The nearest ``### Exercise ...`` heading, searching the given markdown cells from the last
    one back."""
    for text in reversed(markdown_sources):
        found = _EXERCISE_HEADING.findall(text)
        if found:
            return found[-1].lstrip(" -—–:") or None
    return None


def stub_source(
    source: str, exercise_name: Optional[str] = None, where: str = "cell"
) -> tuple[str, list[str]]:
    """Replace every ``# BEGIN SOLUTION`` ... ``# END SOLUTION`` block of ``source`` by a stub.

    Returns the new source and the stub messages (``"Exercise: ..."``), one per block. Each block
    becomes ``raise NotImplementedError("Exercise: <name>")`` at the indentation of its BEGIN line,
    followed by the block's skeleton if it has one (its ``# STUB: <code>`` lines as code, with
    ``...`` where the answer goes: the student fills it in and deletes the raise);
    the name is the text after ``BEGIN SOLUTION:``, else the first sentence of the enclosing
    function's docstring, else ``exercise_name``. Unbalanced or nested markers raise ValueError
    naming ``where``.
    """
    lines = source.split("\n")
    out: list[str] = []
    messages: list[str] = []
    begin: Optional[int] = None
    for i, line in enumerate(lines):
        b, e = _BEGIN.match(line), _END.match(line)
        if b:
            if begin is not None:
                raise ValueError(
                    f"{where}: '# BEGIN SOLUTION' on line {i + 1} inside the block opened on line "
                    f"{begin + 1} (nested blocks are not allowed)."
                )
            begin = i
            name = b.group("name") or _docstring_summary(source, i + 1) or exercise_name
            if not name:
                raise ValueError(
                    f"{where}: cannot name the exercise on line {i + 1}: give the function a "
                    "docstring, write '# BEGIN SOLUTION: <name>', or put an '### Exercise ...' "
                    "heading above the cell."
                )
            message = f"Exercise: {name}"
            messages.append(message)
            raise_line = (
                f"{b.group('indent')}raise "
                f"NotImplementedError({json.dumps(message, ensure_ascii=False)})"
            )
            skeleton: list[str] = []
        elif e:
            if begin is None:
                raise ValueError(
                    f"{where}: '# END SOLUTION' on line {i + 1} without a '# BEGIN SOLUTION' "
                    "before it."
                )
            if skeleton:  # the skeleton follows the raise: fill in the dots, then delete the raise
                out.append(raise_line + "  # delete this line once the skeleton below is filled in")
                out.extend(skeleton)
            else:
                out.append(raise_line)
            begin = None
        elif begin is None:
            out.append(line)
        elif _STUB.match(line):
            m = _STUB.match(line)
            skeleton.append(m.group("indent") + m.group("code"))
    if begin is not None:
        raise ValueError(
            f"{where}: '# BEGIN SOLUTION' on line {begin + 1} has no '# END SOLUTION'."
        )
    return "\n".join(out), messages


def _has_markers(source: str) -> bool:
    return any(_BEGIN.match(line) or _END.match(line) for line in source.split("\n"))


def student_notebook(py_path: Path, folder: str = STUDENT_DIR):
    """The student version of a lesson: solution blocks stubbed, markers and outputs gone, tag
    ``exercise``.

    Returns ``(notebook, messages)``; the Colab badge points at the student copy. Raises ValueError
    for a ``solution`` cell without markers, markers in a cell not tagged ``solution``, or
    unbalanced markers.
    """
    import nbformat

    py_path = Path(py_path)
    source_nb = read_lesson(py_path)
    cells, messages, markdown_seen = [], [], []
    for index, cell in enumerate(source_nb.cells):
        tags = list(cell.metadata.get("tags", []))
        text = cell.source
        where = f"{py_path.name}, cell {index}"
        if cell.cell_type == "code":
            if SOLUTION_TAG in tags:
                if not _has_markers(text):
                    raise ValueError(
                        f"{where} is tagged {SOLUTION_TAG!r} but has no '# BEGIN SOLUTION' / '# "
                        "END SOLUTION' lines."
                    )
                text, found = stub_source(text, _exercise_heading(markdown_seen), where)
                messages += found
                tags = [EXERCISE_TAG if t == SOLUTION_TAG else t for t in tags]
            elif _has_markers(text):
                raise ValueError(
                    f"{where} has solution markers but is not tagged {SOLUTION_TAG!r}: "
                    f"write '# %% tags=[\"{SOLUTION_TAG}\"]' so the solution is removed."
                )
            new = nbformat.v4.new_code_cell(text)
        elif cell.cell_type == "markdown":
            markdown_seen.append(text)
            text = _COLAB_LINK.sub(lambda m: _student_link(m, py_path.stem, folder), text)
            new = nbformat.v4.new_markdown_cell(text)
        else:
            new = nbformat.v4.new_raw_cell(text)
        if tags:
            new.metadata["tags"] = tags
        new["id"] = _cell_id(index, new.cell_type, text)
        cells.append(new)
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata = {
        k: v for k, v in source_nb.metadata.items() if k in ("kernelspec", "colab", "accelerator")
    }
    nbformat.validate(nb)
    return nb, messages


def _student_link(m: re.Match, stem: str, folder: str) -> str:
    """A lesson's Colab link, pointed at its student copy in ``folder`` (other links unchanged)."""
    if m.group("path") != f"notebooks/{stem}.ipynb":
        return m.group(0)
    return m.group(0)[: m.start("path") - m.start(0)] + f"{folder}/{stem}.ipynb"


def stub_messages(py_path: Path) -> list[str]:
    """The ``NotImplementedError`` messages of the student version of a lesson, in order."""
    return student_notebook(py_path)[1]


def _title(py_path: Path) -> str:
    for cell in read_lesson(py_path).cells:
        if cell.cell_type == "markdown":
            m = re.search(r"^#\s+(.+)$", cell.source, re.M)
            if m:
                return m.group(1).strip()
    return py_path.stem


_STUDENT_README = """\
# Student versions — generated, do not edit

Written by `python -m tools.course student` from the lessons in [`../notebooks`](../notebooks):
every solution is replaced by `raise NotImplementedError("Exercise: ...")`, so a cell fails \
loudly until
the exercise is done. Change the lessons, never these files: CI fails when they are stale.
Instructors: see [docs/instructors.md](../docs/instructors.md).

| lesson | exercises | open |
|---|---|---|
{rows}
"""

_STUDENT_JUPYTEXT = """\
# Student copies are plain notebooks: no .py pairing (the repository's jupytext.toml pairs \
notebooks/).
formats = "ipynb"
"""


def student_files(notebooks_dir: Optional[Path] = None) -> dict[str, str]:
    """Every file of the ``student/`` folder, name -> text, generated in memory (deterministic)."""
    import nbformat

    files, rows = {}, []
    lessons = lesson_sources(notebooks_dir)
    setting = repository_setting(lessons[0].parent.parent) if lessons else None
    for py in lessons:
        nb, messages = student_notebook(py)
        files[f"{py.stem}.ipynb"] = nbformat.writes(nb, version=4) + "\n"
        badge = f"[![Open In Colab]({COLAB_BADGE})]({setting.colab_url(py.stem, STUDENT_DIR)})"
        rows.append(f"| [{_title(py)}]({py.stem}.ipynb) | {len(messages)} | {badge} |")
    files["README.md"] = _STUDENT_README.format(rows="\n".join(rows))
    files["jupytext.toml"] = _STUDENT_JUPYTEXT
    return files


def _student_dir(root: Optional[Path]) -> Path:
    return (Path(root) if root is not None else _default_root()) / STUDENT_DIR


def _first_difference(path: Path, text: str) -> str:
    """', first at cell N' for two notebooks whose cells differ ('' when not notebooks or only
    metadata differs)."""
    if path.suffix != ".ipynb":
        return ""
    import nbformat

    try:
        a = _cells_key(nbformat.reads(path.read_text(encoding="utf-8"), as_version=4))
        b = _cells_key(nbformat.reads(text, as_version=4))
    except Exception:  # noqa: BLE001 - a broken committed file
        return ", and it is not a readable notebook"
    first = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), None)
    if first is None and len(a) != len(b):
        first = min(len(a), len(b))
    return "" if first is None else f", first at cell {first}"


def check_student_versions(root: Optional[Path] = None) -> list[str]:
    """Problems with the committed ``student/`` folder: missing, stale or extra files (empty:
    current)."""
    root = Path(root) if root is not None else _default_root()
    folder = root / STUDENT_DIR
    expected = student_files(root / "notebooks")
    problems = []
    for name, text in expected.items():
        path = folder / name
        if not path.is_file():
            problems.append(f"{path} is missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(
                f"{path} is stale (differs from what its lesson "
                f"generates{_first_difference(path, text)})"
            )
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            if path.name not in expected and not path.name.startswith("."):
                problems.append(f"{path} is not generated from any lesson (remove it)")
    return problems


def write_student_versions(root: Optional[Path] = None) -> list[Path]:
    """Write the ``student/`` folder (stale files of removed lessons are deleted); returns the files
    changed."""
    root = Path(root) if root is not None else _default_root()
    folder = root / STUDENT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    expected = student_files(root / "notebooks")
    changed = []
    for name, text in expected.items():
        path = folder / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.name not in expected and not path.name.startswith("."):
            path.unlink()
            changed.append(path)
    return changed
