"""Course tooling for instructors: student versions, jupytext pairs, and running the whole course headless.

    python -m anw_helpers.course student [--check]   write student/NN_name.ipynb (solutions replaced by stubs)
    python -m anw_helpers.course sync [--check]      write notebooks/NN_name.ipynb from NN_name.py (no outputs)
    python -m anw_helpers.course run-all [--profile ci] [--out build] [--only 01 03]
    python -m anw_helpers.course check               everything CI checks without executing a notebook

Conventions (see docs/instructors.md):

* Every lesson is a jupytext pair ``notebooks/NN_name.py`` (py:percent, the source of truth) and
  ``NN_name.ipynb`` (written by ``sync``, no outputs).
* An exercise is a code cell tagged ``solution`` (``# %% tags=["solution"]``) whose answer sits between a
  line ``# BEGIN SOLUTION`` and a line ``# END SOLUTION``. The student version replaces each such block by
  ``raise NotImplementedError("Exercise: ...")`` at the block's indentation, naming the exercise by the
  first sentence of the enclosing function's docstring (else the text after ``BEGIN SOLUTION:``, else
  the nearest ``Exercise`` heading above the cell).
* Every lesson's first code cell installs the helpers only when missing (``check_install_cell``).
"""
from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import platform
import re
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Optional, Sequence

__all__ = [
    "REPO_SLUG",
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

#: The course's GitHub repository (Colab badges, the install cell's pip URL).
REPO_SLUG = "anw-course/anti-neuron-watermarking"
SOLUTION_TAG = "solution"
EXERCISE_TAG = "exercise"
LESSON_GLOB = "[0-9][0-9]_*.py"
STUDENT_DIR = "student"
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"

_BEGIN = re.compile(r"^(?P<indent>[ \t]*)#[ \t]*BEGIN SOLUTION\b[ \t]*:?[ \t]*(?P<name>.*?)[ \t]*$")
_END = re.compile(r"^[ \t]*#[ \t]*END SOLUTION\b.*$")
_EXERCISE_HEADING = re.compile(r"^#+[ \t]*Exercise\b[ \t]*(?P<name>.*?)[ \t]*$", re.M)


def _default_root() -> Path:
    """The repository holding ``notebooks/``: this package's parent when it is a clone, else the current folder."""
    here = Path(__file__).resolve().parent.parent
    return here if (here / "notebooks").is_dir() else Path.cwd()


def colab_url(name: str, folder: str = "notebooks", branch: str = "main") -> str:
    """The Colab address that opens ``<folder>/<name>.ipynb`` of the course repository."""
    return f"https://colab.research.google.com/github/{REPO_SLUG}/blob/{branch}/{folder}/{name}.ipynb"


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
            text = text.replace(f"/blob/main/notebooks/{py_path.stem}.ipynb", f"/blob/main/{folder}/{py_path.stem}.ipynb")
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

Written by `python -m anw_helpers.course student` from the lessons in [`../notebooks`](../notebooks):
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
    for py in lesson_sources(notebooks_dir):
        nb, messages = student_notebook(py)
        files[f"{py.stem}.ipynb"] = nbformat.writes(nb, version=4) + "\n"
        badge = f"[![Open In Colab]({COLAB_BADGE})]({colab_url(py.stem, STUDENT_DIR)})"
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


# ------------------------------------------------------------------------------------ install cell, badges
def check_install_cell(source: str) -> list[str]:
    """Problems with a lesson's first code cell (empty: fine). The expected shape::

        try:
            import anw_helpers
        except ModuleNotFoundError:
            %pip install -q "anw-helpers @ git+https://github.com/<repo>"
            import anw_helpers
        from anw_helpers.runtime import describe_runtime
        print(describe_runtime())

    It installs the helpers only when missing, from the repository, never (re)installs torch, and the
    runtime banner names the device and tells a Colab user without a GPU how to get one.
    """
    problems = []
    m = re.search(r"^try:[ \t]*\n[ \t]+import anw_helpers[ \t]*\n(?:[ \t]*#[^\n]*\n)*except (?:ModuleNotFoundError|ImportError):[ \t]*\n"
                  r"(?P<block>(?:[ \t]+[^\n]*(?:\n|$)|[ \t]*(?:\n|$))+)", source, re.M)
    pip_lines = [l.strip() for l in source.split("\n") if re.search(r"\bpip\b.*\binstall\b", l) and not l.lstrip().startswith("#")]
    if not m:
        problems.append("no 'try: import anw_helpers / except ModuleNotFoundError:' guard around the install")
        block_pips = []
    else:
        block_pips = [l.strip() for l in m.group("block").split("\n")
                      if re.search(r"\bpip\b.*\binstall\b", l) and not l.lstrip().startswith("#")]
        if not block_pips:
            problems.append("the except branch does not '%pip install' the helpers")
    if len(pip_lines) != len(block_pips):
        problems.append("a pip install runs outside the 'except ModuleNotFoundError' branch (it would run every time)")
    for line in pip_lines:
        if not line.startswith("%pip"):
            problems.append(f"use '%pip install' (installs into the running kernel), not: {line}")
        if f"git+https://github.com/{REPO_SLUG}" not in line:
            problems.append(f"the install is not from the course repository github.com/{REPO_SLUG}: {line}")
        if re.search(r"(?<![\w-])torch(vision)?\b", line.replace(f"git+https://github.com/{REPO_SLUG}", "")):
            problems.append(f"the install names torch (Colab ships its own; never reinstall it): {line}")
        if re.search(r"(^|\s)(-U|--upgrade|--force-reinstall|--ignore-installed|-I)(\s|$)", line):
            problems.append(f"the install upgrades or reinstalls packages (it would replace Colab's torch): {line}")
    if not re.search(r"^print\(describe_runtime\(\)\)", source, re.M):
        problems.append("the cell does not print(describe_runtime()) (device banner, how to get a GPU in Colab)")
    return problems


def first_code_cell(nb) -> str:
    """Source of a notebook's first code cell ('' when there is none)."""
    return next((c.source for c in nb.cells if c.cell_type == "code"), "")


def readme_badge_problems(readme_text: str, notebooks_dir: Optional[Path] = None) -> list[str]:
    """Lessons without a Colab badge in the README (a badge image linking to the lesson's Colab address)."""
    problems = []
    for py in lesson_sources(notebooks_dir):
        badge = f"[![Open In Colab]({COLAB_BADGE})]({colab_url(py.stem)})"
        if badge not in readme_text:
            problems.append(f"README.md has no Colab badge for {py.stem}: expected {badge}")
    return problems


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

        from .runtime import choose_device

        device = choose_device()
        where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{os.cpu_count()} CPU threads"
        return f"{platform.system()} {platform.machine()}, {where}, torch {torch.__version__}, Python {platform.python_version()}"
    except Exception:  # noqa: BLE001
        return f"{platform.system()} {platform.machine()}, Python {platform.python_version()}"


def run_all(notebooks_dir: Optional[Path] = None, out_dir: Path = Path("build"), profile: Optional[str] = None,
            only: Optional[Iterable[str]] = None, cell_timeout: Optional[int] = 1800, html: bool = True,
            command: str = "python -m anw_helpers.course run-all", echo=None) -> list[NotebookRun]:
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
        from .profiles import auto_profile_name

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
            print("student/ is stale: run  python -m anw_helpers.course student")
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
            print("run  python -m anw_helpers.course sync  (the .py is the source of truth)")
        else:
            print(f"all {len(found)} pairs in sync.")
        return 1 if bad else 0
    print(f"{len(bad)} of {len(found)} .ipynb written from their .py." if bad else f"all {len(found)} pairs were already in sync.")
    return 0


def _cmd_check(args) -> int:
    root = Path(args.root) if args.root is not None else _default_root()
    problems = []
    for py in lesson_sources(root / "notebooks"):
        problems += [f"pair: {p}" for p in pair_problems(py)]
        problems += [f"{py.name}, first code cell: {p}" for p in check_install_cell(first_code_cell(read_lesson(py)))]
    readme = root / "README.md"
    if readme.is_file():
        problems += readme_badge_problems(readme.read_text(encoding="utf-8"), root / "notebooks")
    problems += [f"student: {p}" for p in check_student_versions(root)]
    for p in problems:
        print(p)
    print(f"{len(problems)} problem(s)." if problems else "all course checks pass.")
    return 1 if problems else 0


def _cmd_run_all(args) -> int:
    root = Path(args.root) if args.root is not None else _default_root()
    if args.profile:
        from .profiles import PROFILES

        if args.profile not in PROFILES:
            print(f"unknown profile {args.profile!r}; expected one of {', '.join(PROFILES)}", file=sys.stderr)
            return 2
    command = "python -m anw_helpers.course " + " ".join(args.argv)
    runs = run_all(Path(args.notebooks) if args.notebooks else root / "notebooks", Path(args.out), args.profile,
                   args.only, args.cell_timeout or None, html=not args.no_html, command=command.strip())
    return 0 if all(r.ok for r in runs) else 1


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m anw_helpers.course", description=__doc__.split("\n\n")[0])
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
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
