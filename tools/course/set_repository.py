"""Make the lessons, the README, the .ipynb pairs and ``student/`` agree with ``[tool.anw]``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from .colab_gpu import lesson_trains, with_gpu_header
from .install_cells import _rewrite_colab_links, _rewrite_install_cell
from .lessons import _default_root, lesson_sources
from .settings import _wanted_setting, write_repository_setting
from .student import write_student_versions
from .sync import sync_pairs


def set_repository(
    root: Optional[Path] = None, repository: Optional[str] = None, branch: Optional[str] = None
) -> list[Path]:
    """Make the course agree with ``[tool.anw]``, set first when ``repository`` or ``branch`` given.

    Rewrites every lesson's install block and Colab links (and asks Colab for a GPU where the
    lesson trains: ``colab_gpu``) and the README's Colab links, then
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
        new = with_gpu_header(new) if lesson_trains(new) else new
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
