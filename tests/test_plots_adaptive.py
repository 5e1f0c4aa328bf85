"""Lesson 10's figures and tables (anw_helpers.plots.adaptive) on synthetic results, headless."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from anw_helpers import plots  # noqa: E402
from anw_helpers.adaptive import Detection, JpegSurvival, MarkVerdict  # noqa: E402
from anw_helpers.profiles import ADAPTIVE_RECIPES  # noqa: E402
from anw_helpers.twins import Credit, Rate, TwinTest  # noqa: E402
from anw_helpers.verify import SearchResult  # noqa: E402

SLOTS = torch.arange(0.0, 360.0, 30.0, dtype=torch.float64)


def _curve(best: float) -> SearchResult:
    losses = 1.0 + 0.1 * (1 - torch.cos(torch.deg2rad(SLOTS - best)))
    return SearchResult(SLOTS, losses)


def _rows(yiq_k_hat: float) -> list[MarkVerdict]:
    nan, rate = math.nan, Rate(9, 1000, 0.004, 0.017)
    mark, member = Credit.MARK, Credit.MEMBERSHIP
    won = TwinTest(24, 25, 0, 1e-6)
    return [
        MarkVerdict(
            "YIQ user",
            "YIQ",
            yiq_k_hat,
            0.2,
            yiq_k_hat == 60,
            won,
            1e-4,
            rate,
            mark,
            60.0,
            _curve(yiq_k_hat),
        ),
        MarkVerdict(
            "own-T user", "own T", 60.0, 0.3, True, won, 1e-4, rate, mark, 60.0, _curve(60.0)
        ),
        MarkVerdict(
            "blend user", "blend", nan, nan, None, TwinTest(12, 25, 0, 0.6), 1e-4, rate, member
        ),
        MarkVerdict("unmarked user", "none", nan, nan, None, None, 1e-4, None, member),
    ]


VERDICTS = {"standard": _rows(60.0), "luma only": _rows(210.0)}
SURVIVAL = {95: JpegSurvival(95, 60.1, 0.7), 10: JpegSurvival(10, 58.6, 0.5)}
DETECTION = Detection({30.0: 0.6, 60.0: 0.8}, {30.0: 0.95, 60.0: 1.0}, 0.47)
PSNR = {"YIQ, 60°": 24.3, "own T, 60°": 16.7, "blend, α = 0.1": 28.5}


def _body(table: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip("|").split("|")] for line in table.splitlines()[2:]]


def test_plot_marks_has_one_column_per_version() -> None:
    photos = torch.rand(3, 3, 8, 8)
    fig = plots.plot_marks(photos, {n: photos for n in PSNR}, PSNR)
    assert isinstance(fig, Figure) and len(fig.axes) == 3 * 4
    assert "24.3 dB" in fig.axes[1].get_title()
    with pytest.raises(ValueError, match="at least one"):
        plots.plot_marks(photos, {}, {})


def test_plot_mark_curves_draws_each_lct_user_per_learner() -> None:
    fig = plots.plot_mark_curves(VERDICTS)
    assert len(fig.axes) == 2
    labels = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert any("YIQ user (k_hat 210)" in label for label in labels)
    assert sum("user" in label for label in labels) == 2  # the LCT users; no eq. 6 curve for others


def test_plot_detection_draws_both_keyed_marks_and_the_blend_line() -> None:
    fig = plots.plot_detection(DETECTION)
    ax = fig.axes[0]
    ys = [list(line.get_ydata()) for line in ax.lines]
    assert [0.6, 0.8] in ys and [0.95, 1.0] in ys and [0.47, 0.47] in ys


def test_recipes_table_says_what_this_profile_trains() -> None:
    body = _body(plots.recipes_table(ADAPTIVE_RECIPES, ("standard", "luma only")))
    assert [r[0] for r in body] == list(ADAPTIVE_RECIPES)
    assert [r[2] for r in body].count("yes") == 2


def test_mark_verdict_table_shows_every_user_under_every_test_per_learner() -> None:
    body = _body(plots.mark_verdict_table(VERDICTS))
    assert len(body) == 8 and len(body[0]) == 7
    assert [r[1] for r in body[:4]] == ["YIQ user", "own-T user", "blend user", "unmarked user"]
    assert body[0][2] == "k̂ = 60 (yes)" and body[4][2] == "k̂ = 210 (**no**)"
    assert body[2][2] == "—" and body[2][3] == "12/25 win, p = 0.6"
    assert body[3][3] == "no twins (no mark)" and body[3][4] == "—"  # the unmarked row is shown
    assert body[0][4] == "9/1000 (0.4-1.7 %)" and body[3][5] == "p = 1e-04"
    assert body[2][6] == "membership only" and body[0][6] == "the mark"


def test_jpeg_and_comparison_tables() -> None:
    body = _body(plots.jpeg_survival_table(SURVIVAL, 60.0, 0.1))
    assert body[0][0] == "95" and "58.6°" in body[1][1] and body[1][2].startswith("50 %")
    table = _body(plots.mark_comparison_table(VERDICTS, PSNR, SURVIVAL, DETECTION, 60.0, 0.02))
    assert [r[0] for r in table] == ["YIQ", "own T", "blend", "none"]
    assert table[0][1] == "24.3 dB" and table[0][2] == "2.0 %" and table[0][-1] == "0.80"
    assert table[2][-1] == "0.47" and table[3][1] == "—"
    assert table[3][3].startswith("membership only (no twins")
