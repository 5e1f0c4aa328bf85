"""Tests of the figures and tables of lessons 05-09 (anw_helpers.plots), headless (Agg).

Each helper gets small synthetic inputs shaped like the lesson's data (SearchResult and UserVerdicts
rows, stats test results, MIA results, the lessons' row dicts); figures are checked through their
artists (lines, labels, titles), tables through their rows.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from anw_helpers import membership, plots, stats, verify  # noqa: E402
from anw_helpers.color import SIGNATURE_SLOTS  # noqa: E402
from tools.course import INLINE_FIGURE  # noqa: E402

SLOTS = torch.tensor(SIGNATURE_SLOTS, dtype=torch.float64)
LESSONS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.py"))


def v_curve(k_min: float, depth: float = 0.5) -> verify.SearchResult:
    """A grid-search result whose loss is lowest at k_min and grows with the distance to it."""
    losses = 1.0 + depth * verify.circular_distance(SLOTS, k_min) / 180.0
    return verify.SearchResult(SLOTS.clone(), losses)


def rows_of(table: str) -> list[list[str]]:
    """The cells of a Markdown table's body (header and separator dropped)."""
    lines = table.split("\n\n")[0].splitlines()
    return [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]


def legend_texts(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


# ------------------------------------------------------------------------------ eq. 6 loss curves
def test_loss_offsets_centres_the_curve_on_the_key():
    x, y = plots.loss_offsets(v_curve(60.0), 60.0)
    assert list(x) == sorted(x) and x[0] == -180 and x[-1] == 150
    assert y[list(x).index(0.0)] == pytest.approx(1.0)  # the minimum sits at k - k* = 0
    assert y.min() == pytest.approx(1.0) and len(x) == 12


def test_loss_overlay_draws_one_curve_per_user_at_its_own_key():
    curves = [("50 photos", v_curve(60.0)), ("20 photos", v_curve(150.0)), ("2 photos", v_curve(0))]
    fig = plots.plot_loss_overlay(
        curves, [60.0, 150.0, 90.0], colors=plots.key_colors([60, 150, 90]), title="Fig. 2a-c"
    )
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    curve_lines = [line for line in ax.lines if line.get_marker() == "o"]
    assert len(curve_lines) == 3 and ax.get_title() == "Fig. 2a-c"
    for line, (label, result), key in zip(curve_lines, curves, [60.0, 150.0, 90.0]):
        x, y = plots.loss_offsets(result, key)
        np.testing.assert_allclose(line.get_xdata(), x)
        np.testing.assert_allclose(line.get_ydata(), y)
        assert line.get_label() == label
    # the 2-photo user's minimum lies at 0, i.e. at k - k* = -90: its square marker says so
    squares = [line for line in ax.lines if line.get_marker() == "s"]
    assert [float(s.get_xdata()[0]) for s in squares] == [0.0, 0.0, -90.0]
    assert "match: |k - k*| < 15" in legend_texts(ax)
    assert len([p for p in ax.patches if getattr(p, "_anw_band", False)]) == 1


def test_loss_overlay_takes_a_mapping_one_key_and_legend_columns():
    fig = plots.plot_loss_overlay({"a": v_curve(60.0), "b": v_curve(30.0)}, 60.0, legend_columns=2)
    assert fig.axes[0].get_legend()._ncols == 2
    assert [t for t in legend_texts(fig.axes[0]) if t in "ab"] == ["a", "b"]


def test_loss_overlay_refuses_mismatched_inputs():
    with pytest.raises(ValueError, match="one value per curve"):
        plots.plot_loss_overlay([("a", v_curve(60.0))], [60.0, 90.0])
    with pytest.raises(ValueError, match="one value per curve"):
        plots.plot_loss_overlay([("a", v_curve(60.0)), ("b", v_curve(0))], 60.0, colors=["red"])
    with pytest.raises(ValueError, match="at least one"):
        plots.plot_loss_overlay([], 60.0)


def test_key_colors_are_cyclic():
    a, b, c = plots.key_colors([30.0, 390.0, 210.0])
    assert a == b and a != c and len(a) == 4


def test_loss_panels_put_each_variant_over_the_baseline():
    baseline, jitter, noise = v_curve(60.0, 0.8), v_curve(90.0, 0.2), v_curve(60.0, 0.4)
    fig = plots.plot_loss_panels(
        baseline, {"colour jitter": jitter, "noise": noise}, 60.0, suptitle="Fig. 3"
    )
    assert len(fig.axes) == 2 and fig._suptitle.get_text() == "Fig. 3"
    assert fig.axes[0].get_title() == plots.panel_title("colour jitter", jitter, 60.0)
    assert fig.axes[0].get_title().startswith("colour jitter\nk_hat = 90, gap ")
    assert f"{jitter.gap(60.0):+.3f}" in fig.axes[0].get_title()
    for ax, variant in zip(fig.axes, (jitter, noise)):
        curves = [line for line in ax.lines if line.get_marker() == "o"]
        assert [c.get_label() for c in curves][0] == "baseline"
        # each panel: the baseline's curve under the variant's, told apart at a glance
        for line, result in zip(curves, (baseline, variant)):
            x, y = plots.loss_offsets(result, 60.0)
            np.testing.assert_allclose(line.get_xdata(), x)
            np.testing.assert_allclose(line.get_ydata(), y)
        assert curves[0].get_color() != curves[1].get_color()
    with pytest.raises(ValueError, match="at least one"):
        plots.plot_loss_panels(baseline, {}, 60.0)


# ----------------------------------------------------------------------------------- lesson 07
def fig5a_rows() -> list[tuple[float, float, float, float]]:
    return [(0.2, 0.9, 0.95, 0.1), (0.4, 0.7, 0.9, 0.05)]


def test_matching_curves_and_fig_5a():
    fractions, curves = plots.matching_curves(fig5a_rows())
    assert fractions == [0.2, 0.4]
    assert curves == {
        "same LCT (YIQ)": [0.9, 0.7],
        "own LCT per user": [0.95, 0.9],
        "adversary: arbitrary LCT": [0.1, 0.05],
    }
    fig = plots.plot_matching_accuracy(fig5a_rows(), title="Fig. 5a at `ci` scale")
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.lines] == list(curves) + ["chance (1/12)"]
    np.testing.assert_allclose(ax.lines[1].get_ydata(), [0.95, 0.9])
    np.testing.assert_allclose(ax.lines[3].get_ydata(), [1 / 12, 1 / 12])
    for line in ax.lines[:3]:
        np.testing.assert_allclose(line.get_xdata(), fractions)
    with pytest.raises(ValueError, match="rows must be"):
        plots.matching_curves([(0.2, 0.9)])


def many_verdicts() -> verify.UserVerdicts:
    keys = torch.tensor([60.0, float("nan"), 300.0], dtype=torch.float64)
    losses = torch.stack([v_curve(60.0).losses, v_curve(0.0).losses, v_curve(270.0).losses])
    return verify.UserVerdicts(["u0", "u1", "u2"], keys, SLOTS.clone(), losses)


def test_user_loss_curves_centre_watermarking_users_on_their_key():
    curves = plots.user_loss_curves(many_verdicts())
    assert [marking for _, _, marking in curves] == [True, False, True]
    for x, y, _ in curves:
        assert list(x) == sorted(x) and len(y) == 12
    # u0's minimum at k - k* = 0, u1 (no key) at k = 0, u2's at 270 - 300 = -30
    assert [float(x[np.argmin(y)]) for x, y, _ in curves] == [0.0, 0.0, -30.0]


def test_plot_user_loss_curves_one_panel_per_condition():
    fig = plots.plot_user_loss_curves({"same LCT": many_verdicts(), "own LCT": many_verdicts()})
    assert len(fig.axes) == 2
    assert [ax.get_title().split(":")[0] for ax in fig.axes] == ["same LCT", "own LCT"]
    for line, (x, y, _) in zip(fig.axes[1].lines, plots.user_loss_curves(many_verdicts())):
        np.testing.assert_allclose(line.get_xdata(), x)
        np.testing.assert_allclose(line.get_ydata(), y)
    # users u0 and u2 watermark, u1 does not: the two kinds are drawn alike within, unlike across
    colours = [line.get_color() for line in fig.axes[1].lines]
    assert colours[0] == colours[2] != colours[1]
    with pytest.raises(ValueError, match="at least one"):
        plots.plot_user_loss_curves({})


# ----------------------------------------------------------------------------------- lesson 08
def test_protection_advantage_draws_one_bar_per_method_in_its_own_colour():
    advantages = {"ANW (p = 1/12)": 0.6, "MIA-std": 0.1, "MIA-pow": -0.05, "other": 0.0}
    fig = plots.plot_protection_advantage(advantages)
    bars = fig.axes[0].patches
    assert [b.get_height() for b in bars] == pytest.approx(list(advantages.values()))
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == list(advantages)
    ours, *baselines, _ = [b.get_facecolor() for b in bars]
    assert ours not in baselines and baselines[0] != baselines[1]  # each method told apart
    again = plots.plot_protection_advantage({"MIA-std": 0.3, "ANW (p = 1/12)": 0.2})
    assert [b.get_facecolor() for b in again.axes[0].patches] == [baselines[0], ours]  # same key
    chosen = plots.plot_protection_advantage({"MIA-std": 0.1}, colors={"MIA-std": "black"})
    assert chosen.axes[0].patches[0].get_facecolor() == (0.0, 0.0, 0.0, 1.0)


# ----------------------------------------------------------------------------------- lesson 09
def test_score_histograms_draw_the_densities():
    g = torch.Generator().manual_seed(0)
    reference, user = torch.rand(500, generator=g) - 0.7, torch.rand(50, generator=g) * 0.5
    fig = plots.plot_score_histograms(reference, user, "500 reference photos", "the user's 50")
    ax = fig.axes[0]
    assert legend_texts(ax) == ["500 reference photos", "the user's 50"]
    heights = np.array([p.get_height() for p in ax.patches])
    n_bins = len(plots.SCORE_BINS) - 1
    np.testing.assert_allclose(heights[:n_bins], plots.score_density(reference))
    np.testing.assert_allclose(heights[n_bins:], plots.score_density(user))
    assert plots.score_density(user).sum() * (2 / n_bins) == pytest.approx(1.0)
    assert ax.get_yscale() == "log"


def test_null_distribution_marks_the_observed_statistic_and_the_floor():
    g = torch.Generator().manual_seed(1)
    x, y = torch.rand(10, generator=g) + 0.5, torch.rand(200, generator=g)
    test = stats.permutation_test(x, y, n_permutations=99, seed=0)
    assert test.p_value == test.p_floor  # far apart: no relabelling reaches the observed value
    fig = plots.plot_null_distribution(test)
    ax = fig.axes[0]
    assert ax.get_title() == plots.null_title(test)
    assert f"p <= {test.p_value:.2g}" in ax.get_title()  # at the floor: a bound, not a value
    assert float(ax.lines[0].get_xdata()[0]) == pytest.approx(test.statistic)
    assert "99" in legend_texts(ax)[0]  # how many relabellings the null holds
    close = stats.permutation_test(y[:10], y[10:], n_permutations=99, seed=0)
    assert " p = " in plots.null_title(close)
    quiet = stats.permutation_test(x, y, n_permutations=99, seed=0, keep_null=False)
    with pytest.raises(ValueError, match="keep_null=True"):
        plots.plot_null_distribution(quiet)


def test_rejection_curve_and_calibration_figure():
    p = torch.tensor([0.001, 0.01, 0.02, 0.5, 0.9], dtype=torch.float64)
    np.testing.assert_allclose(
        plots.rejection_curve(p, [0.001, 0.01, 0.05, 1.0]), [0.2, 0.4, 0.6, 1]
    )
    uniform = torch.linspace(0.001, 1, 1000)
    fig = plots.plot_calibration(
        [("permutation", uniform, "tab:blue", "-"), ("t-test, 5 photos", p, "tab:orange", ":")]
    )
    ax = fig.axes[0]
    assert legend_texts(ax) == ["permutation", "t-test, 5 photos", "calibrated: rate = alpha"]
    alphas = np.logspace(-4, 0, 200)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), plots.rejection_curve(uniform, alphas))
    assert ax.lines[1].get_linestyle() == ":"
    with pytest.raises(ValueError, match="at least one"):
        plots.plot_calibration([])
    with pytest.raises(ValueError, match="at least one p-value"):
        plots.rejection_curve([], [0.05])


def test_p_by_photos_draws_the_median_levels_and_floor():
    sizes, median = [2, 5, 10, 50], [0.4, 0.1, 0.01, 1e-4]
    fig = plots.plot_p_by_photos(
        sizes, median, [0.2, 0.05, 0.005, 1e-4], [0.6, 0.2, 0.02, 1e-4], 1e-4
    )
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), median)
    labels = legend_texts(ax)
    assert "alpha = 0.05" in labels and "alpha = 0.01" in labels
    assert "floor of 9,999 relabellings" in labels
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2", "5", "10", "50"]
    with pytest.raises(ValueError, match="one median"):
        plots.plot_p_by_photos(sizes, median[:2], median, median, 1e-4)


def test_roc_labels_each_size_with_its_tprs():
    negatives = torch.randn(2000, generator=torch.Generator().manual_seed(0))
    positives = torch.randn(200, generator=torch.Generator().manual_seed(1)) + 2.0
    fpr, tpr = stats.roc_curve(negatives, positives)
    tprs = (
        stats.tpr_at_fpr(negatives, positives, 0.01),
        stats.tpr_at_fpr(negatives, positives, 0.001),
    )
    fig = plots.plot_roc({5: (fpr, tpr)}, {5: tprs})
    ax = fig.axes[0]
    assert legend_texts(ax)[0] == f"n = 5: TPR {tprs[0]:.0%} at 1 % FPR, {tprs[1]:.0%} at 0.1 %"
    np.testing.assert_allclose(ax.lines[0].get_xdata(), fpr)
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    with pytest.raises(ValueError, match="every n"):
        plots.plot_roc({5: (fpr, tpr)}, {10: tprs})


# ------------------------------------------------------------------------------------- tables
def test_markdown_table_checks_its_rows():
    table = plots.markdown_table(["a", "b"], [(1, "x"), ("2", "y")])
    assert table == "| a | b |\n|---|---|\n| 1 | x |\n| 2 | y |"
    with pytest.raises(ValueError, match="2 cells"):
        plots.markdown_table(["a", "b"], [(1,)])


def test_verdict_table_one_row_per_user():
    rows = [
        dict(user="user0", photos=50, key=60.0, k_hat=60.0, match=True, gap=0.0912,
             train_loss=0.1234, fitted=1.0),
        dict(user="user4", photos=2, key=90.0, k_hat=0.0, match=False, gap=-0.004,
             train_loss=0.5, fitted=0.5),
    ]  # fmt: skip
    assert rows_of(plots.verdict_table(rows)) == [
        ["user0", "50", "60", "60", "yes", "+0.091", "0.123", "100%"],
        ["user4", "2", "90", "0", "**no**", "-0.004", "0.500", "50%"],
    ]
    assert plots.verdict_table(rows).startswith("| user | photos | k* | k̂ | match | gap |")


def test_cost_and_capacity_tables():
    cost = plots.cost_table(
        [("small_resnet", 1234.5, 6.2, True), ("resnet50", 12.0, 610, False)], "ci"
    )
    assert "one `ci` training" in cost.splitlines()[0]
    assert rows_of(cost) == [
        ["small_resnet", "1,234", "6 min", "yes"],
        ["resnet50", "12", "610 min", "no"],
    ]
    capacity = plots.capacity_table(
        [dict(model="small ResNet, width 4", train_acc=0.77, test_acc=0.41, train_loss=0.81,
              k_hat=60.0, match=True, gap=0.02)]
    )  # fmt: skip
    assert rows_of(capacity) == [
        ["small ResNet, width 4", "0.770", "0.410", "0.810", "60", "yes", "+0.020"]
    ]


def test_settings_list_keeps_the_configs_order():
    class Config:
        def __init__(self):
            self.model, self.epochs, self.lr, self.seed = "resnet50", 30, 0.01, 0

    assert plots.settings_list(Config(), ("lr", "model")) == "model = resnet50\n  lr = 0.01"


def test_variants_and_results_tables():
    variants = {
        "colour jitter": ({"augment": "crop_flip+color_jitter"}, "[18]"),
        "cutout": ({}, "[6]"),
    }
    table = plots.variants_table(
        variants, {"colour jitter": ["ci", "cpu"], "cutout": ["cpu"]}, ["colour jitter"]
    )
    assert rows_of(table) == [
        [
            "colour jitter",
            "`{'augment': 'crop_flip+color_jitter'}`",
            "[18]",
            "ci, cpu",
            "**trained**",
        ],
        ["cutout", "`{}`", "[6]", "cpu", "skipped (see the profiles)"],
    ]
    results = plots.results_table(
        [dict(variant="baseline", kind="-", acc=0.6512, k_hat=60.0, match=True, gap=0.15, note=""),
         dict(variant="pruned 90%", kind="defence", acc=0.1, k_hat=210.0, match=False, gap=-0.2,
              note="sparsity 0.90")]
    )  # fmt: skip
    assert rows_of(results) == [
        ["baseline", "-", "0.651", "60", "yes", "+0.150", ""],
        ["pruned 90%", "defence", "0.100", "210", "**no**", "-0.200", "sparsity 0.90"],
    ]


def test_matching_table():
    assert rows_of(plots.matching_table(fig5a_rows())) == [
        ["0.2", "0.90", "0.95", "0.10"],
        ["0.4", "0.70", "0.90", "0.05"],
    ]


def test_tracing_table_counts_classes_and_users_and_keeps_the_papers_rows():
    g = torch.Generator().manual_seed(0)
    initial, marked, unmarked = (torch.randn(10, generator=g) * 0.05 for _ in range(3))
    before, after = torch.tensor([1.0, -0.5, 0.0]), torch.tensor([1.0, 1.0, 0.5])
    rows = rows_of(plots.tracing_table(initial, marked, unmarked, before, after))
    assert rows[0][0] == "dataset tracing: cos($w_c$, $u_c$), 10 classes"
    assert rows[0][1:] == [
        plots.mean_sd(initial),
        plots.mean_sd(marked),
        f"unmarked: {plots.mean_sd(unmarked)}",
    ]
    assert rows[1] == [
        "watermark: cos($\\hat k - k^*$), 3 users",
        f"{plots.mean_sd(before)} (never seen)",
        "+0.833 ± 0.289",
        "",
    ]
    assert [r[0] for r in rows[2:]] == [r[0] for r in plots.PAPER_TABLE1]


def test_mean_sd_formats_a_sample():
    assert plots.mean_sd(torch.tensor([1.0, 3.0])) == f"+2.000 ± {math.sqrt(2):.3f}"
    assert plots.mean_sd(torch.tensor([1, 3])) == f"+2.000 ± {math.sqrt(2):.3f}"


def test_comparison_table_puts_every_method_side_by_side():
    members, nonmembers = [0.1, 0.2, 0.3, 2.0], [0.1, 2.0, 3.0, 4.0]
    mia_std = membership.evaluate_threshold("MIA-std", 0.5, members, nonmembers)
    shadow = membership.evaluate_threshold("MIA, user's shadow", 5.0, members, nonmembers)
    anw, innocent = torch.tensor([True, True, False]), torch.tensor([False, True, False])
    advantage = {"ANW (p = 1/12)": 0.58, "MIA-std": 0.25, "MIA, user's shadow": 0.0}
    normalised = {"ANW (p = 1/12)": 0.64, "MIA-std": 0.5, "MIA, user's shadow": 0.0}
    table = plots.comparison_table(
        anw,
        innocent,
        [(mia_std, "100 known members", ""), (shadow, "only her own photos", "gap attack 67%")],
        advantage,
        normalised,
        hue_after=torch.tensor([1.0, 1.0, 0.5]),
        tracing_after=torch.zeros(10),
        n_marked=50,
        memorisation=(0.0812, 0.031, "2 + 2 models"),
    )
    rows = rows_of(table)
    assert [r[0] for r in rows] == [
        "Watermark (ANW)",
        "MIA-std",
        "MIA, user's shadow",
        "Radioactive data",
    ]
    assert rows[0][2:] == [
        "2/3 users matched (1 false matches of 3 innocent)",
        "+0.58 (+0.64)",
        "cos = +0.833 ± 0.289",
    ]
    assert rows[1][1:] == [
        "100 known members",
        f"accuracy {mia_std.accuracy:.0%}",
        "+0.25 (+0.50)",
        "",
    ]
    assert rows[2][2] == "accuracy 50% (gap attack 67%)"
    assert rows[3][1:] == ["a public extractor; marks 50 photos", "", "", "cos = +0.000 ± 0.000"]
    assert table.endswith(
        "Memorisation (Sec. 5.6), 2 + 2 models: watermarked − clean = +0.08 ± 0.03 (paper: +0.08)."
    )


# ------------------------------------------------------------------------------------- lessons
def _code_lines_outside_inline_figures(text: str) -> list[tuple[int, str]]:
    """(line number, line) of a lesson's code, leaving out the cells marked as an inline figure
    (issue 29 item 5: a lesson may draw a simple figure where drawing it teaches something)."""
    out, in_figure, cell_start = [], False, False
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith("# %%"):
            in_figure, cell_start = False, True
            continue
        if cell_start and line.strip():
            in_figure, cell_start = line.strip().startswith(INLINE_FIGURE), False
        if not in_figure and not line.lstrip().startswith("#"):
            out.append((n, line))
    return out


def test_lessons_draw_no_figure_and_build_no_table_inline():
    """Issue 15.5: a lesson calls one helper per figure or table; no matplotlib, no Markdown table
    built cell by cell, in its code (its Markdown, the lines starting with #, may mention them),
    except in a cell marked as an inline figure (``tools.course.INLINE_FIGURE``)."""
    inline = re.compile(r"\bplt\.|import matplotlib|from matplotlib|\|---")
    assert LESSONS, "no lessons found in notebooks/"
    offenders = [
        f"{py.name}:{n}: {line.strip()}"
        for py in LESSONS
        for n, line in _code_lines_outside_inline_figures(py.read_text(encoding="utf-8"))
        if inline.search(line)
    ]
    assert not offenders, "figures or tables built inline (use anw_helpers.plots):\n" + "\n".join(
        offenders
    )


def test_only_a_marked_cell_may_draw_inline():
    marked = f"# %%\n{INLINE_FIGURE}\nplt.plot(x)\n# %%\nplt.show()\n"
    assert [line for _, line in _code_lines_outside_inline_figures(marked)] == ["plt.show()"]
