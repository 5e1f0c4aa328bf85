"""The cell-length rule of ``python -m tools.course check`` (issue 29, item 5): a lesson's code cell
has at most 30 lines, unless it is a solution cell or an inline figure marked on its first line.

Parsing only: no notebook is executed.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tools import course
from tools.course import cell_length

ROOT = Path(__file__).resolve().parent.parent
LESSONS = course.lesson_sources(ROOT / "notebooks")


def _code(n: int, first: str = "x = 0") -> str:
    """A code cell body of ``n`` lines, starting with ``first``."""
    return "\n".join([first] + [f"x += {i}" for i in range(1, n)])


def _lesson(tmp_path: Path, cells: list[str], name: str = "01_demo") -> Path:
    """A made-up py:percent lesson of ``cells`` (each a full cell, marker line included)."""
    folder = tmp_path / "notebooks"
    folder.mkdir(exist_ok=True)
    (tmp_path / "jupytext.toml").write_text((ROOT / "jupytext.toml").read_text())
    path = folder / f"{name}.py"
    path.write_text("\n\n".join(textwrap.dedent(c).strip("\n") for c in cells) + "\n")
    return path


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_every_lesson_keeps_its_code_cells_short(lesson):
    assert course.long_cell_problems(lesson) == []


def test_a_long_code_cell_is_named_with_its_lesson_first_line_and_length(tmp_path):
    py = _lesson(
        tmp_path,
        [
            "# %% [markdown]\n# # Lesson 01\n" + "# words\n" * 40,  # Markdown: any length
            "# %%\n" + _code(30, "ok = 1"),  # at the limit
            "# %%\n" + _code(31, "too_long = compute_everything()  # then show it, then check it"),
        ],
    )
    problems = course.long_cell_problems(py)
    assert len(problems) == 1 and "\n" not in problems[0]
    assert problems[0].startswith("01_demo.py: the code cell starting 'too_long = compute_")
    assert "has 31 lines (at most 30)" in problems[0]
    assert course.INLINE_FIGURE in problems[0]  # it says how to mark an inline figure


def test_blank_lines_at_a_cells_ends_do_not_count_but_inside_they_do(tmp_path):
    inside = _code(15) + "\n\n" + _code(15, "y = 0")  # 31 lines with the blank one
    ends = "\n\n" + _code(30) + "\n\n\n"
    assert len(cell_length.cell_lines(ends)) == 30
    assert len(cell_length.cell_lines(inside)) == 31
    py = _lesson(tmp_path, ["# %%\n" + inside])
    assert "has 31 lines" in course.long_cell_problems(py)[0]


def test_solution_cells_and_marked_inline_figures_may_be_longer(tmp_path):
    solution = '# %% tags=["solution"]\n' + _code(40, "# BEGIN SOLUTION") + "\n# END SOLUTION"
    figure = "# %%\n" + _code(40, course.INLINE_FIGURE)
    marked_late = "# %%\n" + _code(39, "x = 0") + "\n" + course.INLINE_FIGURE
    py = _lesson(tmp_path, [solution, figure, marked_late])
    problems = course.long_cell_problems(py)
    # the marker counts only on the first line: the third cell is still too long
    assert len(problems) == 1 and "has 40 lines" in problems[0]


def test_the_limit_is_a_setting_and_a_nonsense_limit_is_refused(tmp_path):
    py = _lesson(tmp_path, ["# %%\n" + _code(5)])
    assert course.long_cell_problems(py, limit=5) == []
    assert len(course.long_cell_problems(py, limit=4)) == 1
    with pytest.raises(ValueError, match="at least 1 line, got 0"):
        course.long_cell_problems(py, limit=0)


def test_check_fails_on_a_long_cell(tmp_path, capsys):
    """``python -m tools.course check`` reports the long cell in one line and exits 1."""
    py = _lesson(tmp_path, ["# %%\n" + _code(31, "too_long = 1")])
    course.sync_pairs(py.parent)
    course.write_student_versions(tmp_path)
    assert course.main(["--root", str(tmp_path), "check"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert any(
        line.startswith("01_demo.py: the code cell starting 'too_long = 1' has 31 lines")
        for line in out
    ), out
