"""Jupytext pairs: each ``notebooks/NN_name.ipynb`` written from its ``.py`` (no outputs)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from .lessons import _cell_id, _jupytext_config, lesson_sources, read_lesson


def _cells_key(nb) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(c.cell_type, c.source, tuple(c.metadata.get("tags", []))) for c in nb.cells]


def ipynb_text_for(py_path: Path, existing: Optional[Path] = None) -> str:
    """The .ipynb text of a lesson's .py (no outputs), keeping the cell ids of ``existing`` where
    the source is unchanged."""
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
    """Why a lesson's .py and .ipynb are not in sync (empty: in sync): cells differ, or the .ipynb
    has outputs."""
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
        problems.append(
            f"{ipynb.name} and {py_path.name} differ: {len(b)} vs {len(a)} cells, first difference "
            f"at cell {first}"
        )
    kept = ("accelerator", "colab")
    if any(nb_py.metadata.get(k) != nb_ipynb.metadata.get(k) for k in kept):
        problems.append(f"{ipynb.name} and {py_path.name} differ in Colab metadata ({kept})")
    with_outputs = [
        i
        for i, c in enumerate(nb_ipynb.cells)
        if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count"))
    ]
    if with_outputs:
        problems.append(
            f"{ipynb.name} has outputs in cells {with_outputs[:5]} (commit notebooks without "
            "outputs)"
        )
    return problems


def sync_pairs(notebooks_dir: Optional[Path] = None, check: bool = False) -> dict[Path, list[str]]:
    """Write every lesson's .ipynb from its .py (``check``: only report). Returns {py: problems
    found before}."""
    found = {}
    for py in lesson_sources(notebooks_dir):
        problems = pair_problems(py)
        found[py] = problems
        if problems and not check:
            ipynb = py.with_suffix(".ipynb")
            ipynb.write_text(ipynb_text_for(py, ipynb), encoding="utf-8")
    return found
