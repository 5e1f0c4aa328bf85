"""Kept twins (anw_helpers.twins): the twin-null test, its false-positive rate on innocent users,
and lesson 10's crediting rule, on toy models that need no training."""

from __future__ import annotations

import pytest
import scipy.stats
import torch
from toy_models import Remembers

from anw_helpers import adaptive, twins
from anw_helpers.stats import allowed_rejections

LEVEL = 0.01


def _photos(n: int, seed: int, size: int = 8) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return twins.as_shared(0.2 + 0.6 * torch.rand(n, 3, size, size, generator=g))


def _blend(alpha: float, size: int = 8) -> adaptive.TwinMark:
    patterns = (adaptive.blend_pattern(1, size, size), adaptive.blend_pattern(2, size, size))
    return adaptive.TwinMark("blend", patterns=patterns, alpha=alpha)


def _remembering_learner(photos: torch.Tensor, mark: adaptive.TwinMark, coins: torch.Tensor):
    """A learner that memorised exactly what the user published (and nothing of the kept twins)."""
    a, b = mark.versions(photos)
    published, _ = twins.publish(twins.as_shared(a), twins.as_shared(b), coins)
    return Remembers(published, margin=4.0, scale=400.0).eval()


def test_twin_keys_and_coins() -> None:
    assert twins.twin_keys(60.0) == (60.0, 240.0) and twins.twin_keys(300.0) == (300.0, 120.0)
    with pytest.raises(ValueError, match="whole turn"):
        twins.twin_keys(60.0, 360.0)
    coins = twins.twin_coins(1000, 3)
    assert coins.dtype == torch.bool and torch.equal(coins, twins.twin_coins(1000, 3))
    assert 400 < int(coins.sum()) < 600


def test_publish_splits_the_twins_by_the_coins() -> None:
    a, b = torch.zeros(4, 3, 2, 2), torch.ones(4, 3, 2, 2)
    coins = torch.tensor([True, False, True, False])
    published, kept = twins.publish(a, b, coins)
    assert published[:, 0, 0, 0].tolist() == [0.0, 1.0, 0.0, 1.0]
    assert torch.equal(published + kept, torch.ones_like(a))
    with pytest.raises(ValueError, match="one boolean coin per photo"):
        twins.publish(a, b, coins[:3])


def test_the_twin_test_is_the_sign_test_and_sets_ties_aside() -> None:
    found = twins.twin_test([3.0, 2.0, 5.0, 1.0, 1.0], [1.0, 1.0, 1.0, 2.0, 1.0])
    assert (found.wins, found.n, found.ties) == (3, 4, 1)
    assert found.p_value == pytest.approx(scipy.stats.binomtest(3, 4, 0.5, "greater").pvalue)
    nothing = twins.twin_test([1.0, 2.0], [1.0, 2.0])
    assert (nothing.n, nothing.p_value) == (0, 1.0)
    with pytest.raises(ValueError, match="one kept twin per published photo"):
        twins.twin_test([1.0, 2.0], [1.0])


def test_a_learner_that_saw_the_published_twins_is_found_and_the_mark_credited() -> None:
    photos, labels = _photos(30, 0), torch.zeros(30, dtype=torch.long)
    mark, coins = _blend(0.3), twins.twin_coins(30, 1)
    model = _remembering_learner(photos, mark, coins)
    a, b = mark.versions(photos)
    found = twins.twin_test_on(model, a, b, labels, coins)
    assert found.wins == 30 and found.p_value < 1e-8
    assert twins.credit(found, 1.0, LEVEL) is twins.Credit.MARK


def test_a_blend_mark_of_strength_0_is_credited_nothing_even_where_membership_passes() -> None:
    photos, labels = _photos(30, 0), torch.zeros(30, dtype=torch.long)
    mark, coins = _blend(0.0), twins.twin_coins(30, 1)
    model = _remembering_learner(photos, mark, coins)  # memorised the (unmarked) photos
    a, b = mark.versions(photos)
    assert torch.equal(a, b)  # strength 0: the twins are the photo itself
    found = twins.twin_test_on(model, a, b, labels, coins)
    assert (found.n, found.p_value) == (0, 1.0)
    others = _photos(60, 5)
    membership = adaptive.membership_test(model, photos, labels, others, labels.repeat(2), 999)
    assert membership.p_value <= LEVEL  # membership alone finds the user ...
    assert (
        twins.credit(found, membership.p_value, LEVEL) is twins.Credit.MEMBERSHIP
    )  # ... not the mark


def test_the_unmarked_user_is_credited_nothing() -> None:
    assert twins.credit(None, 1e-4, LEVEL) is twins.Credit.MEMBERSHIP
    assert twins.credit(None, 0.5, LEVEL) is twins.Credit.NOTHING
    no_mark = adaptive.TwinMark("none")
    x = _photos(3, 0)
    assert all(torch.equal(v, x) for v in no_mark.versions(x))


def test_the_twin_null_holds_its_false_positive_rate_on_innocent_users() -> None:
    """2,000 innocent users, each with 25 photos of their own and their own coins, on a learner
    that memorised someone else's twins (forward passes only): the count of false accusations at
    level 1 % stays within what a level-1 % test allows, and its Clopper-Pearson interval holds
    1 %."""
    mark = _blend(0.3)
    trained = _photos(40, 100)
    model = _remembering_learner(trained, mark, twins.twin_coins(40, 7))
    pool = _photos(400, 200)  # never trained on
    a, b = mark.versions(pool)
    labels = torch.zeros(len(pool), dtype=torch.long)
    score_a = twins.version_scores(model, twins.as_shared(a), labels)
    score_b = twins.version_scores(model, twins.as_shared(b), labels)
    p = twins.innocent_p_values(score_a, score_b, 2000, 25, seed=0)
    fpr = twins.rejections(p, LEVEL)
    assert fpr.n == 2000 and fpr.count <= allowed_rejections(2000, LEVEL)
    assert fpr.low <= LEVEL  # the measured rate is consistent with the bound


def test_rejections_is_a_count_with_its_clopper_pearson_interval() -> None:
    rate = twins.rejections([0.001, 0.2, 0.005, 0.9], 0.01)
    ci = scipy.stats.binomtest(2, 4).proportion_ci(0.95, method="exact")
    assert (rate.count, rate.n, rate.rate) == (2, 4, 0.5)
    assert (rate.low, rate.high) == pytest.approx((ci.low, ci.high))
    assert rate.summary().startswith("2/4 (50.0%; 95% CI")  # stats.Rate's one format
    with pytest.raises(ValueError, match="alpha"):
        twins.rejections([0.1], 1.5)


@pytest.mark.parametrize("count, n, confidence", [(0, 7, 0.95), (3, 200, 0.95), (9, 9, 0.9)])
def test_a_rate_from_counts_is_scipys_clopper_pearson_interval(count, n, confidence) -> None:
    rate = twins.Rate.from_counts(count, n, confidence)
    ci = scipy.stats.binomtest(count, n).proportion_ci(confidence, method="exact")
    assert (rate.count, rate.n, rate.confidence) == (count, n, confidence)
    assert (rate.low, rate.high) == pytest.approx((ci.low, ci.high), abs=0, rel=1e-12)
    assert rate.low <= count / n <= rate.high
    assert twins.rejections([0.001] * count + [0.5] * (n - count), 0.01, confidence) == rate


@pytest.mark.parametrize(
    "count, n, confidence, message",
    [
        (5, 4, 0.95, r"0 <= count <= n"),
        (-1, 4, 0.95, "0 <= count"),
        (0, 0, 0.95, "n >= 1"),
        (1.5, 4, 0.95, "whole counts"),
        (True, 4, 0.95, "whole counts"),
        (1, 4, 1.0, "confidence"),
    ],
)
def test_a_rate_from_impossible_counts_is_refused(count, n, confidence, message) -> None:
    with pytest.raises(ValueError, match=message):
        twins.Rate.from_counts(count, n, confidence)
