"""The course's lessons: where they are, how they are read (jupytext), shared names."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Optional

SOLUTION_TAG = "solution"
EXERCISE_TAG = "exercise"
LESSON_GLOB = "[0-9][0-9]_*.py"
STUDENT_DIR = "student"
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
PYPROJECT = "pyproject.toml"
SET_REPOSITORY = "python -m tools.course set-repository"

#: The clone this tool lies in (tools/course/ -> the repository root).
REPOSITORY_ROOT = Path(__file__).resolve().parents[2]


def _default_root() -> Path:
    """The repository holding ``notebooks/``: this package's parent when it is a clone, else the
    current folder."""
    here = REPOSITORY_ROOT
    return here if (here / "notebooks").is_dir() else Path.cwd()


def lesson_sources(notebooks_dir: Optional[Path] = None) -> list[Path]:
    """The lessons' py:percent sources ``NN_name.py``, in course order."""
    folder = Path(notebooks_dir) if notebooks_dir is not None else _default_root() / "notebooks"
    return sorted(folder.glob(LESSON_GLOB))


def _jupytext_config(folder: Path):
    from jupytext.config import load_jupytext_config

    return load_jupytext_config(str(folder.resolve()))


def read_lesson(py_path: Path):
    """The lesson as a notebook, parsed by jupytext with the repository's ``jupytext.toml`` (magics
    uncommented)."""
    import jupytext

    py_path = Path(py_path)
    return jupytext.read(str(py_path), config=_jupytext_config(py_path.parent))


def _cell_id(index: int, cell_type: str, source: str) -> str:
    return hashlib.sha1(f"{index}:{cell_type}:{source}".encode()).hexdigest()[:8]
