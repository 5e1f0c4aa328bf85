"""Lessons that train open on a Colab GPU: notebook metadata ``accelerator`` and ``colab.gpuType``.

Set in each lesson's jupytext header (the .py) by ``set-repository``, checked by ``check``, kept
by ``jupytext.toml``'s ``notebook_metadata_filter``, copied into the .ipynb by ``sync`` and into
``student/``.
"""

from __future__ import annotations

import re
from pathlib import Path

from .lessons import SET_REPOSITORY, read_lesson

#: What Colab reads to open a notebook on a GPU runtime (a free T4).
GPU_METADATA: dict = {"accelerator": "GPU", "colab": {"gpuType": "T4"}}
_HEADER_LINES = ("#   accelerator: GPU", "#   colab:", "#     gpuType: T4")
_TRAINS = re.compile(r"\b(train_learner|train_model|fit|fine_tune|make_train_step)\(")


def lesson_trains(text: str) -> bool:
    """True when a lesson's source calls a helper that trains (or loads or trains) a model."""
    return bool(_TRAINS.search(text))


def gpu_problems(py: Path) -> list[str]:
    """Why a lesson that trains would open on a CPU runtime in Colab (empty: it asks for a GPU)."""
    if not lesson_trains(py.read_text(encoding="utf-8")):
        return []
    meta = read_lesson(py).metadata
    if meta.get("accelerator") == "GPU" and meta.get("colab", {}).get("gpuType"):
        return []
    return [
        f"{py.name} trains but does not ask Colab for a GPU (accelerator: GPU, colab: gpuType: "
        f"T4 in its jupytext header); run  {SET_REPOSITORY}"
    ]


def with_gpu_header(text: str) -> str:
    """A lesson's py:percent ``text`` whose jupytext header asks Colab for a GPU (unchanged if it
    already does). Raises ValueError without a ``# jupyter:`` header."""
    lines = text.split("\n")
    if "# jupyter:" not in lines[:3]:
        raise ValueError("the lesson has no jupytext header ('# ---' then '# jupyter:')")
    kept = [line for line in lines if line not in _HEADER_LINES]
    at = kept.index("# jupyter:") + 1
    return "\n".join(kept[:at] + list(_HEADER_LINES) + kept[at:])
