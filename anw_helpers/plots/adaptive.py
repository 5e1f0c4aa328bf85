"""Lesson 10's figures and tables: the marks side by side, eq. 6's curves per learner, the
detector's AUC per key, and the result tables (what each helper draws is computed by
:mod:`anw_helpers.adaptive`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from torch import Tensor

from ..verify import DEFAULT_TAU
from .core import finish_figure
from .images import show_grid
from .signatures import plot_signature_losses
from .tables import markdown_table, yes_no

__all__ = [
    "plot_marks",
    "plot_mark_curves",
    "plot_detection",
    "recipes_table",
    "mark_verdict_table",
    "jpeg_survival_table",
    "mark_comparison_table",
]


def plot_marks(photos: Tensor, versions: Mapping[str, Tensor], psnr: Mapping[str, float]) -> Figure:
    """One row per photo: the original, then each marked version, titled with its median PSNR."""
    if not versions:
        raise ValueError("plot_marks needs at least one marked version.")
    names = list(versions)
    rows = [[photos[i]] + [versions[n][i] for n in names] for i in range(len(photos))]
    titles = ["original"] + [f"{n}\n{psnr[n]:.1f} dB" for n in names]
    return show_grid(rows, col_titles=titles, size=1.5)


def plot_mark_curves(verdicts: Mapping[str, Sequence], tau: float = DEFAULT_TAU) -> Figure:
    """One panel per learner: eq. 6's loss curve (against k - k*) of every LCT user, on the photos
    each published with k* (``adaptive.mark_verdicts`` rows with ``losses``)."""
    if not verdicts:
        raise ValueError("plot_mark_curves needs at least one learner's verdicts.")
    fig, axes = plt.subplots(1, len(verdicts), figsize=(4.8 * len(verdicts), 3.6), squeeze=False)
    colors = plt.get_cmap("tab10").colors
    for ax, (learner, rows) in zip(axes[0], verdicts.items()):
        curves = [r for r in rows if r.losses is not None]
        for i, row in enumerate(curves):
            label = f"{row.user} (k_hat {row.k_hat:g})"
            plot_signature_losses(row.losses, row.key, tau, ax, label, colors[i % len(colors)])
        ax.set_title(f"{learner} learner", fontsize=10)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return finish_figure(fig)


def plot_detection(detection) -> Figure:
    """The detector's ROC AUC against the key for the YIQ and own-colour-space marks, the blend
    mark's AUC as a line, chance at 0.5 (``adaptive.Detection``)."""
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for name, by_key, style in (("YIQ", detection.yiq, "o-"), ("own T", detection.own, "s-")):
        keys = sorted(by_key)
        ax.plot(keys, [by_key[k] for k in keys], style, label=f"{name} mark")
    ax.axhline(detection.blend, color="tab:green", label="blend mark (no key)")
    ax.axhline(0.5, color="gray", linestyle=":", label="chance")
    ax.set(xlabel="key k* (degrees)", ylabel="ROC AUC", ylim=(0.3, 1.02))
    ax.set_xticks(sorted(detection.yiq))
    ax.set_title("Can colour statistics find the marked photos?", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return finish_figure(fig)


def recipes_table(recipes: Mapping[str, tuple[dict, str]], trained: Sequence[str]) -> str:
    """Lesson 10's learners: name, what the recipe does, whether this profile trains it."""
    rows = [(n, what, "yes" if n in trained else "no") for n, (_, what) in recipes.items()]
    return markdown_table(["learner", "recipe", "trained in this profile"], rows)


def _p(p: float) -> str:
    return f"{p:.2g}" if p >= 0.001 else f"{p:.0e}"


def _eq6_cell(row) -> str:
    """k_hat on the photos published with k*, and whether it matches (LCT marks only)."""
    return "—" if row.losses is None else f"k̂ = {row.k_hat:g} ({yes_no(row.match)})"


def _twin_cell(row) -> str:
    """Wins of the published twins over the kept ones, and the binomial p-value."""
    if row.twin is None:
        return "no twins (no mark)"
    return f"{row.twin.wins}/{row.twin.n} win, p = {_p(row.twin.p_value)}"


def _innocent_cell(row) -> str:
    """The twin test's false positives over innocent users, with the Clopper-Pearson interval."""
    if row.innocent is None:
        return "—"
    r = row.innocent
    return f"{r.count}/{r.n} ({100 * r.low:.1f}-{100 * r.high:.1f} %)"


def mark_verdict_table(verdicts: Mapping[str, Sequence]) -> str:
    """Every user under every test on every learner (``adaptive.mark_verdicts``): eq. 6, the
    kept-twin test and its false positives over innocent users, the set-level membership test,
    and what the evidence is credited to (``twins.credit``)."""
    rows = []
    for learner, found in verdicts.items():
        for row in found:
            rows.append(
                [
                    learner,
                    row.user,
                    _eq6_cell(row),
                    _twin_cell(row),
                    _innocent_cell(row),
                    f"p = {_p(row.membership_p)}",
                    row.credit.value,
                ]
            )
    header = [
        "learner",
        "user",
        "eq. 6 (photos at k*)",
        "kept-twin test",
        "innocent users rejected (95 % CI)",
        "membership (test split)",
        "credited to",
    ]
    return markdown_table(header, rows)


def jpeg_survival_table(survival: Mapping[int, object], key: float, alpha: float) -> str:
    """What each mark keeps after JPEG (``adaptive.jpeg_survival``)."""
    rows = [
        (
            q,
            f"{s.yiq_degrees:.1f}° (key {key:g}°)",
            f"{100 * s.blend_fraction:.0f} % of α = {alpha:g}",
        )
        for q, s in sorted(survival.items(), reverse=True)
    ]
    return markdown_table(
        ["JPEG quality", "YIQ rotation the photos carry", "blend pattern left"], rows
    )


def mark_comparison_table(
    verdicts: Mapping[str, Sequence],
    psnr: Mapping[str, float],
    survival: Mapping[int, object],
    detection,
    key: float,
    fraction: float,
) -> str:
    """Lesson 10's side-by-side at equal cost: per mark (and the unmarked user) its visibility
    (median PSNR), the share of the training set it marks (``fraction``), what it is credited with
    on every learner (``twins.credit``), what JPEG at the lowest quality leaves, and the detector's
    AUC at ``key``."""
    worst = survival[min(survival)]
    by_mark = {
        "YIQ": ("YIQ", f"{worst.yiq_degrees:.0f}° of {key:g}°", f"{detection.yiq[key]:.2f}"),
        "own T": ("own", "see section 5", f"{detection.own[key]:.2f}"),
        "blend": ("blend", f"{100 * worst.blend_fraction:.0f} %", f"{detection.blend:.2f}"),
        "none": (None, "—", "—"),
    }
    learners = list(verdicts)
    rows = []
    for mark, (prefix, jpeg, found) in by_mark.items():
        version = next((n for n in psnr if prefix and n.startswith(prefix)), None)
        cells = []
        for name in learners:
            row = next(r for r in verdicts[name] if r.mark == mark)
            cells.append(f"{row.credit.value} ({_twin_cell(row)})")
        seen = "—" if version is None else f"{psnr[version]:.1f} dB"
        rows.append([mark, seen, f"{100 * fraction:.1f} %", *cells, jpeg, found])
    header = [
        "mark",
        "PSNR",
        "marked share of the training set",
        *(f"{n} learner: credited to" for n in learners),
        f"after JPEG q{min(survival)}",
        "detector AUC",
    ]
    return markdown_table(header, rows)
