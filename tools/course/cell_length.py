"""Code cells a student can read in one go: at most ``MAX_CELL_LINES`` lines (issue 29, item 5).

A lesson's code cell does one thing a student can read (compute, then show, then check); a longer
one is split at a seam, or its plotting moves into ``anw_helpers.plots``. Two kinds of cell may be
longer: an exercise's solution cell (tagged ``solution``: its ``# BEGIN SOLUTION`` ... ``# END
SOLUTION`` block must stay whole), and a simple inline figure whose drawing teaches something,
marked by ``INLINE_FIGURE`` on its first line. ``check`` runs ``long_cell_problems`` on every
lesson.
"""

from __future__ import annotations

from pathlib import Path

from .lessons import SOLUTION_TAG, read_lesson

#: The most lines a lesson's code cell may have, blank lines at its ends not counted.
MAX_CELL_LINES = 30
#: The comment that lets a cell drawing an inline figure be longer (on the cell's first line).
INLINE_FIGURE = "# inline figure: drawing it is part of the lesson"


def cell_lines(source: str) -> list[str]:
    """A cell's lines without the blank lines at its start and end (those inside count)."""
    lines = source.splitlines()
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def exempt_from_length(source: str, tags: list[str]) -> bool:
    """True for a cell the length rule spares: a solution cell (tagged ``solution``) or an inline
    figure (``INLINE_FIGURE`` on its first line)."""
    lines = cell_lines(source)
    return SOLUTION_TAG in tags or bool(lines and INLINE_FIGURE in lines[0])


def cell_length_problems(nb, name: str, limit: int = MAX_CELL_LINES) -> list[str]:
    """One line per code cell of the notebook ``nb`` (lesson ``name``) longer than ``limit`` lines
    and not exempt (``exempt_from_length``): the lesson, the cell's first line and its length."""
    if limit < 1:
        raise ValueError(f"a cell-length limit must be at least 1 line, got {limit}")
    problems = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        lines = cell_lines(cell.source)
        if len(lines) <= limit or exempt_from_length(cell.source, cell.metadata.get("tags", [])):
            continue
        first = lines[0].strip()
        first = first if len(first) <= 60 else first[:57] + "..."
        problems.append(
            f"{name}: the code cell starting {first!r} has {len(lines)} lines (at most {limit}): "
            f"split it at a seam (compute, show, check), move its plotting into anw_helpers.plots, "
            f"or start an inline figure with {INLINE_FIGURE!r}"
        )
    return problems


def long_cell_problems(py: Path, limit: int = MAX_CELL_LINES) -> list[str]:
    """``cell_length_problems`` of the lesson whose py:percent source is ``py``."""
    py = Path(py)
    return cell_length_problems(read_lesson(py), py.name, limit)
