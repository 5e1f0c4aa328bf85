"""Course tooling for instructors: student versions, jupytext pairs, running the course headless.

Not part of the installed package: run it from a clone of the course repository.

    python -m tools.course student [--check]  student/NN_name.ipynb (solutions replaced by stubs)
    python -m tools.course sync [--check]     notebooks/NN_name.ipynb from NN_name.py (no outputs)
    python -m tools.course run-all [--profile ci] [--out build] [--only 01 03]
    python -m tools.course check              everything CI checks without executing a notebook
                                              (code cells of at most 30 lines among it)
    python -m tools.course set-repository [OWNER/NAME] [--branch B]
                                              install cells, Colab badges, .ipynb, student/
                                              from [tool.anw] of pyproject.toml
    python -m tools.course wheel [--out dist] a wheel of the helpers (Colab without GitHub)

One module per job: ``lessons`` (finding and reading lessons), ``settings`` (``[tool.anw]``),
``student`` (student copies), ``sync`` (jupytext pairs), ``install_cells`` (install cells and Colab
badges, written and linted), ``colab_gpu`` (lessons that train ask Colab for a GPU),
``cell_length`` (code cells of at most 30 lines), ``set_repository``, ``wheel``, ``run_all``
(headless run with timings) and ``cli`` (the commands above).

Conventions (see docs/instructors.md):

* Every lesson is a jupytext pair ``notebooks/NN_name.py`` (py:percent, the source of truth) and
  ``NN_name.ipynb`` (written by ``sync``, no outputs).
* An exercise is a code cell tagged ``solution`` (``# %% tags=["solution"]``) whose answer sits
  between a line ``# BEGIN SOLUTION`` and a line ``# END SOLUTION``. The student version replaces
  each such block by ``raise NotImplementedError("Exercise: ...")`` at the block's indentation,
  naming the exercise by the first sentence of the enclosing function's docstring (else the text
  after ``BEGIN SOLUTION:``, else the nearest ``Exercise`` heading above the cell).
* Every lesson's first code cell installs the helpers only when missing (``check_install_cell``):
  from a wheel named by ``ANW_WHEEL`` or lying in the working folder, else from the repository
  ``[tool.anw] repository`` of pyproject.toml, the one place that names it (docs/publishing.md).
* A code cell has at most 30 lines (``cell_length``): one thing a student can read (compute, then
  show, then check). Spared: a solution cell, whose solution block stays whole, and a simple inline
  figure whose drawing teaches something, marked ``# inline figure: drawing it is part of the
  lesson`` on its first line.
"""

from __future__ import annotations

from .cell_length import INLINE_FIGURE, MAX_CELL_LINES, cell_length_problems, long_cell_problems
from .cli import main
from .install_cells import (
    LESSON_EXTRAS,
    check_install_cell,
    colab_link_problems,
    first_code_cell,
    install_cell_source,
    lesson_extra,
    readme_badge_problems,
)
from .lessons import (
    COLAB_BADGE,
    SET_REPOSITORY,
    STUDENT_DIR,
    lesson_sources,
    read_lesson,
)
from .run_all import (
    CellError,
    NotebookRun,
    execute_notebook,
    run_all,
    stub_cells,
    student_run_past_stubs_problem,
    student_run_problem,
    timings_markdown,
)
from .set_repository import set_repository
from .settings import (
    RepositorySetting,
    colab_url,
    repository_setting,
    write_repository_setting,
)
from .student import (
    check_student_versions,
    stub_messages,
    stub_source,
    student_files,
    student_notebook,
    write_student_versions,
)
from .sync import ipynb_text_for, pair_problems, sync_pairs
from .wheel import build_wheel, wheel_instructions

__all__ = [
    "COLAB_BADGE",
    "SET_REPOSITORY",
    "STUDENT_DIR",
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
    "stub_source",
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
    "CellError",
    "NotebookRun",
    "student_run_past_stubs_problem",
    "student_run_problem",
    "stub_cells",
    "run_all",
    "timings_markdown",
    "MAX_CELL_LINES",
    "INLINE_FIGURE",
    "cell_length_problems",
    "long_cell_problems",
    "main",
]
