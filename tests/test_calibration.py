"""anw_helpers.calibration: false-positive counts over innocent users (lessons 09 and 11)."""

from __future__ import annotations

import math

import pytest
import scipy.stats
import torch

from anw_helpers import calibration, stats, twins
from anw_helpers.color import luma
from anw_helpers.datasets import ImageSet, to_float
from anw_helpers.recipe import LearnerConfig

N_POOL, N_USERS, USER_SIZE = 1500, 200, 5


def _pool(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random photos with colour from grey to full (as real photos: not all equally colourful)."""
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(N_POOL, 3, 4, 4, generator=g)
    saturation = torch.rand(N_POOL, 1, 1, 1, generator=g)
    y = luma(images)[:, None]
    images = (255 * (y + saturation * (images - y))).round().to(torch.uint8)
    return images, torch.randint(0, 10, (N_POOL,), generator=g)


def _noise(images: torch.Tensor, labels: torch.Tensor, seed: int = 1) -> torch.Tensor:
    """A toy scorer for which H0 holds: scores independent of the photos (and of their colour)."""
    return torch.randn(len(images), generator=torch.Generator().manual_seed(seed)).double()


def _calibrate(scorer, saturations=(0.5, 0.1)) -> list[calibration.FadeLevel]:
    images, labels = _pool()
    pool_scores = _noise(images, labels, seed=2)
    return calibration.faded_users_calibration(
        scorer,
        images,
        labels,
        pool_scores,
        stats.chroma(to_float(images)),
        saturations,
        N_USERS,
        USER_SIZE,
        n_permutations=199,
    )


def test_under_h0_the_false_positive_count_is_consistent_with_alpha():
    for level in _calibrate(_noise):
        for arm in calibration.ARMS[1:]:
            for alpha in (0.05, 0.1):
                rate = level.rate(arm, alpha)
                assert rate.n == N_USERS
                assert rate.count <= stats.allowed_rejections(N_USERS, alpha), (arm, rate)
                assert rate.consistent and rate.low <= alpha <= rate.high, (arm, rate)


def test_a_scorer_that_always_looks_guilty_is_caught_every_time():
    def broken(images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return torch.full((len(images),), 10.0, dtype=torch.float64)

    for level in _calibrate(broken, saturations=(0.5,)):
        assert level.rate("same class", 0.05).count == N_USERS
        # the colour arm sets near-grey photos aside, and a user left with one or two colourful
        # photos in tiny strata cannot reach p <= 0.05: all but a few are accused
        rate = level.rate("same class, similar colour", 0.05)
        assert rate.count >= N_USERS - 5 and not rate.consistent


def test_black_and_white_users_are_inconclusive_in_the_colour_arm_and_accuse_no_one():
    (grey,) = _calibrate(_noise, saturations=(0.0,))
    p = grey.p_values[calibration.ARMS[2]]
    assert bool(p.isnan().all()) and grey.rate(calibration.ARMS[2], 0.05).count == 0
    assert grey.median_chroma < 1e-6


def test_false_positive_rate_is_clopper_pearson_and_counts_nan_as_not_accused():
    p = [0.01, 0.2, math.nan, 0.04, 0.9]
    rate = calibration.false_positive_rate(p, 0.05)
    ci = scipy.stats.binomtest(2, 5).proportion_ci(0.95, method="exact")
    assert (rate.count, rate.n) == (2, 5)
    assert (rate.low, rate.high) == pytest.approx((ci.low, ci.high))
    assert "2/5 (40.0%" in rate.summary()
    with pytest.raises(ValueError, match="at least one"):
        calibration.false_positive_rate([], 0.05)


@pytest.mark.parametrize(
    "p_values, alpha, confidence",
    [([0.01, 0.2, math.nan, 0.04, 0.9], 0.05, 0.95), ([0.001] * 3 + [0.5] * 197, 0.01, 0.9)],
)
def test_lessons_10_and_11_count_with_one_rate_and_get_one_interval(p_values, alpha, confidence):
    """One class for a count and its Clopper-Pearson interval (stats.Rate): lesson 11's false
    accusations and lesson 10's kept-twin rejections give the same interval for the same counts."""
    assert calibration.Rate is twins.Rate is stats.Rate
    fpr = calibration.false_positive_rate(p_values, alpha, confidence)
    rejected = twins.rejections([1.0 if math.isnan(p) else p for p in p_values], alpha, confidence)
    assert (fpr.count, fpr.n, fpr.low, fpr.high, fpr.confidence) == (
        rejected.count,
        rejected.n,
        rejected.low,
        rejected.high,
        rejected.confidence,
    )
    assert fpr == stats.Rate.from_counts(rejected.count, rejected.n, confidence, alpha=alpha)
    assert fpr.summary() == rejected.summary()


def test_a_rate_is_consistent_only_when_its_interval_reaches_its_level():
    assert stats.Rate.from_counts(1, 100, alpha=0.01).consistent
    assert not stats.Rate.from_counts(10, 100, alpha=0.01).consistent  # 95 % CI 4.9 %-17.6 %
    with pytest.raises(ValueError, match="no level alpha"):
        _ = stats.Rate.from_counts(1, 100).consistent
    with pytest.raises(ValueError, match="alpha"):
        stats.Rate.from_counts(1, 100, alpha=1.5)


def test_the_class_only_arm_rescues_one_class_users_whose_class_scores_high():
    # a learner that likes the hue for a whole class: class 0's never-seen photos all score higher
    g = torch.Generator().manual_seed(3)
    labels = torch.arange(2000) % 10
    scores = torch.randn(2000, generator=g).double() + 3.0 * (labels == 0)
    users = (labels == 0).nonzero().squeeze(1)[:200].view(20, 10)  # 20 innocent one-class users
    p_all = calibration.leave_user_out("all classes", users, scores, labels, 199)
    p_class = calibration.leave_user_out("same class", users, scores, labels, 199)
    assert calibration.false_positive_rate(p_all, 0.05).count == 20
    assert calibration.false_positive_rate(p_class, 0.05).count <= stats.allowed_rejections(
        20, 0.05
    )


def test_arms_are_checked_and_the_colour_arm_needs_chroma():
    x, lab = torch.randn(5).double(), torch.zeros(5, dtype=torch.long)
    with pytest.raises(ValueError, match="arm must be one of"):
        calibration.arm_p_value("by camera", x, lab, x, lab, 9, 0)
    with pytest.raises(ValueError, match="needs x_chroma"):
        calibration.arm_p_value(calibration.ARMS[2], x, lab, x, lab, 9, 0)


def test_p_values_against_one_reference_match_the_permutation_test():
    g = torch.Generator().manual_seed(4)
    users, ref = torch.randn(3, 6, generator=g).double(), torch.randn(50, generator=g).double()
    labels, ref_labels = torch.zeros(3, 6, dtype=torch.long), torch.zeros(50, dtype=torch.long)
    p = calibration.p_values_against("same class", users, labels, ref, ref_labels, 99, seed=7)
    expected = stats.permutation_test(users[2], ref, 99, 9, x_strata=labels[2], y_strata=ref_labels)
    assert p[2] == expected.p_value


def test_fade_keeps_luma_and_scales_colour():
    x = to_float(_pool()[0][:8])
    torch.testing.assert_close(luma(calibration.fade(x, 0.25)), luma(x), atol=1e-5, rtol=0)
    grey = calibration.fade(x, 0.0)
    assert float(stats.chroma(grey).max()) < 1e-6
    with pytest.raises(ValueError, match="saturation"):
        calibration.fade(x, 1.5)


def test_faded_users_calibration_refuses_more_photos_than_the_pool_holds():
    images, labels = _pool()
    with pytest.raises(ValueError, match="lower n_users"):
        calibration.faded_users_calibration(
            _noise, images, labels, torch.zeros(N_POOL), torch.ones(N_POOL), (0.5,), 400, 5
        )


def test_one_subject_data_marks_one_class_only():
    g = torch.Generator().manual_seed(5)
    train = ImageSet(
        torch.randint(0, 256, (300, 3, 4, 4), generator=g, dtype=torch.uint8),
        torch.arange(300) % 3,
        ("cat", "dog", "ship"),
    )
    config = LearnerConfig().with_(n_train=200, user_sizes=(12,), keys=(60.0,))
    data, owner = calibration.one_subject_data(config, "dog", train, train)
    assert len(owner) == 12 and bool((owner.labels == 1).all()) and owner.key == 60.0
    pool = torch.randperm(300, generator=torch.Generator().manual_seed(0))[:200].sort().values
    base = train.subset(pool)
    assert torch.equal(owner.images, base.images[owner.indices])  # the owner's clean photos
    moved = (data.train.images != base.images).flatten(1).any(1)
    assert moved.nonzero().squeeze(1).tolist() == owner.indices.tolist()  # only hers are marked
    with pytest.raises(ValueError, match="subject must be one of"):
        calibration.one_subject_data(config, "horse", train, train)


def test_one_subject_check_runs_every_arm_on_the_innocent_users_of_the_owners_class():
    g = torch.Generator().manual_seed(6)
    photos = ImageSet(
        torch.randint(0, 256, (300, 3, 4, 4), generator=g, dtype=torch.uint8),
        torch.arange(300) % 3,
        ("cat", "dog", "ship"),
    )
    config = LearnerConfig().with_(n_train=200, user_sizes=(12,), keys=(60.0,))
    _, owner = calibration.one_subject_data(config, "dog", photos, photos)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(48, 3)).eval()
    check = calibration.one_subject_check(model, owner, photos, 99, 99)
    assert len(check.innocent_k_hat) == 100 // 12  # the test set's dogs, 12 photos each
    assert set(check.p_values) == set(calibration.ARMS)
    assert all(len(p) == 8 for p in check.p_values.values())
    assert 0 < check.owner_p <= 1 and check.rate("same class", 0.05).n == 8


def _tiny_reference(n: int = 7) -> ImageSet:
    g = torch.Generator().manual_seed(8)
    return ImageSet(
        torch.randint(0, 256, (n, 3, 4, 4), generator=g, dtype=torch.uint8),
        torch.arange(n) % 3,
        ("cat", "dog", "ship"),
    )


def test_score_reference_gives_the_losses_scores_and_colour_of_one_pass_over_each_chunk(capsys):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(48, 3)).eval()
    reference = _tiny_reference()
    photos = to_float(reference.images)
    scored = calibration.score_reference(model, reference, 60.0, chunk=3)  # chunks of 3, 3, 1
    assert capsys.readouterr().out.splitlines()[-1] == "  scored 7 / 7 reference photos"
    whole = stats.per_image_losses(model, photos, reference.labels, [60.0, 0.0])
    torch.testing.assert_close(scored.losses, whole)
    torch.testing.assert_close(
        scored.scores, stats.key_scores(model, photos, reference.labels, 60.0)
    )
    assert torch.equal(scored.chroma, stats.chroma(photos)) and scored.key == 60.0
    # the scores are read at the claimed key: another key's scores differ
    other = calibration.score_reference(model, reference, 120.0, progress=False)
    assert not torch.allclose(other.scores, scored.scores)
    assert capsys.readouterr().out == ""


def test_score_reference_refuses_bad_input_in_one_line():
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(48, 3))
    reference = _tiny_reference()
    with pytest.raises(TypeError, match="must be an ImageSet"):
        calibration.score_reference(model, reference.images, 60.0)
    with pytest.raises(ValueError, match="holds no photos"):
        calibration.score_reference(model, reference.subset(torch.arange(0)), 60.0)
    with pytest.raises(ValueError, match="chunk must be"):
        calibration.score_reference(model, reference, 60.0, chunk=0)
    with pytest.raises(ValueError, match="within"):
        calibration.score_reference(model, reference, 0.0)
