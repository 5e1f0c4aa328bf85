"""The signature space and eq. 6's loss curves: the slots of Sec. 4.2, the mean loss of a user's
photos against k - k* (the paper's Fig. 2 and 3), several curves on one figure or one panel each,
and the gradient search.

Each figure has a pure function under it that computes what is drawn (``loss_offsets``,
``panel_title``, ``key_colors``), so tests check the numbers without looking at pixels. A
"result" is anything with ``signatures`` and ``losses`` tensors, e.g. a ``verify.SearchResult`` or
``verify.UserVerdicts.result(u)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Optional, Union

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Wedge

from ..verify import DEFAULT_TAU, circular_distance
from .core import finish_figure

__all__ = [
    "plot_signature_slots",
    "loss_offsets",
    "plot_signature_losses",
    "key_colors",
    "plot_loss_overlay",
    "panel_title",
    "plot_loss_panels",
    "plot_gradient_search",
]

Curves = Union[Mapping[str, object], Sequence[tuple[str, object]]]


def plot_signature_slots(
    n_slots: int = 12, key: Optional[float] = None, estimate: Optional[float] = None
) -> Figure:
    """The bounded signature space of Sec. 4.2 on the hue circle: N slots of width 2*tau = 360/N.

    Slot 0 (centred on k = 0) is reserved for "no watermark", leaving N - 1 signatures. With a
    ``key`` k*, its slot is green; with an ``estimate`` k-hat, a marker shows it and the title says
    whether it matches,
    |k-hat - k*| < tau measured on the circle (Sec. 4.2).

    Args:
        n_slots: N, the number of slots (the paper's N = 12, tau = 15 degrees).
        key: the user's private signature k* in degrees.
        estimate: the arbitrator's inferred signature k-hat in degrees.
    """
    if int(n_slots) != n_slots or n_slots < 2:
        raise ValueError(f"n_slots must be an integer >= 2; got {n_slots}.")
    n_slots = int(n_slots)
    width = 360.0 / n_slots
    tau = width / 2
    fig, ax = plt.subplots(figsize=(4.4, 4.6))
    for s in range(n_slots):
        centre = s * width
        colour = "0.8" if s == 0 else "#cfe0f5"
        if key is not None and circular_distance(centre, key) < tau:
            colour = "#7bc47f"
        ax.add_patch(
            Wedge(
                (0, 0),
                1.0,
                centre - tau,
                centre + tau,
                width=0.35,
                facecolor=colour,
                edgecolor="white",
                lw=1,
            )
        )
        if n_slots <= 36:
            t = math.radians(centre)
            ax.text(
                1.13 * math.cos(t),
                1.13 * math.sin(t),
                f"{centre:g}",
                ha="center",
                va="center",
                fontsize=7,
            )
    ax.text(0, 0.08, f"N = {n_slots} slots", ha="center", fontsize=10)
    ax.text(0, -0.08, f"2τ = {width:g}°", ha="center", fontsize=10)
    title = f"{n_slots - 1} signatures + 'no watermark'"
    if key is not None:
        t = math.radians(key)
        ax.plot(
            [0.55 * math.cos(t), 1.02 * math.cos(t)],
            [0.55 * math.sin(t), 1.02 * math.sin(t)],
            color="darkgreen",
            lw=2,
        )
    if estimate is not None:
        t = math.radians(estimate)
        ax.plot([0.6 * math.cos(t)], [0.6 * math.sin(t)], marker="s", color="black", ms=7)
        if key is not None:
            d = circular_distance(estimate, key)
            title = (
                rf"$k^*$ = {key:g}°, $\hat{{k}}$ = {estimate:g}°: $|\hat{{k}} - k^*|$ = {d:g}° "
                rf"{'<' if d < tau else '≥'} τ = {tau:g}° → {'match' if d < tau else 'miss'}"
            )
    ax.set_xlim(-1.25, 1.25)
    ax.set_ylim(-1.25, 1.25)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return finish_figure(fig)


def loss_offsets(result, k_star: float) -> tuple[np.ndarray, np.ndarray]:
    """What a loss curve draws: x = k - k* wrapped to [-180, 180) in increasing order, y = the mean
    loss at each of those signatures (eq. 6's terms)."""
    signatures = result.signatures.double()
    offsets = torch.remainder(signatures - k_star + 180.0, 360.0) - 180.0
    order = torch.argsort(offsets)
    return offsets[order].cpu().numpy(), result.losses[order].double().cpu().numpy()


def plot_signature_losses(
    result,
    k_star: float,
    tau: float = DEFAULT_TAU,
    ax: Optional[Axes] = None,
    label: Optional[str] = None,
    color: str = "tab:blue",
) -> Figure:
    """The paper's Fig. 2 plot: mean loss of the user's images against k - k*, with the match band
    and k_hat.

    x = k - k* wrapped to [-180, 180) (:func:`loss_offsets`); a green band where |k - k*| < tau; a
    square marker at the argmin (the inferred signature). ``result`` is a ``verify.SearchResult``.
    Draws on ``ax`` when given (to overlay several users), else on a new figure; returns the figure.
    """
    x, y = loss_offsets(result, k_star)
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(6, 3.5))
    fig = ax.figure
    if not any(getattr(p, "_anw_band", False) for p in ax.patches):
        band = ax.axvspan(
            -tau, tau, color="tab:green", alpha=0.2, label=f"match: |k - k*| < {tau:g}"
        )
        band._anw_band = True
    ax.plot(x, y, "o-", color=color, label=label, ms=4)
    best = int(np.argmin(y))
    ax.plot(x[best], y[best], "s", color=color, ms=11, mfc="none", mew=2)
    ax.set_xlabel("k - k*  (degrees)")
    ax.set_ylabel("mean loss on the user's images")
    ax.set_xticks(np.arange(-180, 181, 60))
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    if own:
        fig.tight_layout()
        return finish_figure(fig)
    return fig


def key_colors(keys: Sequence[float]) -> list[tuple[float, float, float, float]]:
    """One colour per key on the cyclic "twilight" map (k and k + 360 get the same colour), so that
    neighbouring keys get neighbouring colours (Fig. 2d-f)."""
    cmap = plt.get_cmap("twilight")
    return [cmap((float(k) % 360.0) / 360.0) for k in keys]


def _labelled(curves: Curves, what: str) -> list[tuple[str, object]]:
    pairs = list(curves.items()) if isinstance(curves, Mapping) else [tuple(c) for c in curves]
    if not pairs:
        raise ValueError(f"{what} needs at least one (label, result) curve; got none.")
    return pairs


def _per_curve(values, n: int, what: str) -> list:
    """``values`` as one value per curve: a number is repeated, a sequence must have n items."""
    if isinstance(values, (int, float)) or (hasattr(values, "ndim") and values.ndim == 0):
        return [float(values)] * n
    if isinstance(values, str) or not hasattr(values, "__len__") or len(values) != n:
        raise ValueError(f"{what}: got {values!r}; give one value per curve ({n}).")
    return list(values)


def plot_loss_overlay(
    curves: Curves,
    k_star: Union[float, Sequence[float]],
    tau: float = DEFAULT_TAU,
    colors: Optional[Sequence] = None,
    title: Optional[str] = None,
    legend_columns: int = 1,
    size: tuple[float, float] = (7.0, 4.0),
) -> Figure:
    """Several loss curves of eq. 6 on one axes, each against its own k - k* (Fig. 2a-h, 3g-h).

    Args:
        curves: label -> result, or a list of (label, result) pairs (labels may then repeat).
        k_star: the key of every curve, or one key per curve (users with different keys).
        tau: the match tolerance (green band).
        colors: one colour per curve (e.g. :func:`key_colors`); default the tab10 cycle.
        title: the axes' title.
        legend_columns: columns of the legend (2 for many curves).
        size: the figure size in inches.
    """
    pairs = _labelled(curves, "plot_loss_overlay")
    keys = _per_curve(k_star, len(pairs), "k_star")
    if colors is None:
        cycle = plt.get_cmap("tab10").colors
        colors = [cycle[i % len(cycle)] for i in range(len(pairs))]
    colors = _per_curve(colors, len(pairs), "colors")
    fig, ax = plt.subplots(figsize=size)
    for (label, result), key, color in zip(pairs, keys, colors):
        plot_signature_losses(result, key, tau=tau, ax=ax, label=label, color=color)
    if legend_columns != 1:
        ax.legend(fontsize=7, ncol=legend_columns)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return finish_figure(fig)


def panel_title(name: str, result, k_star: float, tau: float = DEFAULT_TAU) -> str:
    """A panel's title: the variant, its k_hat and its loss gap (``SearchResult.gap``)."""
    return f"{name}\nk_hat = {result.best:g}, gap {result.gap(k_star, tau):+.3f}"


def plot_loss_panels(
    reference,
    curves: Curves,
    k_star: float,
    tau: float = DEFAULT_TAU,
    reference_label: str = "baseline",
    suptitle: Optional[str] = None,
) -> Figure:
    """One panel per curve, each over the ``reference`` curve in grey (Fig. 3: each learner-side
    augmentation against the baseline), titled by :func:`panel_title`."""
    pairs = _labelled(curves, "plot_loss_panels")
    fig, axes = plt.subplots(1, len(pairs), figsize=(4.6 * len(pairs), 3.4), squeeze=False)
    for ax, (name, result) in zip(axes[0], pairs):
        plot_signature_losses(
            reference, k_star, tau=tau, ax=ax, label=reference_label, color="tab:gray"
        )
        plot_signature_losses(result, k_star, tau=tau, ax=ax, label=name)
        ax.set_title(panel_title(name, result, k_star, tau), fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return finish_figure(fig)


def plot_gradient_search(
    result, k_star: Optional[float] = None, tau: float = DEFAULT_TAU
) -> Figure:
    """Gradient-search trajectories (Sec. 4.2): signature and loss against step, one line per start.

    ``result`` is a ``verify.GradientSearchResult``; the user's k* (if revealed) is drawn with its
    band.
    """
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.5))
    traj, losses = result.trajectories.cpu().numpy(), result.loss_trajectories.cpu().numpy()
    for i in range(traj.shape[1]):
        a.plot(traj[:, i], ".-", ms=3, label=f"start {result.inits[i]:.0f}")
        b.plot(losses[:, i], ".-", ms=3)
    if k_star is not None:
        a.axhspan(k_star - tau, k_star + tau, color="tab:green", alpha=0.2, label="k* ± tau")
    a.set_xlabel("step")
    a.set_ylabel("signature k (degrees)")
    a.set_ylim(0, 360)
    a.legend(fontsize=7, ncol=2)
    b.set_xlabel("step")
    b.set_ylabel("mean loss")
    for ax in (a, b):
        ax.grid(alpha=0.3)
    fig.suptitle(f"gradient search: k_hat = {result.best:.1f}")
    fig.tight_layout()
    return finish_figure(fig)
