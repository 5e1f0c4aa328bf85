"""Course tooling for instructors: student versions, jupytext pairs, and running the whole course headless.

    python -m tools.course student [--check]   write student/NN_name.ipynb (solutions replaced by stubs)
    python -m tools.course sync [--check]      write notebooks/NN_name.ipynb from NN_name.py (no outputs)
    python -m tools.course run-all [--profile ci] [--out build] [--only 01 03]
    python -m tools.course check               everything CI checks without executing a notebook
    python -m tools.course set-repository [OWNER/NAME] [--branch B]
                                                     install cells, Colab badges, .ipynb, student/
                                                     from [tool.anw] of pyproject.toml
    python -m tools.course wheel [--out dist]  a wheel of the helpers (Colab without GitHub)

Conventions (see docs/instructors.md):

* Every lesson is a jupytext pair ``notebooks/NN_name.py`` (py:percent, the source of truth) and
  ``NN_name.ipynb`` (written by ``sync``, no outputs).
* An exercise is a code cell tagged ``solution`` (``# %% tags=["solution"]``) whose answer sits between a
  line ``# BEGIN SOLUTION`` and a line ``# END SOLUTION``. The student version replaces each such block by
  ``raise NotImplementedError("Exercise: ...")`` at the block's indentation, naming the exercise by the
  first sentence of the enclosing function's docstring (else the text after ``BEGIN SOLUTION:``, else
  the nearest ``Exercise`` heading above the cell).
* Every lesson's first code cell installs the helpers only when missing (``check_install_cell``):
  from a wheel named by ``ANW_WHEEL`` or lying in the working folder, else from the repository
  ``[tool.anw] repository`` of pyproject.toml, the one place that names it (docs/publishing.md).
"""
from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Optional, Sequence

__all__ = [
    "RepositorySetting",
    "repository_setting",
    "write_repository_setting",
    "LESSON_EXTRAS",
    "lesson_extra",
    "install_cell_source",
    "set_repository",
    "colab_link_problems",
    "build_wheel",
    "wheel_instructions",
    "colab_url",
    "lesson_sources",
    "read_lesson",
    "student_notebook",
    "student_files",
    "write_student_versions",
    "check_student_versions",
    "stub_messages",
    "ipynb_text_for",
    "pair_problems",
    "sync_pairs",
    "check_install_cell",
    "first_code_cell",
    "readme_badge_problems",
    "execute_notebook",
    "NotebookRun",
    "student_run_problem",
    "run_all",
    "timings_markdown",
    "main",
]

SOLUTION_TAG = "solution"
EXERCISE_TAG = "exercise"
LESSON_GLOB = "[0-9][0-9]_*.py"
STUDENT_DIR = "student"
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
PYPROJECT = "pyproject.toml"
SET_REPOSITORY = "python -m tools.course set-repository"
#: Lessons whose install cell adds an extra of pyproject.toml: number -> (extra, what it adds).
LESSON_EXTRAS: dict[str, tuple[str, str]] = {"06": ("dp", "Opacus, for DP-SGD")}

_BEGIN = re.compile(r"^(?P<indent>[ \t]*)#[ \t]*BEGIN SOLUTION\b[ \t]*:?[ \t]*(?P<name>.*?)[ \t]*$")
_END = re.compile(r"^[ \t]*#[ \t]*END SOLUTION\b.*$")
_EXERCISE_HEADING = re.compile(r"^#+[ \t]*Exercise\b[ \t]*(?P<name>.*?)[ \t]*$", re.M)
_OWNER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/(?!\.\.?$)[A-Za-z0-9._-]{1,100}$")
_BRANCH = re.compile(r"^(?![-/.])(?!.*\.\.)(?!.*//)[A-Za-z0-9._/+-]{1,200}(?<![/.])$")
_COLAB_LINK = re.compile(r"https://colab\.research\.google\.com/github/"
                         r"(?P<repository>[^/\s]+/[^/\s]+)/blob/(?P<branch>\S+?)/"
                         r"(?P<path>(?:notebooks|student)/[^\s)\"'<>]+)")
_GIT_URL = re.compile(r"git\+https://github\.com/[^\s\"']+")
_ANW_HEADER = re.compile(r"^\s*\[\s*tool\s*\.\s*anw\s*\]\s*(?:#.*)?$")


def _default_root() -> Path:
    """The repository holding ``notebooks/``: this package's parent when it is a clone, else the current folder."""
    here = Path(__file__).resolve().parent.parent
    return here if (here / "notebooks").is_dir() else Path.cwd()


# -------------------------------------------------------------------- where the course is published
@dataclass(frozen=True)
class RepositorySetting:
    """Where the course is published: ``[tool.anw] repository`` and ``branch`` of pyproject.toml.

    Raises ValueError, in one line, for a repository that is not ``OWNER/NAME`` or a bad branch.
    """

    repository: str
    branch: str = "main"

    def __post_init__(self) -> None:
        slug, branch = self.repository, self.branch
        if not isinstance(slug, str) or not _OWNER_NAME.match(slug):
            raise ValueError(f"malformed repository {slug!r}: expected OWNER/NAME as on GitHub, "
                             "e.g. anw-course/anti-neuron-watermarking")
        if slug.endswith(".git"):
            raise ValueError(f"malformed repository {slug!r}: write OWNER/NAME without '.git'")
        if not isinstance(branch, str) or not _BRANCH.match(branch) or branch.endswith(".lock"):
            raise ValueError(f"malformed branch {branch!r}: expected a git branch such as main")

    @property
    def git_url(self) -> str:
        """The pip address of the helpers: ``git+https://github.com/OWNER/NAME@BRANCH``."""
        return f"git+https://github.com/{self.repository}@{self.branch}"

    def colab_url(self, name: str, folder: str = "notebooks") -> str:
        """The Colab address that opens ``<folder>/<name>.ipynb`` of this repository and branch."""
        return self._colab(f"{folder}/{name}.ipynb")

    def _colab(self, path: str) -> str:
        repository, branch = self.repository, self.branch
        return f"https://colab.research.google.com/github/{repository}/blob/{branch}/{path}"


def _anw_table_fallback(text: str, where: str) -> dict[str, str]:
    """``[tool.anw]`` of a pyproject.toml text, read without a TOML library: ``key = "value"``."""
    table: dict[str, str] = {}
    inside = False
    line_re = re.compile(r"""^(?P<key>[A-Za-z0-9_-]+)\s*=\s*"""
                         r"""(?:"(?P<basic>(?:[^"\\]|\\.)*)"|'(?P<lit>[^']*)')\s*(?:#.*)?$""")
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if line.startswith("["):
            inside = _ANW_HEADER.match(line) is not None
        elif inside and line and not line.startswith("#"):
            m = line_re.match(line)
            if not m:
                raise ValueError(f"{where}, line {number}: cannot read {line!r} in [tool.anw] "
                                 '(expected key = "value")')
            basic = m.group("basic")
            table[m.group("key")] = m.group("lit") if basic is None else json.loads(f'"{basic}"')
    return table


def _anw_table(text: str, where: str) -> dict:
    """The ``[tool.anw]`` table of a pyproject.toml text ({} when absent).

    tomllib on Python >= 3.11, else ``tomli`` when installed, else a small reader of that one table.
    """
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.9 and 3.10
        try:
            import tomli as tomllib
        except ModuleNotFoundError:
            return _anw_table_fallback(text, where)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{where} is not valid TOML: {exc}") from None
    table = data.get("tool", {}).get("anw", {})
    return table if isinstance(table, dict) else {}


def repository_setting(root: Optional[Path] = None) -> RepositorySetting:
    """The course's repository and branch, read from ``[tool.anw]`` of ``root``'s pyproject.toml.

    Where ``root`` (default: this clone) has no pyproject.toml, e.g. a folder of made-up lessons in
    a test, the pyproject.toml of the clone that holds this package is read.
    """
    folder = Path(root) if root is not None else _default_root()
    candidates = [folder / PYPROJECT, Path(__file__).resolve().parent.parent / PYPROJECT]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        raise FileNotFoundError(f"no {PYPROJECT} in {folder}: the course's repository is set in "
                                "its [tool.anw] table (run from a clone of the course)")
    table = _anw_table(path.read_text(encoding="utf-8"), str(path))
    if not table.get("repository"):
        raise ValueError(f'{path} has no [tool.anw] repository = "OWNER/NAME": add it, or run  '
                         f"{SET_REPOSITORY} OWNER/NAME")
    return RepositorySetting(str(table["repository"]), str(table.get("branch", "main")))


def _set_toml_key(text: str, key: str, value: str) -> str:
    """``text`` with ``key = "value"`` in its ``[tool.anw]`` table (replaced, else added)."""
    lines = text.split("\n")
    header = next((i for i, line in enumerate(lines) if _ANW_HEADER.match(line)), None)
    entry = f'{key} = "{value}"'
    if header is None:
        while lines and not lines[-1].strip():
            lines.pop()
        return "\n".join(lines + ["", "[tool.anw]", entry, ""])
    end = next((i for i in range(header + 1, len(lines)) if lines[i].lstrip().startswith("[")),
               len(lines))
    for i in range(header + 1, end):
        m = re.match(rf"""^(\s*{re.escape(key)}\s*=\s*)("[^"]*"|'[^']*')(.*)$""", lines[i])
        if m:
            lines[i] = f'{m.group(1)}"{value}"{m.group(3)}'
            return "\n".join(lines)
    last = max([header] + [i for i in range(header + 1, end) if lines[i].strip()])
    lines.insert(last + 1, entry)
    return "\n".join(lines)


def _wanted_setting(root: Path, repository: Optional[str],
                    branch: Optional[str]) -> RepositorySetting:
    """``root``'s setting with ``repository`` and ``branch`` (None: keep) applied, validated."""
    if not repository and not branch:
        return repository_setting(root)
    path = Path(root) / PYPROJECT
    current = _anw_table(path.read_text(encoding="utf-8"), str(path)) if path.is_file() else {}
    if not repository and not current.get("repository"):
        raise ValueError(f"{path} has no [tool.anw] repository yet: give OWNER/NAME")
    return RepositorySetting(repository or str(current["repository"]),
                             branch or str(current.get("branch", "main")))


def write_repository_setting(root: Optional[Path] = None, repository: Optional[str] = None,
                             branch: Optional[str] = None) -> RepositorySetting:
    """Set ``[tool.anw] repository`` (and ``branch``) in ``root``'s pyproject.toml; returns it.

    Only those two lines change; a value not given keeps its current one (branch: ``main``).
    Raises ValueError for a malformed OWNER/NAME or branch, before anything is written.
    """
    path = (Path(root) if root is not None else _default_root()) / PYPROJECT
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: the setting lives in the course's "
                                f"{PYPROJECT}")
    text = path.read_text(encoding="utf-8")
    setting = _wanted_setting(path.parent, repository, branch)
    new = _set_toml_key(text, "repository", setting.repository)
    new = _set_toml_key(new, "branch", setting.branch)
    if new != text:
        path.write_text(new, encoding="utf-8")
    if repository_setting(path.parent) != setting:  # pragma: no cover - the edit did not take
        raise ValueError(f"could not set [tool.anw] in {path}: edit it by hand")
    return setting


def colab_url(name: str, folder: str = "notebooks", branch: Optional[str] = None,
              root: Optional[Path] = None) -> str:
    """The Colab address of ``<folder>/<name>.ipynb`` in the course repository (``[tool.anw]``)."""
    setting = repository_setting(root)
    if branch is not None:
        setting = RepositorySetting(setting.repository, branch)
    return setting.colab_url(name, folder)


def lesson_sources(notebooks_dir: Optional[Path] = None) -> list[Path]:
    """The lessons' py:percent sources ``NN_name.py``, in course order."""
    folder = Path(notebooks_dir) if notebooks_dir is not None else _default_root() / "notebooks"
    return sorted(folder.glob(LESSON_GLOB))


def _jupytext_config(folder: Path):
    from jupytext.config import load_jupytext_config

    return load_jupytext_config(str(folder.resolve()))


def read_lesson(py_path: Path):
    """The lesson as a notebook, parsed by jupytext with the repository's ``jupytext.toml`` (magics uncommented)."""
    import jupytext

    py_path = Path(py_path)
    return jupytext.read(str(py_path), config=_jupytext_config(py_path.parent))


def _cell_id(index: int, cell_type: str, source: str) -> str:
    return hashlib.sha1(f"{index}:{cell_type}:{source}".encode()).hexdigest()[:8]


# ------------------------------------------------------------------------------------------ student versions
def _docstring_summary(source: str, line: int) -> Optional[str]:
    """First sentence of the docstring of the innermost function around ``line`` (1-based), on one line."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    best = None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.lineno <= line <= (node.end_lineno or node.lineno):
            if best is None or node.lineno >= best.lineno:
                best = node
    doc = ast.get_docstring(best) if best is not None else None
    if not doc:
        return None
    paragraph = " ".join(doc.strip().split("\n\n")[0].split())
    return re.split(r"(?<=[.!?])\s+(?=[A-Z`])", paragraph)[0]  # its first sentence


def _exercise_heading(markdown_sources: Sequence[str]) -> Optional[str]:
    """The nearest ``### Exercise ...`` heading, searching the given markdown cells from the last one back."""
    for text in reversed(markdown_sources):
        found = _EXERCISE_HEADING.findall(text)
        if found:
            return found[-1].lstrip(" -—–:") or None
    return None


def stub_source(source: str, exercise_name: Optional[str] = None, where: str = "cell") -> tuple[str, list[str]]:
    """Replace every ``# BEGIN SOLUTION`` ... ``# END SOLUTION`` block of ``source`` by a stub.

    Returns the new source and the stub messages (``"Exercise: ..."``), one per block. Each block becomes
    ``raise NotImplementedError("Exercise: <name>")`` at the indentation of its BEGIN line; the name is the
    text after ``BEGIN SOLUTION:``, else the first sentence of the enclosing function's docstring, else
    ``exercise_name``. Unbalanced or nested markers raise ValueError naming ``where``.
    """
    lines = source.split("\n")
    out: list[str] = []
    messages: list[str] = []
    begin: Optional[int] = None
    for i, line in enumerate(lines):
        b, e = _BEGIN.match(line), _END.match(line)
        if b:
            if begin is not None:
                raise ValueError(f"{where}: '# BEGIN SOLUTION' on line {i + 1} inside the block opened on line {begin + 1} (nested blocks are not allowed).")
            begin = i
            name = b.group("name") or _docstring_summary(source, i + 1) or exercise_name
            if not name:
                raise ValueError(f"{where}: cannot name the exercise on line {i + 1}: give the function a docstring, "
                                 "write '# BEGIN SOLUTION: <name>', or put an '### Exercise ...' heading above the cell.")
            message = f"Exercise: {name}"
            messages.append(message)
            out.append(f"{b.group('indent')}raise NotImplementedError({json.dumps(message, ensure_ascii=False)})")
        elif e:
            if begin is None:
                raise ValueError(f"{where}: '# END SOLUTION' on line {i + 1} without a '# BEGIN SOLUTION' before it.")
            begin = None
        elif begin is None:
            out.append(line)
    if begin is not None:
        raise ValueError(f"{where}: '# BEGIN SOLUTION' on line {begin + 1} has no '# END SOLUTION'.")
    return "\n".join(out), messages


def _has_markers(source: str) -> bool:
    return any(_BEGIN.match(l) or _END.match(l) for l in source.split("\n"))


def student_notebook(py_path: Path, folder: str = STUDENT_DIR):
    """The student version of a lesson: solution blocks stubbed, markers and outputs gone, tag ``exercise``.

    Returns ``(notebook, messages)``; the Colab badge points at the student copy. Raises ValueError for a
    ``solution`` cell without markers, markers in a cell not tagged ``solution``, or unbalanced markers.
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
                    raise ValueError(f"{where} is tagged {SOLUTION_TAG!r} but has no '# BEGIN SOLUTION' / '# END SOLUTION' lines.")
                text, found = stub_source(text, _exercise_heading(markdown_seen), where)
                messages += found
                tags = [EXERCISE_TAG if t == SOLUTION_TAG else t for t in tags]
            elif _has_markers(text):
                raise ValueError(f"{where} has solution markers but is not tagged {SOLUTION_TAG!r}: "
                                 f"write '# %% tags=[\"{SOLUTION_TAG}\"]' so the solution is removed.")
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
    nb.metadata = {k: v for k, v in source_nb.metadata.items() if k in ("kernelspec", "colab", "accelerator")}
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
every solution is replaced by `raise NotImplementedError("Exercise: ...")`, so a cell fails loudly until
the exercise is done. Change the lessons, never these files: CI fails when they are stale.
Instructors: see [docs/instructors.md](../docs/instructors.md).

| lesson | exercises | open |
|---|---|---|
{rows}
"""

_STUDENT_JUPYTEXT = """\
# Student copies are plain notebooks: no .py pairing (the repository's jupytext.toml pairs notebooks/).
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
    """', first at cell N' for two notebooks whose cells differ ('' when not notebooks or only metadata differs)."""
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
    """Problems with the committed ``student/`` folder: missing, stale or extra files (empty: current)."""
    root = Path(root) if root is not None else _default_root()
    folder = root / STUDENT_DIR
    expected = student_files(root / "notebooks")
    problems = []
    for name, text in expected.items():
        path = folder / name
        if not path.is_file():
            problems.append(f"{path} is missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{path} is stale (differs from what its lesson generates{_first_difference(path, text)})")
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            if path.name not in expected and not path.name.startswith("."):
                problems.append(f"{path} is not generated from any lesson (remove it)")
    return problems


def write_student_versions(root: Optional[Path] = None) -> list[Path]:
    """Write the ``student/`` folder (stale files of removed lessons are deleted); returns the files changed."""
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


# ------------------------------------------------------------------------------------------ jupytext pairs
def _cells_key(nb) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(c.cell_type, c.source, tuple(c.metadata.get("tags", []))) for c in nb.cells]


def ipynb_text_for(py_path: Path, existing: Optional[Path] = None) -> str:
    """The .ipynb text of a lesson's .py (no outputs), keeping the cell ids of ``existing`` where the source is unchanged."""
    import jupytext
    import nbformat

    py_path = Path(py_path)
    nb = read_lesson(py_path)
    old_ids: dict[tuple[str, str], list[str]] = {}
    if existing is not None and Path(existing).is_file():
        try:
            for c in nbformat.read(str(existing), as_version=4).cells:
                if c.get("id"):
                    old_ids.setdefault((c.cell_type, c.source), []).append(c["id"])
        except Exception:  # noqa: BLE001 - an unreadable old file just loses its ids
            old_ids = {}
    used = set()
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        reuse = [i for i in old_ids.get((cell.cell_type, cell.source), []) if i not in used]
        cell["id"] = reuse[0] if reuse else _cell_id(index, cell.cell_type, cell.source)
        used.add(cell["id"])
    text = jupytext.writes(nb, fmt="ipynb", config=_jupytext_config(py_path.parent))
    return text if text.endswith("\n") else text + "\n"


def pair_problems(py_path: Path) -> list[str]:
    """Why a lesson's .py and .ipynb are not in sync (empty: in sync): cells differ, or the .ipynb has outputs."""
    import nbformat

    py_path = Path(py_path)
    ipynb = py_path.with_suffix(".ipynb")
    if not ipynb.is_file():
        return [f"{ipynb} is missing"]
    nb_py, nb_ipynb = read_lesson(py_path), nbformat.read(str(ipynb), as_version=4)
    problems = []
    a, b = _cells_key(nb_py), _cells_key(nb_ipynb)
    if a != b:
        first = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        problems.append(f"{ipynb.name} and {py_path.name} differ: {len(b)} vs {len(a)} cells, first difference at cell {first}")
    with_outputs = [i for i, c in enumerate(nb_ipynb.cells) if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count"))]
    if with_outputs:
        problems.append(f"{ipynb.name} has outputs in cells {with_outputs[:5]} (commit notebooks without outputs)")
    return problems


def sync_pairs(notebooks_dir: Optional[Path] = None, check: bool = False) -> dict[Path, list[str]]:
    """Write every lesson's .ipynb from its .py (``check``: only report). Returns {py: problems found before}."""
    found = {}
    for py in lesson_sources(notebooks_dir):
        problems = pair_problems(py)
        found[py] = problems
        if problems and not check:
            ipynb = py.with_suffix(".ipynb")
            ipynb.write_text(ipynb_text_for(py, ipynb), encoding="utf-8")
    return found


# ----------------------------------------------------------------------------- install cell, badges
_INSTALL_HEAD = (
    "# Install the course helpers only when missing (Colab, a fresh machine); "
    "torch is never reinstalled.",
    "# Or from a wheel your instructor gives you: set ANW_WHEEL to its path or URL, "
    "or upload it here.",
)
_PIP = re.compile(r"\bpip\b.*\binstall\b")
_UPGRADE = re.compile(r"(^|\s)(-U|--upgrade|--force-reinstall|--ignore-installed|-I)(\s|$)")
_TORCH = re.compile(r"(?<![\w-])torch(vision|audio)?\b")


def lesson_extra(name: str) -> Optional[tuple[str, str]]:
    """The extra of pyproject.toml that a lesson's install cell adds, and what it brings (or None).

    ``name`` is the lesson's file or stem, e.g. ``06_augmentations_and_defences.py``.
    """
    return LESSON_EXTRAS.get(Path(name).name[:2])


def _install_block(setting: RepositorySetting, lesson: str = "") -> list[str]:
    """The install part of a lesson's first code cell (magics as in the notebook, uncommented)."""
    extra = lesson_extra(lesson) if lesson else None
    pip = '    %pip install -q "{source}"'
    lines = [*_INSTALL_HEAD, "try:", "    import anw_helpers", "except ModuleNotFoundError:",
             "    import glob, os",
             '    wheel = os.environ.get("ANW_WHEEL") or max(glob.glob("anw_helpers-*.whl"), '
             'default="")',
             f'    source = wheel or "{setting.git_url}"']
    if extra:
        lines.append(f"    # anw-helpers[{extra[0]}] adds {extra[1]}")
        pip += f' "anw-helpers[{extra[0]}]"'
    return lines + [pip, "    import anw_helpers"]


def install_cell_source(setting: Optional[RepositorySetting] = None, lesson: str = "") -> str:
    """The canonical first code cell of ``lesson`` (file name or stem), as the notebook shows it.

    It installs the helpers only when they are missing: from a wheel named by ``ANW_WHEEL`` (a path
    or URL) or lying in the working folder (``anw_helpers-*.whl``), else from ``setting`` (default:
    ``[tool.anw]`` of this clone); lessons in ``LESSON_EXTRAS`` add their extra. Then the banner.
    """
    setting = setting or repository_setting()
    banner = ["from anw_helpers.runtime import describe_runtime", "print(describe_runtime())"]
    return "\n".join(_install_block(setting, lesson) + banner)


def _to_percent(line: str) -> str:
    """A notebook line as jupytext's py:percent writes it: magics commented out (``# %pip``)."""
    body = line.lstrip()
    return f"{line[: len(line) - len(body)]}# {body}" if body.startswith("%") else line


def _rewrite_install_cell(text: str, setting: RepositorySetting, lesson: str) -> str:
    """A lesson's py:percent ``text`` with its first code cell's install block made canonical.

    The block is the comment lines above ``try:`` and the ``try: import anw_helpers / except``
    guard; the rest of the cell (the runtime banner) is kept. Raises ValueError without a guard.
    """
    lines = text.split("\n")
    marker = re.compile(r"^# %%(?!\s*\[(?:markdown|md|raw)\])")
    start = next((i for i, line in enumerate(lines) if marker.match(line)), None)
    if start is None:
        raise ValueError(f"{lesson}: no code cell; the first one must install the helpers")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("# %%")), len(lines))
    guard = next((i for i in range(start + 1, end - 1)
                  if lines[i].rstrip() == "try:" and lines[i + 1].strip() == "import anw_helpers"),
                 None)
    handler = None
    if guard is not None:
        handler = next((i for i in range(guard + 1, end)
                        if re.match(r"^except (?:ModuleNotFoundError|ImportError):", lines[i])),
                       None)
    if handler is None:
        raise ValueError(f"{lesson}: the first code cell has no 'try: import anw_helpers / except "
                         "ModuleNotFoundError:' guard; write it by hand as in docs/publishing.md")
    stop = next((i for i in range(handler + 1, end)
                 if lines[i].strip() and lines[i][0] not in " \t"), end)
    first = guard
    while first > start + 1 and lines[first - 1].startswith("#") \
            and not lines[first - 1].startswith("# %"):
        first -= 1
    block = [_to_percent(line) for line in _install_block(setting, lesson)]
    return "\n".join(lines[:first] + block + lines[stop:])


def _rewrite_colab_links(text: str, setting: RepositorySetting) -> str:
    """``text`` with every Colab link to a course notebook at ``setting``'s repository, branch."""
    return _COLAB_LINK.sub(lambda m: setting._colab(m.group("path")), text)


def check_install_cell(source: str, setting: Optional[RepositorySetting] = None,
                       extra: Optional[str] = None) -> list[str]:
    """Problems with a lesson's first code cell (empty: fine). The expected shape::

        try:
            import anw_helpers
        except ModuleNotFoundError:
            import glob, os
            wheel = os.environ.get("ANW_WHEEL") or max(glob.glob("anw_helpers-*.whl"), default="")
            source = wheel or "git+https://github.com/<repository>@<branch>"
            %pip install -q "{source}"
            import anw_helpers
        from anw_helpers.runtime import describe_runtime
        print(describe_runtime())

    (or the git address straight in the ``%pip`` line, without the wheel). It installs the helpers
    only when missing, from the repository and branch of ``setting`` (default: ``[tool.anw]`` of
    pyproject.toml) or an instructor's wheel, never (re)installs torch, and installs ``extra``
    (e.g. ``dp``) when given. The banner names the device and tells a Colab user how to get a GPU.
    """
    setting = setting or repository_setting()
    problems = []
    m = re.search(r"^try:[ \t]*\n[ \t]+import anw_helpers[ \t]*\n(?:[ \t]*#[^\n]*\n)*"
                  r"except (?:ModuleNotFoundError|ImportError):[ \t]*\n"
                  r"(?P<block>(?:[ \t]+[^\n]*(?:\n|$)|[ \t]*(?:\n|$))+)", source, re.M)

    def code_lines(text: str) -> list[str]:
        return [line.strip() for line in text.split("\n")
                if line.strip() and not line.lstrip().startswith("#")]

    code, block = code_lines(source), code_lines(m.group("block")) if m else []
    pip_lines = [line for line in code if _PIP.search(line)]
    block_pips = [line for line in block if _PIP.search(line)]
    if not m:
        problems.append("no 'try: import anw_helpers / except ModuleNotFoundError:' guard around "
                        "the install")
    elif not block_pips:
        problems.append("the except branch does not '%pip install' the helpers")
    if len(pip_lines) != len(block_pips):
        problems.append("a pip install runs outside the 'except ModuleNotFoundError' branch "
                        "(it would run every time)")
    urls = sorted({u for line in code for u in _GIT_URL.findall(line)})
    fix = (f"pyproject.toml [tool.anw] names {setting.repository}, branch {setting.branch}; "
           f"run  {SET_REPOSITORY}")
    if block_pips and not urls:
        problems.append(f"the install names no repository: expected {setting.git_url} ({fix})")
    for url in urls:
        if url != setting.git_url:
            problems.append(f"the install is from {url}, not the course repository "
                            f"{setting.git_url} ({fix})")
    for line in pip_lines:
        if not line.startswith("%pip"):
            problems.append(f"use '%pip install' (installs into the running kernel), not: {line}")
        if _UPGRADE.search(line):
            problems.append("the install upgrades or reinstalls packages (it would replace "
                            f"Colab's torch): {line}")
    for line in dict.fromkeys(pip_lines + block):
        if _TORCH.search(_GIT_URL.sub("", line)):
            problems.append(f"the install names torch (Colab ships its own; never reinstall it): "
                            f"{line}")
    wanted = re.compile(rf"anw[-_]helpers\[[^\]]*\b{re.escape(extra or '')}\b")
    if extra and not any(wanted.search(line) for line in block_pips):
        problems.append(f"the install does not add the [{extra}] extra this lesson needs: "
                        f'expected "anw-helpers[{extra}]" in the %pip line (run  {SET_REPOSITORY})')
    if not re.search(r"^print\(describe_runtime\(\)\)", source, re.M):
        problems.append("the cell does not print(describe_runtime()) (device banner, how to get a "
                        "GPU in Colab)")
    return problems


def first_code_cell(nb) -> str:
    """Source of a notebook's first code cell ('' when there is none)."""
    return next((c.source for c in nb.cells if c.cell_type == "code"), "")


def colab_link_problems(text: str, where: str,
                        setting: Optional[RepositorySetting] = None) -> list[str]:
    """Colab links in ``text`` (a lesson, the README) that open elsewhere than ``setting``."""
    setting = setting or repository_setting()
    wrong = [m for m in _COLAB_LINK.finditer(text)
             if (m.group("repository"), m.group("branch")) != (setting.repository, setting.branch)]
    if not wrong:
        return []
    seen = sorted({f"{m.group('repository')} (branch {m.group('branch')})" for m in wrong})
    return [f"{where}: {len(wrong)} Colab link(s) open {', '.join(seen)}, not "
            f"{setting.repository} (branch {setting.branch}) of pyproject.toml [tool.anw]; "
            f"run  {SET_REPOSITORY}"]


def readme_badge_problems(readme_text: str, notebooks_dir: Optional[Path] = None,
                          setting: Optional[RepositorySetting] = None) -> list[str]:
    """Lessons without a README Colab badge at the address of ``setting``, and links elsewhere.

    ``setting`` defaults to the ``[tool.anw]`` of the repository holding ``notebooks_dir``.
    """
    lessons = lesson_sources(notebooks_dir)
    if setting is None:
        setting = repository_setting(lessons[0].parent.parent if lessons else None)
    problems = colab_link_problems(readme_text, "README.md", setting)
    for py in lessons:
        badge = f"[![Open In Colab]({COLAB_BADGE})]({setting.colab_url(py.stem)})"
        if badge not in readme_text:
            problems.append(f"README.md has no Colab badge for {py.stem}: expected {badge} "
                            f"(run  {SET_REPOSITORY}  when only the address differs)")
    return problems


def set_repository(root: Optional[Path] = None, repository: Optional[str] = None,
                   branch: Optional[str] = None) -> list[Path]:
    """Make the course agree with ``[tool.anw]``, set first when ``repository`` or ``branch`` given.

    Rewrites every lesson's install block and Colab links and the README's Colab links, then
    re-syncs the .ipynb pairs (``sync_pairs``) and the student copies (``write_student_versions``).
    Every lesson is read before anything is written: a lesson without an install guard
    (ValueError) or a malformed setting leaves all files as they were. Returns the files changed.
    """
    root = Path(root) if root is not None else _default_root()
    setting = _wanted_setting(root, repository, branch)
    updates = {}
    for py in lesson_sources(root / "notebooks"):
        text = py.read_text(encoding="utf-8")
        new = _rewrite_colab_links(_rewrite_install_cell(text, setting, py.name), setting)
        updates[py] = (text, new)
    readme = root / "README.md"
    if readme.is_file():
        text = readme.read_text(encoding="utf-8")
        updates[readme] = (text, _rewrite_colab_links(text, setting))
    if repository or branch:
        write_repository_setting(root, setting.repository, setting.branch)
    changed = []
    for path, (old, new) in updates.items():
        if new != old:
            path.write_text(new, encoding="utf-8")
            changed.append(path)
    found = sync_pairs(root / "notebooks")
    changed += [py.with_suffix(".ipynb") for py, problems in found.items() if problems]
    return changed + write_student_versions(root)


# ---------------------------------------------------------------------------------------- the wheel
def _can_build_offline() -> bool:
    """Whether this environment's setuptools builds the wheel without a build environment."""
    try:
        from importlib.metadata import version

        found = tuple(int(x) for x in re.findall(r"\d+", version("setuptools"))[:2])
    except Exception:  # noqa: BLE001 - no setuptools, or an odd version string
        return False
    import importlib.util

    has_wheel = importlib.util.find_spec("wheel") is not None
    return found >= (64, 0) and (found >= (70, 1) or has_wheel)


def build_wheel(out: Path = Path("dist"), root: Optional[Path] = None) -> Path:
    """Build a wheel of the helper package into ``out`` with ``pip wheel --no-deps``; its path.

    The package (``anw_helpers/``, pyproject.toml, README.md) is copied to a temporary folder
    first, so the build writes nothing into the clone. With setuptools >= 64 installed here the
    build needs no network (``--no-build-isolation``); otherwise pip fetches the build requirements.
    """
    root = Path(root) if root is not None else Path(__file__).resolve().parent.parent
    if not (root / PYPROJECT).is_file() or not (root / "anw_helpers").is_dir():
        raise FileNotFoundError(f"{root} is not a clone of the course (no {PYPROJECT} and "
                                "anw_helpers/)")
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    before = {p: p.stat().st_mtime_ns for p in out.glob("anw_helpers-*.whl")}
    with tempfile.TemporaryDirectory(prefix="anw-wheel-") as tmp:
        source = Path(tmp) / "src"
        shutil.copytree(root / "anw_helpers", source / "anw_helpers",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        for name in (PYPROJECT, "README.md", "LICENSE", "LICENSE.txt", "setup.cfg", "MANIFEST.in"):
            if (root / name).is_file():
                shutil.copy2(root / name, source / name)
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                   "--disable-pip-version-check"]
        if _can_build_offline():
            command.append("--no-build-isolation")
        done = subprocess.run(command + [str(source), "-w", str(out)], capture_output=True,
                              text=True, cwd=tmp)
    if done.returncode != 0:
        why = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
        raise RuntimeError(f"pip wheel failed ({done.returncode}): {why}")
    built = [p for p in out.glob("anw_helpers-*.whl") if before.get(p) != p.stat().st_mtime_ns]
    if not built:
        raise RuntimeError(f"pip wheel reported success but wrote no anw_helpers-*.whl into {out}")
    return max(built, key=lambda p: p.stat().st_mtime_ns)


def wheel_instructions(wheel: Path) -> str:
    """How to use a built wheel in Colab and on a machine (printed by the ``wheel`` command)."""
    size = wheel.stat().st_size / 1024
    return "\n".join([
        f"built {wheel} ({size:.0f} kB): the helper package, without its dependencies.",
        "In Colab, each lesson's first cell installs this wheel instead of the GitHub repository",
        f"  * when it lies in the working folder: Files pane (folder icon) -> Upload {wheel.name}",
        "    (keep its name: delete an older copy first; Colab renames a duplicate 'x (1).whl'),",
        "  * or when ANW_WHEEL names it: host the file at a URL (a GitHub release, a course page)",
        "    and run this in a cell before the first one:",
        f"        %env ANW_WHEEL=https://example.org/course/{wheel.name}",
        f"On a machine:  pip install {wheel}  (pip adds torch and the rest only when missing).",
        "More: docs/publishing.md",
    ])


# ---------------------------------------------------------------------------------------------- execution
@dataclass
class CellError:
    """The first failing cell of a run: its index, the exception's name and message."""

    index: int
    ename: str
    evalue: str
    first_line: str


@dataclass
class NotebookRun:
    """One executed notebook: total seconds (kernel start included), seconds per executed cell, first error."""

    name: str
    seconds: float
    cell_seconds: dict[int, float] = field(default_factory=dict)
    error: Optional[CellError] = None
    notebook: object = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def slowest_cell(self) -> Optional[tuple[int, float]]:
        if not self.cell_seconds:
            return None
        index = max(self.cell_seconds, key=self.cell_seconds.__getitem__)
        return index, self.cell_seconds[index]


def _first_line(source: str) -> str:
    for line in source.split("\n"):
        if line.strip() and not line.lstrip().startswith("#"):
            return line.strip()[:60]
    return source.strip()[:60]


def execute_notebook(nb, cwd: Path, env: Optional[dict] = None, cell_timeout: Optional[int] = 1800,
                     name: str = "notebook") -> NotebookRun:
    """Execute ``nb`` cell by cell in a fresh kernel started in ``cwd``; stop at the first error.

    The notebook is executed in place (outputs added). ``env`` is the kernel's whole environment (default:
    this process's). Returns the timings and the first error (``NotImplementedError`` included).
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    kernel = (nb.metadata.get("kernelspec") or {}).get("name", "python3")
    client = NotebookClient(nb, timeout=cell_timeout, kernel_name=kernel, allow_errors=False,
                            resources={"metadata": {"path": str(cwd)}}, store_widget_state=True)
    run = NotebookRun(name, 0.0, notebook=nb)
    start = time.perf_counter()
    try:
        with client.setup_kernel(env=dict(os.environ if env is None else env), cwd=str(cwd)):
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                t0 = time.perf_counter()
                try:
                    client.execute_cell(cell, index)
                except CellExecutionError as exc:
                    run.error = CellError(index, exc.ename, exc.evalue, _first_line(cell.source))
                except Exception as exc:  # noqa: BLE001 - timeout, dead kernel: report, do not crash the run
                    run.error = CellError(index, type(exc).__name__, str(exc).strip().split("\n")[0], _first_line(cell.source))
                run.cell_seconds[index] = time.perf_counter() - t0
                if run.error is not None:
                    break
            try:
                client.set_widgets_metadata()
            except Exception:  # noqa: BLE001 - widget state is a nicety for the HTML export
                pass
    except Exception as exc:  # noqa: BLE001 - the kernel did not start
        if run.error is None:
            run.error = CellError(-1, type(exc).__name__, str(exc).strip().split("\n")[0], "(kernel start)")
    run.seconds = time.perf_counter() - start
    return run


def student_run_problem(run: NotebookRun, stubs: Sequence[str]) -> Optional[str]:
    """Why a student notebook's run is wrong (None: as it should be).

    With exercise ``stubs`` the first error must be exactly ``NotImplementedError`` with one of their
    messages (the notebook runs up to its first stub); without stubs the notebook must run to the end.
    """
    where = f"{run.name}: " if run.name else ""
    if not stubs:
        return None if run.ok else f"{where}failed in cell {run.error.index}: {run.error.ename}: {run.error.evalue}"
    if run.ok:
        return f"{where}ran to the end, so no cell calls its exercise stubs {list(stubs)}"
    err = run.error
    if err.ename == "NotImplementedError" and err.evalue in stubs:
        return None
    return (f"{where}the first error (cell {err.index}, `{err.first_line}`) is {err.ename}: {err.evalue}, "
            f"not an exercise stub ({list(stubs)})")


def _say(message: str) -> None:
    print(message, flush=True)


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def timings_markdown(runs: Sequence[NotebookRun], profile: str, machine: str, command: str) -> str:
    """The timing table of a course run, as Markdown (also printed by ``run-all``)."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Course run: time per lesson", "",
        f"- profile: `{profile}`", f"- machine: {machine}", f"- run: {now}, `{command}`",
        "- time: wall clock of the whole notebook, kernel start included (m:ss)", "",
        "| lesson | status | time | slowest cell |", "|---|---|---|---|",
    ]
    for r in runs:
        if r.ok:
            status = "ok"
        else:
            msg = f"{r.error.ename}: {r.error.evalue}".replace("|", "\\|").replace("\n", " ")[:100]
            status = f"**failed** in cell {r.error.index}: {msg}"
        slow = r.slowest_cell()
        slowest = "" if slow is None else f"cell {slow[0]}, {slow[1]:.1f} s"
        if slow is not None and r.notebook is not None:
            slowest += f": `{_first_line(r.notebook.cells[slow[0]].source).replace('|', '/').replace('`', '')}`"
        lines.append(f"| {r.name} | {status} | {_clock(r.seconds)} | {slowest} |")
    lines.append(f"| **total** | {sum(r.ok for r in runs)}/{len(runs)} ok | {_clock(sum(r.seconds for r in runs))} | |")
    return "\n".join(lines) + "\n"


def _machine() -> str:
    try:
        import torch

        from anw_helpers.runtime import choose_device

        device = choose_device()
        where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{os.cpu_count()} CPU threads"
        return f"{platform.system()} {platform.machine()}, {where}, torch {torch.__version__}, Python {platform.python_version()}"
    except Exception:  # noqa: BLE001
        return f"{platform.system()} {platform.machine()}, Python {platform.python_version()}"


def run_all(notebooks_dir: Optional[Path] = None, out_dir: Path = Path("build"), profile: Optional[str] = None,
            only: Optional[Iterable[str]] = None, cell_timeout: Optional[int] = 1800, html: bool = True,
            command: str = "python -m tools.course run-all", echo=None) -> list[NotebookRun]:
    """Execute every lesson in order into ``out_dir``: executed .ipynb, .html, and ``timings.md``.

    Lessons run from their .py source in a fresh kernel each, with ``notebooks_dir`` as working directory
    and ``ANW_PROFILE=profile`` when given (figures inline: MPLBACKEND is unset for the kernel). A failing
    lesson is saved with its error and the run goes on. ``only``: lesson numbers or names to run.
    """
    import nbformat

    echo = echo or _say
    notebooks_dir = Path(notebooks_dir) if notebooks_dir is not None else _default_root() / "notebooks"
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lessons = lesson_sources(notebooks_dir)
    if only:
        wanted = set(only)
        lessons = [p for p in lessons if p.stem in wanted or p.stem[:2] in wanted]
    if not lessons:
        raise FileNotFoundError(f"no lessons to run in {notebooks_dir} (expected {LESSON_GLOB}"
                                + (f" matching {sorted(only)})" if only else ")"))
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)
    if profile:
        env["ANW_PROFILE"] = profile
    active = profile or os.environ.get("ANW_PROFILE")
    if not active:
        from anw_helpers.profiles import auto_profile_name

        active = f"{auto_profile_name()} (auto)"
    runs = []
    for py in lessons:
        echo(f"[run-all] {py.stem} ...")
        nb = read_lesson(py)
        run = execute_notebook(nb, notebooks_dir, env, cell_timeout, name=py.stem)
        nbformat.write(nb, str(out_dir / f"{py.stem}.ipynb"))
        if html:
            from nbconvert import HTMLExporter

            body, _ = HTMLExporter().from_notebook_node(nb)
            (out_dir / f"{py.stem}.html").write_text(body, encoding="utf-8")
        status = "ok" if run.ok else f"FAILED in cell {run.error.index}: {run.error.ename}: {run.error.evalue[:200]}"
        echo(f"[run-all] {py.stem}: {status} ({_clock(run.seconds)})")
        runs.append(run)
    table = timings_markdown(runs, active, _machine(), command)
    (out_dir / "timings.md").write_text(table, encoding="utf-8")
    echo("")
    echo(table)
    echo(f"[run-all] executed notebooks, HTML and timings.md in {out_dir}")
    return runs


# ------------------------------------------------------------------------------------------------- CLI
def _cmd_student(args) -> int:
    if args.check:
        problems = check_student_versions(args.root)
        for p in problems:
            print(p)
        if problems:
            print("student/ is stale: run  python -m tools.course student")
            return 1
        print("student/ is current.")
        return 0
    changed = write_student_versions(args.root)
    root = Path(args.root) if args.root is not None else _default_root()
    for py in lesson_sources(root / "notebooks"):
        print(f"{STUDENT_DIR}/{py.stem}.ipynb: {len(stub_messages(py))} exercise stub(s)")
    print(f"{len(changed)} file(s) written in {root / STUDENT_DIR}" if changed else "student/ was already current.")
    return 0


def _cmd_sync(args) -> int:
    root = Path(args.root) if args.root is not None else _default_root()
    found = sync_pairs(root / "notebooks", check=args.check)
    bad = {py: p for py, p in found.items() if p}
    for py, problems in bad.items():
        for p in problems:
            print(f"out of sync: {p}" if args.check else f"wrote {py.with_suffix('.ipynb').name} (it was out of sync: {p})")
    if args.check:
        if bad:
            print("run  python -m tools.course sync  (the .py is the source of truth)")
        else:
            print(f"all {len(found)} pairs in sync.")
        return 1 if bad else 0
    print(f"{len(bad)} of {len(found)} .ipynb written from their .py." if bad else f"all {len(found)} pairs were already in sync.")
    return 0


def _cmd_check(args) -> int:
    root = Path(args.root) if args.root is not None else _default_root()
    setting = repository_setting(root)
    problems = []
    for py in lesson_sources(root / "notebooks"):
        problems += [f"pair: {p}" for p in pair_problems(py)]
        extra = lesson_extra(py.name)
        cell = first_code_cell(read_lesson(py))
        problems += [f"{py.name}, first code cell: {p}"
                     for p in check_install_cell(cell, setting, extra[0] if extra else None)]
        problems += colab_link_problems(py.read_text(encoding="utf-8"), py.name, setting)
    readme = root / "README.md"
    if readme.is_file():
        readme_text = readme.read_text(encoding="utf-8")
        problems += readme_badge_problems(readme_text, root / "notebooks", setting)
    problems += [f"student: {p}" for p in check_student_versions(root)]
    for p in problems:
        print(p)
    print(f"{len(problems)} problem(s)." if problems else "all course checks pass.")
    return 1 if problems else 0


def _cmd_set_repository(args) -> int:
    root = Path(args.root) if args.root is not None else _default_root()
    changed = set_repository(root, args.repository, args.branch)
    setting = repository_setting(root)
    for path in changed:
        print(f"wrote {path.relative_to(root) if path.is_relative_to(root) else path}")
    print(f"the course installs from {setting.git_url} and opens in Colab from "
          f"{setting.repository}, branch {setting.branch}: {len(changed)} file(s) changed.")
    if changed:
        print("review and commit them (git diff); check with  python -m tools.course check")
    return 0


def _cmd_wheel(args) -> int:
    root = Path(args.root) if args.root is not None else None
    print(wheel_instructions(build_wheel(Path(args.out), root)))
    return 0


def _cmd_run_all(args) -> int:
    root = Path(args.root) if args.root is not None else _default_root()
    if args.profile:
        from anw_helpers.profiles import PROFILES

        if args.profile not in PROFILES:
            print(f"unknown profile {args.profile!r}; expected one of {', '.join(PROFILES)}", file=sys.stderr)
            return 2
    command = "python -m tools.course " + " ".join(args.argv)
    runs = run_all(Path(args.notebooks) if args.notebooks else root / "notebooks", Path(args.out), args.profile,
                   args.only, args.cell_timeout or None, html=not args.no_html, command=command.strip())
    return 0 if all(r.ok for r in runs) else 1


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m tools.course", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=None, help="the course repository (default: this clone)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("student", help="write student/ (solutions replaced by NotImplementedError stubs)")
    p.add_argument("--check", action="store_true", help="only check that student/ is current (exit 1 if not)")
    p.set_defaults(func=_cmd_student)
    p = sub.add_parser("sync", help="write every notebooks/NN_name.ipynb from its .py, without outputs")
    p.add_argument("--check", action="store_true", help="only check that every pair is in sync (exit 1 if not)")
    p.set_defaults(func=_cmd_sync)
    p = sub.add_parser("check", help="pairs in sync, install cells, README badges, student/ current (no execution)")
    p.set_defaults(func=_cmd_check)
    p = sub.add_parser("set-repository", help="set [tool.anw] of pyproject.toml, then rewrite "
                       "install cells, Colab badges, .ipynb pairs and student/ from it")
    p.add_argument("repository", nargs="?", default=None, metavar="OWNER/NAME",
                   help="the GitHub repository to publish from (default: keep the current setting)")
    p.add_argument("--branch", default=None,
                   help="the branch Colab opens (default: keep it; initially main)")
    p.set_defaults(func=_cmd_set_repository)
    p = sub.add_parser("wheel", help="build a wheel of the helpers, for Colab without a repository")
    p.add_argument("--out", default="dist", help="folder for the .whl (default: dist)")
    p.set_defaults(func=_cmd_wheel)
    p = sub.add_parser("run-all", help="execute every lesson into --out with HTML and a timing table")
    p.add_argument("--profile", default=None, help="ANW_PROFILE for the lessons (ci, cpu, gpu, paper)")
    p.add_argument("--out", default="build", help="output folder (default: build)")
    p.add_argument("--only", nargs="+", default=None, metavar="LESSON", help="lesson numbers or names, e.g. 01 02")
    p.add_argument("--notebooks", default=None, help="folder of NN_name.py lessons (default: notebooks/)")
    p.add_argument("--cell-timeout", type=int, default=1800, help="seconds per cell, 0 for none (default: 1800)")
    p.add_argument("--no-html", action="store_true", help="skip the HTML export")
    p.set_defaults(func=_cmd_run_all)
    args = parser.parse_args(argv)
    args.argv = argv
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
