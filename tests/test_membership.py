"""Membership inference and the protection advantage (Sec. 5.5, eq. 7), with losses known by
construction."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from anw_helpers import membership
from anw_helpers.datasets import ImageSet
from anw_helpers.recipe import LearnerConfig, TrainingRecipe
from anw_helpers.train import train_learner
from anw_helpers.users import LearnerData, User

TINY = TrainingRecipe(width=8, epochs=1, batch_size=64)


class FixedLogits(nn.Module):
    """Returns stored logits for a batch of images (indexed by the value of the first pixel)."""

    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("logits", logits)
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        idx = (x[:, 0, 0, 0] * (len(self.logits) - 1)).round().long()
        return self.logits[idx] + 0 * self.dummy


def test_sample_losses_are_cross_entropy_of_logits():
    logits = torch.tensor([[3.0, 0.0], [0.0, 1.0], [-2.0, 2.0]])
    images = torch.zeros(3, 3, 2, 2)
    images[:, 0, 0, 0] = torch.tensor([0.0, 0.5, 1.0])
    labels = torch.tensor([0, 0, 1])
    losses = membership.sample_losses(FixedLogits(logits), images, labels)
    expected = torch.nn.functional.cross_entropy(logits, labels, reduction="none").double()
    torch.testing.assert_close(losses, expected)
    assert losses.dtype == torch.float64 and bool((losses >= 0).all())


def test_thresholds_and_decisions():
    members, nonmembers = torch.tensor([0.01, 0.02, 0.03, 0.5]), torch.tensor([0.2, 1.0, 2.0, 3.0])
    assert membership.threshold_std(members) == pytest.approx(0.14)
    eps = membership.threshold_pow(members, nonmembers)
    assert 0.03 < eps <= 0.2  # ties (0.875 either side of 0.2..0.5) go to the smaller threshold
    assert membership.mia_accuracy(members, nonmembers, eps) == pytest.approx(0.5 * (0.75 + 1.0))
    assert membership.decide(torch.tensor([0.1, 0.3]), 0.2).tolist() == [True, False]
    # a perfectly separable case reaches 100 %; pow never does worse than std on its calibration
    # data
    assert (
        membership.mia_accuracy(
            [0.1, 0.2], [1.0, 2.0], membership.threshold_pow([0.1, 0.2], [1.0, 2.0])
        )
        == 1.0
    )
    assert membership.mia_accuracy(members, nonmembers, eps) >= membership.mia_accuracy(
        members, nonmembers, membership.threshold_std(members)
    )


def test_a_threshold_above_everything_calls_everything_in():
    """Fig. 5b: a shadow threshold above all the learner's losses gives exactly 50 %."""
    r = membership.evaluate_threshold("shadow", 10.0, [0.01, 0.1], [0.5, 2.0, 3.0])
    assert (
        r.member_in.all()
        and r.nonmember_in.all()
        and r.accuracy == 0.5
        and r.advantage() == pytest.approx(-0.1)
    )
    pooled = membership.combine(
        "pooled", [r, membership.evaluate_threshold("b", 0.05, [0.01], [1.0])]
    )
    assert len(pooled.correct) == 7 and pooled.threshold == pytest.approx(5.025)


def test_gap_attack_and_protection_advantage():
    assert (
        membership.gap_attack_accuracy(torch.tensor([True, True]), torch.tensor([True, False]))
        == 0.75
    )
    assert membership.protection_advantage(10, 10, p_random=1 / 12) == pytest.approx(11 / 12)
    assert membership.protection_advantage([True, False], p_random=0.5) == 0.0
    assert membership.protection_advantage(torch.tensor([False, False]), p_random=0.5) == -0.5
    assert math.isclose(membership.protection_advantage(3, 4, 0.25), 0.5)


@pytest.mark.parametrize(
    "bad, match",
    [([], "empty"), ([0.1, float("nan")], "NaN"), ([-1.0], "negative"), ([[0.1, 0.2]], "1-D")],
)
def test_bad_losses_raise_clear_errors(bad, match):
    with pytest.raises(ValueError, match=match):
        membership.threshold_std(torch.tensor(bad) if bad else torch.tensor([]))


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="n_trials"):
        membership.protection_advantage(3)
    with pytest.raises(ValueError, match="0..n_trials"):
        membership.protection_advantage(5, 4)
    with pytest.raises(ValueError, match="probability"):
        membership.protection_advantage([True], p_random=1.5)
    with pytest.raises(ValueError, match="finite"):
        membership.decide([0.1], float("nan"))
    with pytest.raises(ValueError, match="at least one"):
        membership.combine("x", [])
    with pytest.raises(ValueError, match="at least one of the user's photos"):
        membership.train_shadow_model(
            torch.zeros(0, 3, 32, 32, dtype=torch.uint8),
            torch.zeros(0, dtype=torch.long),
            TINY,
            ("a",),
        )


def test_shadow_model_trains_on_the_users_photos_only(tmp_path, monkeypatch):
    monkeypatch.setenv("ANW_CACHE", str(tmp_path))
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8, generator=g)
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    shadow = membership.train_shadow_model(images, labels, TINY, tuple("abc"), progress=False)
    assert not shadow.from_cache and shadow.recipe == TINY
    assert 0.0 <= shadow.record.train_accuracy <= 1.0 and len(shadow.record.epoch_loss) == 1
    eps = membership.shadow_threshold(shadow.model, images.float() / 255, labels)
    assert math.isfinite(eps) and eps > 0
    again = membership.train_shadow_model(images, labels, TINY, tuple("abc"), progress=False)
    assert again.from_cache
    # the same model as before the recipe split, when a shadow model was a learner whose test set
    # was its training set (train_learner on a LearnerData of the user's photos)
    own = ImageSet(images, labels, tuple("abc"))
    user = User("u", images, labels, None, None, torch.arange(6))
    before = train_learner(
        LearnerConfig(recipe=TINY), data=LearnerData(own, [user], user, own), progress=False
    )
    for (name, a), b in zip(before.model.state_dict().items(), shadow.model.state_dict().values()):
        assert torch.equal(a, b), name


def test_lesson_08_figures_draw_and_check_their_input():
    from matplotlib.figure import Figure

    from anw_helpers import plots as pc

    fig = pc.plot_mia_thresholds(
        [torch.rand(3)] * 2, [torch.rand(3) * 3] * 2, [0.0, 1.0], ["2", "3"], {"MIA-std": 0.1}
    )
    assert isinstance(fig, Figure)
    assert isinstance(pc.plot_protection_advantage({"ANW": 0.6, "MIA-std": 0.2}), Figure)
    assert isinstance(
        pc.plot_memorisation({"clean": (0.3, 0.05), "watermarked": (0.4, 0.05)}, "t"), Figure
    )
    with pytest.raises(ValueError, match="one entry per user"):
        pc.plot_mia_thresholds([torch.rand(3)], [], [1.0], ["a"])
    with pytest.raises(ValueError, match="empty"):
        pc.plot_protection_advantage({})


def test_normalised_advantage_is_yeoms_for_a_yes_no_and_puts_slots_on_the_same_scale():
    # a yes/no right 3 times in 4: eq. 7 gives 0.25, Yeom's advantage 2 acc - 1 = 0.5
    assert membership.normalised_advantage(3, 4, p_random=0.5) == pytest.approx(0.5)
    assert membership.normalised_advantage(10, 10, p_random=1 / 12) == pytest.approx(1.0)
    assert membership.normalised_advantage(0, 12, p_random=1 / 12) == pytest.approx(-1 / 11)
    result = membership.evaluate_threshold("t", 1.0, [0.5, 0.5, 2.0, 0.5], [2.0, 0.5, 2.0, 2.0])
    assert result.normalised_advantage() == pytest.approx(2 * result.accuracy - 1)
    with pytest.raises(ValueError, match="p_random"):
        membership.normalised_advantage(1, 2, p_random=1.0)


def test_check_threshold_passes_the_methods_own_thresholds():
    """Sec. 5.5: MIA-std's and the shadow's epsilon is a mean of the losses it was fitted on, and
    MIA-pow's separates its calibration photos: each is a real threshold for them."""
    members, nonmembers = torch.tensor([0.01, 0.02, 0.03, 0.5]), torch.tensor([0.2, 1.0, 2.0, 3.0])
    eps_std = membership.threshold_std(members)
    assert membership.check_threshold(eps_std, members, "MIA-std") == eps_std
    pooled = torch.cat([members, nonmembers])
    eps_pow = membership.threshold_pow(members, nonmembers)
    assert membership.check_threshold(eps_pow, pooled, "MIA-pow") == eps_pow
    # a shadow that fitted every photo to the same loss (0 in float32): its mean is that loss
    assert membership.check_threshold(membership.threshold_std([0.0, 0.0]), [0.0, 0.0]) == 0.0
    # equal losses whose float64 mean rounds a hair above them still pass
    third = [0.1, 0.1, 0.1]
    assert membership.threshold_std(third) != 0.1
    membership.check_threshold(membership.threshold_std(third), third)


@pytest.mark.parametrize(
    "threshold, words",
    [
        (3.5, "above all 4 losses.*every photo a member"),  # calls everyone in
        (float("inf"), "not a finite number"),
        (float("nan"), "not a finite number"),
        (0.0, "below all 4 losses.*every photo a non-member"),  # calls no one in
        (0.01, "calls every one of the 4 photos.*a non-member"),  # at the minimum: no one in
        ("0.1", "must be a number"),
    ],
)
def test_check_threshold_fails_a_degenerate_threshold(threshold, words):
    """The positive control of lesson 08: a threshold that calls every photo a member (or none)
    fails the check."""
    with pytest.raises(ValueError, match=words):
        membership.check_threshold(threshold, [0.01, 0.02, 0.03, 0.5], "control")


def test_check_threshold_fails_mia_pow_when_nothing_beats_a_coin():
    """MIA-pow falls back to a threshold below every loss (everyone out, 50 %) when its members'
    losses are no lower than its non-members': the check catches it."""
    members, nonmembers = torch.tensor([1.0, 2.0]), torch.tensor([0.1, 0.2])
    eps = membership.threshold_pow(members, nonmembers)
    assert membership.mia_accuracy(members, nonmembers, eps) == 0.5
    with pytest.raises(ValueError, match="below all 4 losses"):
        membership.check_threshold(eps, torch.cat([members, nonmembers]), "MIA-pow")


def test_check_threshold_rejects_bad_fitted_losses():
    with pytest.raises(ValueError, match="empty"):
        membership.check_threshold(0.1, torch.tensor([]))
    with pytest.raises(ValueError, match="negative"):
        membership.check_threshold(0.1, [-1.0, 0.5])
