"""Lesson 09's figures: how convincing a match is (per-photo scores, the permutation test's null
distribution, calibration over innocent users, the p-value against the number of photos, a
LiRA-style ROC).

Under each figure a pure function computes what is drawn (``score_density``, ``null_title``,
``rejection_curve``), so tests check the numbers without a figure. A test result is anything with
the fields of ``stats.TestResult`` (``null``, ``statistic``, ``p_value``, ``p_floor``,
``n_permutations``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Optional

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from .core import finish_figure

__all__ = [
    "SCORE_BINS",
    "score_density",
    "plot_score_histograms",
    "null_title",
    "plot_null_distribution",
    "rejection_curve",
    "plot_calibration",
    "plot_p_by_photos",
    "plot_roc",
]

#: Bins of the per-photo score s_i in [-1, 1] (a gain in the probability of the true class).
SCORE_BINS = np.linspace(-1, 1, 41)


def _numpy(values) -> np.ndarray:
    return torch.as_tensor(values).detach().cpu().double().flatten().numpy()


def score_density(scores, bins: np.ndarray = SCORE_BINS) -> np.ndarray:
    """The histogram ``plot_score_histograms`` draws: the density of the scores in each bin."""
    return np.histogram(_numpy(scores), bins=bins, density=True)[0]


def plot_score_histograms(
    reference, user, reference_label: str, user_label: str, bins: np.ndarray = SCORE_BINS
) -> Figure:
    """The per-photo scores s_i of the reference photos (grey) and the user's (green), as densities
    on a log scale (lesson 09, section 2)."""
    fig, ax = plt.subplots(figsize=(7, 3.2))
    for values, color, label in (
        (reference, "tab:gray", reference_label),
        (user, "tab:green", user_label),
    ):
        ax.hist(_numpy(values), bins=bins, density=True, alpha=0.6, color=color, label=label)
    ax.set_yscale("log")
    ax.set_xlabel(r"score $s_i$ = P(true class | hue $k^*$) $-$ P(true class | clean)")
    ax.set_ylabel("density (log)")
    ax.set_title("Per-photo scores")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return finish_figure(fig)


def null_title(test) -> str:
    """The null-distribution figure's title: the p-value, as "<=" when it sits on the floor
    1 / (B + 1) of B relabellings."""
    relation = "<=" if test.p_value <= test.p_floor else "="
    return f"Null distribution and the watermarked user: p {relation} {test.p_value:.2g}"


def plot_null_distribution(test, bins: int = 80) -> Figure:
    """A permutation test's null distribution (its random relabellings) and the observed statistic
    (lesson 09, section 3). The test must have kept its null (``keep_null=True``)."""
    if test.null is None:
        raise ValueError(
            "this test result kept no null distribution; run the test with keep_null=True."
        )
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.hist(
        _numpy(test.null),
        bins=bins,
        color="tab:gray",
        label=f"{test.n_permutations:,} random relabellings (H0)",
    )
    ax.axvline(test.statistic, color="tab:green", lw=2, label=f"observed: {test.statistic:+.3f}")
    ax.set_yscale("log")
    ax.set_xlabel("class-matched difference of mean scores, user - reference")
    ax.set_ylabel("relabellings (log)")
    ax.set_title(null_title(test))
    ax.legend(fontsize=8)
    fig.tight_layout()
    return finish_figure(fig)


def rejection_curve(p_values, alphas: np.ndarray) -> np.ndarray:
    """The share of p-values at or below each alpha: the false-accusation rate of innocent users at
    level alpha (a calibrated test has rate <= alpha)."""
    p = _numpy(p_values)
    if p.size == 0:
        raise ValueError("rejection_curve needs at least one p-value; got none.")
    return np.array([(p <= a).mean() for a in np.asarray(alphas, dtype=float)])


def plot_calibration(
    curves: Sequence[tuple[str, object, str, str]], alphas: Optional[np.ndarray] = None
) -> Figure:
    """Calibration over innocent users (lesson 11): the share accused against alpha, one
    step line per ``(label, p_values, colour, linestyle)``, with the diagonal of a calibrated test.
    """
    if not curves:
        raise ValueError("plot_calibration needs at least one (label, p_values, colour, style).")
    alphas = np.logspace(-4, 0, 200) if alphas is None else np.asarray(alphas, dtype=float)
    fig, ax = plt.subplots(figsize=(5, 4))
    for label, p_values, color, style in curves:
        ax.step(
            alphas,
            rejection_curve(p_values, alphas),
            where="post",
            label=label,
            color=color,
            ls=style,
        )
    ax.plot([1e-4, 1], [1e-4, 1], "k--", lw=1, label="calibrated: rate = alpha")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(1e-3, 1)
    ax.set_ylim(1e-3, 1)
    ax.set_xlabel("alpha")
    ax.set_ylabel("share of innocent users accused")
    ax.set_title("Calibration over innocent users")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return finish_figure(fig)


def plot_p_by_photos(
    sizes: Sequence[int],
    median: Sequence[float],
    lower: Sequence[float],
    upper: Sequence[float],
    floor: float,
    alphas: Sequence[float] = (0.05, 0.01),
) -> Figure:
    """The p-value against the number of photos a user brings (lesson 09, section 5): the median
    over sub-users with its quartile band, the levels alpha and the permutation floor."""
    n = len(sizes)
    if n == 0 or not (len(median) == len(lower) == len(upper) == n):
        raise ValueError(
            f"need one median and quartile per size; got {n} sizes, {len(median)} medians, "
            f"{len(lower)} and {len(upper)} quartiles."
        )
    fig, ax = plt.subplots(figsize=(6, 3.5))
    label = "median over sub-users of the watermarked user"
    ax.plot(sizes, median, "o-", color="tab:green", label=label)
    ax.fill_between(sizes, lower, upper, color="tab:green", alpha=0.2, label="quartiles")
    for alpha, style in zip(alphas, (":", "--", "-.")):
        ax.axhline(alpha, color="k", ls=style, lw=1, label=f"alpha = {alpha}")
    ax.axhline(
        floor, color="tab:gray", lw=1, label=f"floor of {round(1 / floor) - 1:,} relabellings"
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(list(sizes), [str(s) for s in sizes])
    ax.xaxis.set_minor_locator(plt.NullLocator())
    ax.set_xlabel("photos the user brings (n)")
    ax.set_ylabel("p-value")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return finish_figure(fig)


def plot_roc(
    curves: Mapping[int, tuple[object, object]],
    tpr_at: Mapping[int, tuple[float, float]],
) -> Figure:
    """LiRA-style ROC on log-log axes (lesson 09, section 5): per number of photos n, the (FPR, TPR)
    curve of ``stats.roc_curve``, labelled with its TPR at 1 % and 0.1 % FPR (``tpr_at[n]``)."""
    if not curves or set(curves) != set(tpr_at):
        raise ValueError(
            f"need a curve and its TPRs for every n; got curves for {sorted(curves)} and TPRs for "
            f"{sorted(tpr_at)}."
        )
    fig, ax = plt.subplots(figsize=(5, 4.5))
    colors = ("tab:orange", "tab:blue", "tab:green", "tab:red", "tab:purple")
    for (n, (fpr, tpr)), color in zip(curves.items(), colors * len(curves)):
        at1, at01 = tpr_at[n]
        ax.plot(
            _numpy(fpr),
            _numpy(tpr),
            color=color,
            label=f"n = {n}: TPR {at1:.0%} at 1 % FPR, {at01:.0%} at 0.1 %",
        )
    ax.plot([1e-5, 1], [1e-5, 1], "k--", lw=1, label="chance")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(1e-4, 1)
    ax.set_ylim(1e-3, 1.05)
    ax.set_xlabel("false-positive rate (innocent users)")
    ax.set_ylabel("true-positive rate (watermarked sub-users)")
    ax.set_title("ROC, log-log (as in LiRA)")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return finish_figure(fig)
