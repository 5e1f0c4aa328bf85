"""The calibrated ownership test (anw_helpers.stats): exact formulas, calibration where H0 holds by
construction, power where it does not, and clear errors for bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
import torch
from torch import nn
from toy_models import HueMatcher

from anw_helpers import stats, verify
from anw_helpers.color import watermark


# ---------------------------------------------------------------------------------------- Welch's t
def test_welch_t_test_agrees_with_scipy_one_sided_and_far_in_the_tail():
    rng = np.random.default_rng(3)
    x, y = rng.normal(0.5, 1.0, 12), rng.normal(0.0, 2.0, 300)
    expected = scipy.stats.ttest_ind(x, y, equal_var=False, alternative="greater")
    result = stats.welch_t_test(x, y)
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-10)
    far = stats.welch_t_test(np.arange(30.0) + 100, np.arange(30.0))
    assert 0 < far.p_value < 1e-25  # accurate far in the tail, not 0 from 1 - 1


def test_welch_t_test_is_scipys_one_call_and_the_formula_it_replaced():
    """One ttest_ind(equal_var=False, alternative="greater") call gives t, df and p, bit for bit
    what t.sf(t, df) gave before (lesson 09 prints these p-values)."""
    rng = np.random.default_rng(11)
    for n, m in ((2, 2), (5, 9_995), (50, 9_950), (12, 300)):
        x, y = rng.gamma(0.5, 0.2, n) + 0.01, rng.gamma(0.5, 0.2, m)
        expected = scipy.stats.ttest_ind(x, y, equal_var=False, alternative="greater")
        result = stats.welch_t_test(torch.from_numpy(x), torch.from_numpy(y))
        assert (result.statistic, result.df) == (float(expected.statistic), float(expected.df))
        assert result.p_value == float(expected.pvalue)
        assert result.p_value == float(scipy.stats.t.sf(result.statistic, result.df))
        assert stats.welch_t(x, y) == (result.statistic, result.df)
    # both samples constant: no df, p from the sign of the difference
    for y, p in (([0.0, 0.0], 0.0), ([2.0, 2.0], 1.0), ([1.0, 1.0], 0.5)):
        result = stats.welch_t_test([1.0, 1.0], y)
        assert result.p_value == p and math.isnan(result.df)


def test_welch_t_matches_its_formula():
    x, y = [1.0, 2.0, 4.0, 7.0], [0.0, 1.0, 1.0, 2.0, 3.0, 5.0]
    t, df = stats.welch_t(x, y)
    vx, vy = np.var(x, ddof=1) / 4, np.var(y, ddof=1) / 6
    assert t == pytest.approx((np.mean(x) - np.mean(y)) / math.sqrt(vx + vy))
    assert df == pytest.approx((vx + vy) ** 2 / (vx**2 / 3 + vy**2 / 5))
    result = stats.welch_t_test(x, y)
    assert result.p_value == pytest.approx(scipy.stats.t.sf(t, df)) and result.method == "welch-t"
    # no spread at all: an infinite t, not NaN
    assert stats.welch_t([1.0, 1.0], [0.0, 0.0])[0] == math.inf


# --------------------------------------------------------------------------------- permutation test
def test_permutation_p_value_matches_exact_enumeration():
    """With few values the exact permutation p-value can be enumerated; the Monte Carlo one must
    agree."""
    from itertools import combinations

    x, y = [2.1, 3.5, 2.9], [1.0, 2.2, 0.4, 1.7, 3.0]
    pooled = np.array(x + y)
    observed = np.mean(x) - np.mean(y)
    splits = list(combinations(range(8), 3))
    stat = [pooled[list(s)].mean() - np.delete(pooled, list(s)).mean() for s in splits]
    exact = np.mean([s >= observed - 1e-12 for s in stat])
    result = stats.permutation_test(x, y, n_permutations=40000, seed=3, statistic="mean")
    assert result.p_value == pytest.approx(
        exact, abs=4 * math.sqrt(exact * (1 - exact) / 40000) + 1e-4
    )
    assert len(result.null) == 40000 and result.n_permutations == 40000


def test_permutation_p_value_floor_and_reproducibility():
    x, y = torch.linspace(10, 11, 20), torch.linspace(0, 1, 500)
    result = stats.permutation_test(x, y, n_permutations=999, seed=1)
    assert result.p_value == pytest.approx(1 / 1000) and result.p_floor == pytest.approx(1 / 1000)
    assert "no permutation" in result.summary() and result.reject(0.01)
    a = stats.permutation_test(x[:5] - 10.3, y, n_permutations=999, seed=7)
    b = stats.permutation_test(x[:5] - 10.3, y, n_permutations=999, seed=7)
    assert a.p_value == b.p_value and torch.equal(a.null, b.null)


@pytest.mark.parametrize("n,m", [(3, 40), (30, 40), (60, 20)])
def test_random_subsets_are_uniform_and_distinct(n, m):
    idx = stats.random_subsets(m, min(n, m), 20000, seed=0)
    assert idx.shape == (20000, min(n, m))
    assert bool((idx.sort(dim=1).values[:, 1:] != idx.sort(dim=1).values[:, :-1]).all()), (
        "indices must be distinct"
    )
    counts = torch.bincount(idx.flatten(), minlength=m).double()
    expected = 20000 * min(n, m) / m
    assert float((counts - expected).abs().max()) < 6 * math.sqrt(expected), (
        "every index equally likely"
    )
    with pytest.raises(ValueError, match="distinct"):
        stats.random_subsets(3, 4, 1)


@pytest.mark.parametrize("n_pool,size", [(10, 3), (6, 3), (5, 1)])  # both ways of drawing
def test_random_subsets_draw_every_subset_equally_often(n_pool, size):
    rows = stats.random_subsets(n_pool, size, 60_000, seed=1)
    subsets = {tuple(sorted(r)) for r in rows.tolist()}
    assert len(subsets) == math.comb(n_pool, size)
    counts = torch.unique(rows.sort(dim=1).values, dim=0, return_counts=True)[1].double()
    expected = 60_000 / math.comb(n_pool, size)
    assert float((counts - expected).abs().max()) < 6 * math.sqrt(expected)
    assert torch.equal(rows, stats.random_subsets(n_pool, size, 60_000, seed=1)), "seeded"


@pytest.mark.parametrize(
    "distribution,statistic",
    [("normal", "mean"), ("exponential", "mean"), ("lognormal", "mean"), ("lognormal", "welch")],
)
def test_permutation_test_is_calibrated_when_h0_holds(distribution, statistic):
    """Synthetic calibration: user and reference scores from the same (skewed) distribution, so H0
    holds by construction. Over 1,500 independent replications the rejection counts must stay within
    what alpha allows."""
    rng = np.random.default_rng({"normal": 1, "exponential": 2, "lognormal": 3}[distribution])
    draw = {
        "normal": lambda s: rng.normal(size=s),
        "exponential": lambda s: rng.exponential(size=s),
        "lognormal": lambda s: rng.lognormal(sigma=1.5, size=s),
    }[distribution]
    p_values = [
        stats.permutation_test(
            draw(8), draw(120), n_permutations=199, seed=i, statistic=statistic, keep_null=False
        ).p_value
        for i in range(1500)
    ]
    for alpha in (0.05, 0.1, 0.25):
        assert sum(p <= alpha for p in p_values) <= stats.allowed_rejections(
            1500, alpha, risk=1e-4
        ), alpha
    # and not wildly conservative either: the p-values are close to uniform
    assert 0.2 <= stats.rejection_rate(p_values, 0.25) <= 0.3
    assert 0.4 <= stats.rejection_rate(p_values, 0.5) <= 0.6


def test_stratified_test_is_calibrated_when_only_classes_differ():
    """Classes with very different score levels; each user photographs mostly one class. Within a
    class the user's scores come from the reference's distribution (the stratified H0 holds by
    construction): the stratified test stays calibrated, the unstratified one does not."""
    rng = np.random.default_rng(21)
    levels = np.array([-3.0, 0.0, 2.0])
    ref_strata = rng.integers(0, 3, size=300)
    stratified, pooled = [], []
    for i in range(800):
        y = levels[ref_strata] + rng.exponential(size=300)
        # mostly class 2
        x_strata = np.where(rng.uniform(size=10) < 0.8, 2, rng.integers(0, 3, size=10))
        x = levels[x_strata] + rng.exponential(size=10)
        stratified.append(
            stats.permutation_test(
                x, y, 199, seed=i, x_strata=x_strata, y_strata=ref_strata, keep_null=False
            ).p_value
        )
        pooled.append(stats.permutation_test(x, y, 199, seed=i, keep_null=False).p_value)
    assert sum(p <= 0.05 for p in stratified) <= stats.allowed_rejections(800, 0.05, risk=1e-4)
    assert (
        0.03 <= stats.rejection_rate(stratified, 0.05)
        and 0.2 <= stats.rejection_rate(stratified, 0.25) <= 0.3
    )
    assert stats.rejection_rate(pooled, 0.05) > 0.5, (
        "ignoring the classes compares cats with the whole zoo"
    )


def test_stratified_statistic_is_the_class_matched_mean_difference():
    x, xs = [1.0, 2.0, 10.0], [0, 0, 1]
    y, ys = [0.0, 1.0, 8.0, 9.0, 5.0], [0, 0, 1, 1, 2]
    centred = stats.centre_by_stratum(x, xs, y, ys)
    assert centred.tolist() == [0.5, 1.5, 1.5]
    result = stats.permutation_test(x, y, 999, x_strata=xs, y_strata=ys)
    assert (
        result.statistic == pytest.approx(float(centred.mean()))
        and result.method == "permutation-stratified"
    )
    with pytest.raises(ValueError, match="no reference value"):
        stats.permutation_test(x, y, 99, x_strata=[0, 0, 3], y_strata=ys)
    with pytest.raises(ValueError, match="both"):
        stats.permutation_test(x, y, 99, x_strata=xs)
    with pytest.raises(ValueError, match="one stratum"):
        stats.permutation_test(x, y, 99, x_strata=[0, 1], y_strata=ys)
    with pytest.raises(ValueError, match="statistic='mean'"):
        stats.permutation_test(x, y, 99, statistic="welch", x_strata=xs, y_strata=ys)


def test_tests_have_power_when_h0_is_false():
    rng = np.random.default_rng(5)
    user, reference = rng.normal(1.0, 1.0, size=30), rng.normal(0.0, 1.0, size=500)
    assert stats.permutation_test(user, reference, 9999).p_value <= 1e-3
    assert stats.welch_t_test(user, reference).p_value < 1e-4
    # one-sided: the other direction is not evidence
    assert stats.permutation_test(-user, reference, 999).p_value > 0.9


def test_welch_t_test_is_calibrated_on_normal_data():
    rng = np.random.default_rng(11)
    p_values = [
        stats.welch_t_test(rng.normal(size=10), rng.normal(scale=3.0, size=200)).p_value
        for _ in range(3000)
    ]
    for alpha in (0.01, 0.05):
        assert sum(p <= alpha for p in p_values) <= stats.allowed_rejections(3000, alpha, risk=1e-4)
    assert 0.04 <= stats.rejection_rate(p_values, 0.05) <= 0.06


# ---------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "x,y,message",
    [
        ([], [1.0, 2.0], "empty"),
        ([1.0], [1.0, 2.0], "at least 2"),
        ([1.0, float("nan")], [1.0, 2.0], "NaN"),
        ([1.0, 2.0], [1.0, float("inf")], "NaN or infinite"),
        ([[1.0, 2.0]], [1.0, 2.0], "1-D"),
        ("ab", [1.0, 2.0], "sequence of numbers"),
    ],
)
def test_bad_scores_raise(x, y, message):
    with pytest.raises((ValueError, TypeError), match=message):
        stats.permutation_test(x, y, statistic="welch")
    with pytest.raises((ValueError, TypeError), match=message):
        stats.welch_t_test(x, y)


def test_bad_settings_raise():
    with pytest.raises(ValueError, match="n_permutations"):
        stats.permutation_test([1.0, 2.0], [0.0, 1.0], n_permutations=0)
    with pytest.raises(ValueError, match="statistic"):
        stats.permutation_test([1.0, 2.0], [0.0, 1.0], statistic="median")
    with pytest.raises(ValueError, match="alpha"):
        stats.rejection_rate([0.1, 0.2], 1.5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        stats.holm([0.1, 1.2])
    with pytest.raises(ValueError, match="empty"):
        stats.bonferroni([])


# -------------------------------------------------------------------------------- calibration tools
def test_allowed_rejections_is_the_binomial_bound():
    r = stats.allowed_rejections(160, 0.05, risk=0.001)
    tail = sum(math.comb(160, i) * 0.05**i * 0.95 ** (160 - i) for i in range(r + 1, 161))
    tail_below = tail + math.comb(160, r) * 0.05**r * 0.95 ** (160 - r)
    assert tail <= 0.001 < tail_below  # P(X > r) <= risk < P(X > r - 1)
    assert stats.allowed_rejections(10, 0.01, risk=0.5) == 0


def _allowed_by_counting(n: int, alpha: float, risk: float) -> int:
    """The definition, counted up one r at a time (the hand-written loop binom.isf replaced)."""
    r = 0
    while scipy.stats.binom.sf(r, n, alpha) > risk:
        r += 1
    return r


def test_allowed_rejections_is_scipys_inverse_survival_function_and_the_definition():
    for n in (1, 2, 3, 5, 8, 13, 50, 160, 200, 1000, 2000):
        for alpha in (0.5, 1 / 12, 0.05, 0.01, 0.001):
            for risk in (0.5, 0.01, 0.001, 1e-4):
                r = stats.allowed_rejections(n, alpha, risk)
                assert r == _allowed_by_counting(n, alpha, risk), (n, alpha, risk)
                assert r == int(scipy.stats.binom.isf(risk, n, alpha))
    # a risk exactly at a tail probability: P(X > r) <= risk holds with equality
    for r_exact in range(1, 9):
        risk = float(scipy.stats.binom.sf(r_exact, 10, 0.5))
        assert stats.allowed_rejections(10, 0.5, risk) == r_exact
    with pytest.raises(ValueError, match="n_tests"):
        stats.allowed_rejections(True, 0.05)


def test_roc_curve_and_tpr_at_fpr():
    neg = np.arange(1000, dtype=float)  # 0 .. 999
    pos = np.array([998.5, 995.5, 990.5, 500.0])
    fpr, tpr = stats.roc_curve(neg, pos)
    assert fpr[0] == 0 and tpr[0] == 0 and fpr[-1] == 1 and tpr[-1] == 1
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    # at FPR 0.1 % one innocent (999) may score above the threshold (998): one positive exceeds it
    assert stats.tpr_at_fpr(neg, pos, 0.001) == 0.25
    assert stats.tpr_at_fpr(neg, pos, 0.01) == 0.75  # threshold 989: three positives above
    with pytest.raises(ValueError, match="at least 10000"):
        stats.tpr_at_fpr(neg, pos, 0.0001)


def _roc_by_counting(neg: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reference ROC: for every distinct score t, high to low, the shares of each side >= t."""
    thresholds = sorted(set(neg.tolist()) | set(pos.tolist()), reverse=True)
    fpr = [0.0] + [float(np.mean(neg >= s)) for s in thresholds]
    tpr = [0.0] + [float(np.mean(pos >= s)) for s in thresholds]
    return np.array(fpr), np.array(tpr)


def _scores_with_ties(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 15, 40).astype(float), rng.integers(3, 20, 25).astype(float)


def test_roc_curve_matches_counting_and_its_area_is_the_mann_whitney_auc():
    for seed in range(3):
        neg, pos = _scores_with_ties(seed)
        fpr, tpr = stats.roc_curve(neg, pos)
        ref_fpr, ref_tpr = _roc_by_counting(neg, pos)
        np.testing.assert_allclose(fpr, ref_fpr, rtol=0, atol=1e-15)
        np.testing.assert_allclose(tpr, ref_tpr, rtol=0, atol=1e-15)
        # the area under it (trapezoids: ties count half) is the package's one AUC
        area = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
        assert stats.auc(neg, pos) == pytest.approx(area, abs=1e-12)


def test_auc_is_scipys_mann_whitney_u_over_nm():
    neg, pos = _scores_with_ties(5)
    u = scipy.stats.mannwhitneyu(pos, neg).statistic
    assert stats.auc(torch.from_numpy(neg), list(pos)) == float(u) / (len(neg) * len(pos))
    # by hand: pairs won, ties half
    pairs = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    assert stats.auc(neg, pos) == pytest.approx(pairs / (len(neg) * len(pos)), abs=1e-15)
    assert stats.auc([0.0, 1.0], [2.0, 3.0]) == 1.0 and stats.auc([1.0, 2.0], [1.0, 2.0]) == 0.5
    from anw_helpers import adaptive

    assert adaptive.auc is stats.auc  # one AUC in the package (lesson 10's detector reads it)
    with pytest.raises(ValueError, match="finite"):
        stats.auc(neg, [float("nan")])
    with pytest.raises(ValueError, match="empty"):
        stats.auc([], pos)


def test_bonferroni():
    p = [0.01, 0.04, 0.03, 0.005]
    # p <= 0.05 / 4 = 0.0125
    assert stats.bonferroni(p, 0.05).tolist() == [True, False, False, True]


def test_holm_step_down_by_hand():
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted: 0.005 <= 0.0125 yes; 0.01 <= 0.01667 yes; 0.03 <= 0.025 no -> stop
    assert stats.holm(p, 0.05).tolist() == [True, False, False, True]
    # 0.003 <= 0.01 / 1
    assert stats.holm([0.001, 0.002, 0.003], 0.01).tolist() == [True, True, True]
    assert stats.holm([0.2, 0.3], 0.05).tolist() == [False, False]
    rng = np.random.default_rng(0)
    for _ in range(200):  # Holm rejects everything Bonferroni does
        q = rng.uniform(0, 0.1, size=7)
        assert bool((stats.bonferroni(q) <= stats.holm(q)).all())


def _holm_adjusted(p: np.ndarray) -> np.ndarray:
    """Reference: Holm's adjusted p-values (Holm 1979; Wright 1992), the running maximum of
    (m - j) p_(j) over the sorted p-values, at most 1, in the original order (as
    ``statsmodels.stats.multitest.multipletests(method="holm")`` returns them)."""
    m, order = len(p), np.argsort(p, kind="stable")
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adjusted
    return out


def test_holm_and_bonferroni_match_the_adjusted_p_value_references():
    """No library among the dependencies has Holm (scipy.stats.false_discovery_control is
    Benjamini-Hochberg, a false-discovery rate): the hand-written step-down that exercise 9.3
    teaches is checked against the adjusted p-values instead."""
    rng = np.random.default_rng(29)
    for m in (1, 2, 5, 12, 201):
        for _ in range(40):
            p = rng.uniform(0, 0.2, m) ** 2  # many small ones, and ties from rounding
            p = np.round(p, 4) if m > 5 else p
            for alpha in (0.05, 0.01):
                assert (
                    stats.holm(p, alpha).numpy().tolist() == (_holm_adjusted(p) <= alpha).tolist()
                ), (m, alpha, p)
                assert (
                    stats.bonferroni(p, alpha).numpy().tolist()
                    == (np.minimum(1.0, m * p) <= alpha).tolist()
                )


# ----------------------------------------------------------------------------- scores and the model


def _images(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return 0.35 + 0.3 * torch.rand(n, 3, 6, 6, generator=g)  # in gamut under every rotation


def test_per_image_losses_average_to_the_grid_search():
    images = _images(9, 0)
    model, labels = HueMatcher(watermark(images[0], 60.0)), torch.zeros(9, dtype=torch.int64)
    losses = stats.per_image_losses(model, images, labels, [0.0, 60.0, 120.0], batch_size=4)
    assert losses.shape == (9, 3) and losses.dtype == torch.float64
    torch.testing.assert_close(
        losses.mean(0).float(), verify.signature_losses(model, images, labels, [0.0, 60.0, 120.0])
    )
    scores = stats.key_scores(model, images, labels, 60.0, kind="loss")
    torch.testing.assert_close(scores, losses[:, 0] - losses[:, 1], atol=1e-5, rtol=1e-5)
    assert float(scores[0]) > 0, "the remembered image is easier with the key's hue than clean"
    others = stats.key_scores(model, images, labels, 60.0, baseline=[0.0, 120.0], kind="loss")
    torch.testing.assert_close(
        others, losses[:, [0, 2]].mean(1) - losses[:, 1], atol=1e-5, rtol=1e-5
    )
    probs = stats.key_scores(model, images, labels, 60.0)  # default: gain in P(true class)
    torch.testing.assert_close(
        probs, (-losses[:, 1]).exp() - (-losses[:, 0]).exp(), atol=1e-5, rtol=1e-5
    )
    assert float(probs[0]) > 0 and bool((probs.abs() <= 1).all())
    at_key = losses[:, [1, 0, 2]]  # the key's column first, then the baselines 0 and 120
    gain = stats.scores_from_losses(at_key[:, :2])  # key_scores' formula, from losses in hand
    torch.testing.assert_close(gain, (-losses[:, 1]).exp() - (-losses[:, 0]).exp(), rtol=0, atol=0)
    torch.testing.assert_close(gain, probs, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(
        stats.scores_from_losses(at_key, "loss"), others, atol=1e-5, rtol=1e-5
    )
    with pytest.raises(ValueError, match="at least one baseline"):
        stats.scores_from_losses(at_key[:, :1])
    with pytest.raises(ValueError, match="kind"):
        stats.scores_from_losses(at_key, "logit")


def test_ownership_test_detects_a_memorised_user_and_not_an_innocent_one():
    user, reference = _images(12, 1), _images(300, 2)
    labels, ref_labels = torch.zeros(12, dtype=torch.int64), torch.zeros(300, dtype=torch.int64)

    class Memoriser(nn.Module):  # low loss on the user's images watermarked with 60, only on those
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("targets", watermark(user, 60.0))
            self.w = nn.Parameter(torch.tensor(1.0))

        def forward(self, x):
            d = ((x[:, None] - self.targets[None]) ** 2).mean(dim=(2, 3, 4)).min(dim=1).values
            return torch.stack([-self.w * 500 * d, torch.zeros_like(d)], dim=1)

    model = Memoriser()
    guilty = stats.ownership_test(
        model, user, labels, reference, ref_labels, key=60.0, n_permutations=999
    )
    assert guilty.p_value == pytest.approx(1 / 1000) and guilty.statistic > 0
    innocent_user = _images(12, 3)
    innocent = stats.ownership_test(
        model, innocent_user, labels, reference, ref_labels, key=60.0, n_permutations=999
    )
    assert innocent.p_value > 0.05
    welch = stats.ownership_test(
        model, user, labels, reference, ref_labels, key=60.0, method="welch"
    )
    assert welch.method == "welch-t" and welch.p_value < 1e-3


def test_ownership_test_refuses_a_reference_that_shares_the_users_images():
    user, reference = _images(5, 1), _images(40, 2)
    reference[7] = user[3]
    model = HueMatcher(user[0])
    with pytest.raises(ValueError, match="disjoint"):
        stats.ownership_test(
            model,
            user,
            torch.zeros(5, dtype=torch.int64),
            reference,
            torch.zeros(40, dtype=torch.int64),
            60.0,
        )
    assert stats.appears_in(user, reference).tolist() == [False, False, False, True, False]
    assert not bool(stats.appears_in(user, _images(40, 9)).any())
    # other shapes: nothing shared
    assert stats.appears_in(user, reference[:, :2]).tolist() == [False] * 5


@pytest.mark.parametrize(
    "images,labels,exc,message",
    [
        (torch.empty(0, 3, 6, 6), torch.empty(0, dtype=torch.int64), ValueError, "empty"),
        (
            torch.rand(4, 3, 6, 6),
            torch.zeros(3, dtype=torch.int64),
            ValueError,
            "one label per image",
        ),
        (
            torch.full((4, 3, 6, 6), float("nan")),
            torch.zeros(4, dtype=torch.int64),
            ValueError,
            "NaN",
        ),
        (
            torch.randint(0, 255, (4, 3, 6, 6), dtype=torch.uint8),
            torch.zeros(4, dtype=torch.int64),
            TypeError,
            "float",
        ),
        (torch.rand(3, 6, 6), torch.zeros(3, dtype=torch.int64), ValueError, "batch"),
    ],
)
def test_bad_images_raise(images, labels, exc, message):
    model = HueMatcher(_images(1, 0)[0])
    with pytest.raises(exc, match=message):
        stats.key_scores(model, images, labels, 60.0)


def test_bad_key_or_baseline_raise():
    images, labels = _images(3, 0), torch.zeros(3, dtype=torch.int64)
    model = HueMatcher(images[0])
    with pytest.raises(ValueError, match="baseline"):
        stats.key_scores(model, images, labels, 60.0, baseline=[])
    with pytest.raises(ValueError, match="finite"):
        stats.key_scores(model, images, labels, float("nan"))
    with pytest.raises(ValueError, match="kind"):
        stats.key_scores(model, images, labels, 60.0, kind="logit")
    with pytest.raises(ValueError, match="method"):
        stats.ownership_test(
            model,
            images,
            labels,
            _images(4, 1),
            torch.zeros(4, dtype=torch.int64),
            60.0,
            method="z",
        )
