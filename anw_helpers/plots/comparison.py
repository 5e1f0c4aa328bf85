"""Figures for lesson 08 (paper Sec. 5.5-5.6, Fig. 5b-c): membership inference, protection
advantage, memorisation.

Like every module of :mod:`anw_helpers.plots`: each function draws one static figure from tensors
and returns it closed in pyplot (a notebook ``display()``s it once).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Optional

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from torch import Tensor

from .core import finish_figure

__all__ = [
    "METHOD_COLORS",
    "plot_mia_thresholds",
    "plot_protection_advantage",
    "plot_memorisation",
]

#: Fig. 5c's colour per method (lesson 08's names); other methods are drawn in blue.
METHOD_COLORS = {
    "ANW (p = 1/12)": "tab:green",
    "MIA-std": "tab:blue",
    "MIA-pow": "tab:orange",
    "MIA, user's shadow": "tab:red",
}


def plot_mia_thresholds(
    member_losses: Sequence[Tensor],
    nonmember_losses: Sequence[Tensor],
    shadow_thresholds: Sequence[float],
    user_labels: Sequence[str],
    global_thresholds: Optional[Mapping[str, float]] = None,
) -> Figure:
    """Fig. 5b: per user, the learner's losses on her photos (members) and on as many photos it
    never saw (non-members), with the threshold of her shadow model (red bar) and thresholds that
    need knowledge of the learner's data (dashed lines). Log scale, losses and thresholds below 1e-5
    drawn at 1e-5: a loss below the threshold is called "in"."""
    n = len(user_labels)
    if not (len(member_losses) == len(nonmember_losses) == len(shadow_thresholds) == n) or n == 0:
        raise ValueError(
            f"need one entry per user in every argument; got {len(member_losses)}, "
            f"{len(nonmember_losses)}, {len(shadow_thresholds)} and {n} labels."
        )
    fig, ax = plt.subplots(figsize=(max(7.0, 0.75 * n + 4), 4))
    rng = np.random.default_rng(0)
    floor = 1e-5
    for i in range(n):
        for losses, dx, color, label in (
            (member_losses[i], -0.17, "tab:green", "members (trained on)"),
            (nonmember_losses[i], 0.17, "tab:gray", "non-members (never seen)"),
        ):
            y = np.clip(np.asarray(losses, dtype=float), floor, None)
            ax.scatter(
                i + dx + rng.uniform(-0.07, 0.07, len(y)),
                y,
                s=9,
                color=color,
                alpha=0.7,
                label=label if i == 0 else None,
            )
        ax.hlines(
            max(float(shadow_thresholds[i]), floor),
            i - 0.38,
            i + 0.38,
            color="tab:red",
            lw=2.5,
            label="the user's shadow threshold" if i == 0 else None,
        )
    styles = ["--", ":", "-."]
    for j, (name, value) in enumerate((global_thresholds or {}).items()):
        ax.axhline(value, color=f"C{j}", ls=styles[j % 3], lw=1.2, label=f"{name} threshold")
    ax.set_yscale("log")
    ax.set_xticks(range(n), user_labels, fontsize=8)
    ax.set_xlabel("user (number of photos)")
    ax.set_ylabel("learner's loss (cross-entropy, log)")
    ax.set_title('below a threshold: called "in the training set"', fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return finish_figure(fig)


def plot_protection_advantage(
    advantages: Mapping[str, float], colors: Optional[Mapping[str, str]] = None
) -> Figure:
    """Fig. 5c: the protection advantage adv^P of eq. 7 for each method, one bar each (0: no better
    than a guess); ``colors`` (method -> colour) defaults to :data:`METHOD_COLORS`."""
    if not advantages:
        raise ValueError("advantages is empty; give at least one method's adv^P.")
    names, values = list(advantages), [float(v) for v in advantages.values()]
    fig, ax = plt.subplots(figsize=(max(5.0, 1.2 * len(names) + 1), 3.5))
    palette = METHOD_COLORS if colors is None else colors
    bars = ax.bar(range(len(names)), values, color=[palette.get(n, "tab:blue") for n in names])
    for bar, v in zip(bars, values):
        ax.text(
            bar.get_x() + bar.get_width() / 2,
            v + (0.02 if v >= 0 else -0.06),
            f"{v:.2f}",
            ha="center",
            fontsize=9,
        )
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(range(len(names)), names, fontsize=8)
    ax.set_ylabel(r"adv$^P$ = (M $-$ N p) / N")
    ax.set_ylim(min(-0.1, min(values) - 0.1), 1.0)
    ax.set_title("Protection advantage (eq. 7)", fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return finish_figure(fig)


def plot_memorisation(estimates: Mapping[str, tuple[float, float]], title: str) -> Figure:
    """Sec. 5.6: mean memorisation (Feldman-Zhang estimate) per group, with +- one standard
    error."""
    if not estimates:
        raise ValueError("estimates is empty; give at least one group's (mean, standard error).")
    names = list(estimates)
    means = [estimates[n][0] for n in names]
    errors = [estimates[n][1] for n in names]
    fig, ax = plt.subplots(figsize=(max(5.0, 1.5 * len(names) + 1), 3.5))
    ax.bar(
        range(len(names)),
        means,
        yerr=errors,
        capsize=5,
        color=["tab:gray", "tab:green", "tab:blue"][: len(names)],
    )
    for i, (m, e) in enumerate(zip(means, errors)):
        ax.text(i, m + e + 0.02, f"{m:.2f}", ha="center", fontsize=9)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(range(len(names)), names, fontsize=8)
    ax.set_ylabel("mem(x): P[correct | in] - P[correct | out]")
    ax.set_ylim(min(-0.1, min(means) - 0.2), 1.0)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return finish_figure(fig)
