"""Lesson 07's figures (Sec. 5.4, Fig. 5a): many users on one learner.

``matching_curves`` and ``user_loss_curves`` compute what the figures draw, so tests check them
without a figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Optional

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from ..verify import DEFAULT_TAU
from .core import finish_figure

__all__ = [
    "MATCHING_LINES",
    "matching_curves",
    "plot_matching_accuracy",
    "user_loss_curves",
    "plot_user_loss_curves",
]

#: The three lines of Fig. 5a, in the order of a row's columns after f: (label, matplotlib style).
MATCHING_LINES = (
    ("same LCT (YIQ)", "o-"),
    ("own LCT per user", "s-"),
    ("adversary: arbitrary LCT", "^--"),
)


def matching_curves(
    rows: Sequence[Sequence[float]],
) -> tuple[list[float], dict[str, list[float]]]:
    """The fractions f and, per line of Fig. 5a, its matching accuracies, from rows
    ``(f, same LCT, own LCT, adversary)`` (one row per fraction)."""
    rows = [tuple(float(v) for v in r) for r in rows]
    if not rows or any(len(r) != 1 + len(MATCHING_LINES) for r in rows):
        raise ValueError(
            "rows must be (f, same LCT, own LCT, adversary) tuples, at least one; got "
            f"{[len(r) for r in rows]} columns."
        )
    return [r[0] for r in rows], {
        label: [r[1 + i] for r in rows] for i, (label, _) in enumerate(MATCHING_LINES)
    }


def plot_matching_accuracy(
    rows: Sequence[Sequence[float]], title: Optional[str] = None, chance: float = 1 / 12
) -> Figure:
    """Fig. 5a: matching accuracy against the fraction f of users who watermark, for the same LCT,
    one LCT per user and an adversary who verifies in an arbitrary colour space; chance dotted."""
    fractions, curves = matching_curves(rows)
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for label, style in MATCHING_LINES:
        ax.plot(fractions, curves[label], style, label=label)
    ax.axhline(chance, color="grey", ls=":", label=f"chance (1/{round(1 / chance)})")
    ax.set_xlabel("fraction f of users who watermark")
    ax.set_ylabel("matching accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(0, 1.05)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return finish_figure(fig)


def user_loss_curves(verdicts) -> list[tuple[np.ndarray, np.ndarray, bool]]:
    """Per user of a ``verify.UserVerdicts``: (x, mean loss, watermarks?), x = k - k* wrapped to
    [-180, 180) for a watermarking user and x = k for the others (key NaN), in increasing x."""
    curves = []
    for u in range(len(verdicts.names)):
        marking = not bool(torch.isnan(verdicts.keys[u]))
        centre = verdicts.keys[u] if marking else 0.0
        offsets = torch.remainder(verdicts.signatures - centre + 180.0, 360.0) - 180.0
        order = torch.argsort(offsets)
        losses = verdicts.losses[u][order].cpu().numpy()
        curves.append((offsets[order].cpu().numpy(), losses, marking))
    return curves


def plot_user_loss_curves(conditions: Mapping[str, object], tau: float = DEFAULT_TAU) -> Figure:
    """One panel per condition (name -> ``verify.UserVerdicts``): every user's loss curve, blue for
    watermarking users (x = k - k*), grey for the others (x = k), with the match band."""
    if not conditions:
        raise ValueError("plot_user_loss_curves needs at least one condition; got none.")
    fig, axes = plt.subplots(
        1, len(conditions), figsize=(5.5 * len(conditions), 3.6), sharey=True, squeeze=False
    )
    for ax, (name, verdicts) in zip(axes[0], conditions.items()):
        for x, y, marking in user_loss_curves(verdicts):
            ax.plot(
                x,
                y,
                "-",
                color="tab:blue" if marking else "tab:grey",
                alpha=0.8 if marking else 0.35,
                lw=1.2,
            )
        ax.axvspan(-tau, tau, color="tab:green", alpha=0.2)
        ax.set_title(f"{name}: blue = watermarking users (x = k - k*), grey = others (x = k)")
        ax.set_xlabel("k - k*  (degrees)")
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("mean loss on the user's photos")
    fig.tight_layout()
    return finish_figure(fig)
