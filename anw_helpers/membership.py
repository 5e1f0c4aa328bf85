"""Membership inference compared with the watermark (paper Sec. 5.5, Fig. 5b-c, eq. 7).

A *threshold* membership-inference attack (MIA) calls a photo a member of the learner's training set
when the learner's loss on it is below a threshold epsilon:  "in"  iff  L(f(x), y) < epsilon.  The
attacks differ only in where epsilon comes from:

* **MIA-std** (Yeom et al., 2018): epsilon = the mean training loss, measured on a few photos known
  to be in the learner's training set.
* **MIA-pow** (Sablayrolles et al., 2019): epsilon is chosen with known members *and* known
  non-members, here the value that classifies them best (highest balanced accuracy).
* **Shadow threshold** (Shokri et al., 2017, as Sec. 5.5 applies it): a user who knows nothing about
  the learner's data trains a *shadow model* on her own photos with the learner's public recipe and
  uses its mean training loss as epsilon. The paper's point: her few photos give a shadow model far
  less training than the learner had, so its loss (the threshold) is much higher than the learner's
  losses.

The **protection advantage** of eq. 7, ``adv^P = (M - N p) / N`` (M successes in N Bernoulli trials,
p the chance of success by a random guess), puts the watermark (p = 1/12: a random slot) and the
MIAs (p = 1/2: a random yes/no) on one scale.

All losses are cross-entropy on the model's **logits** (``F.cross_entropy``). The paper's own attack
code applied ``nll_loss`` to raw logits, which is not a cross-entropy (it is minus the true class's
logit).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional, Union

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .datasets import ImageSet
from .machinery._checks import check_labelled_batch, check_sample
from .recipe import TrainingRecipe
from .train import TrainedModel, predict_logits, train_model

__all__ = [
    "sample_losses",
    "threshold_std",
    "threshold_pow",
    "decide",
    "check_threshold",
    "mia_accuracy",
    "gap_attack_accuracy",
    "protection_advantage",
    "normalised_advantage",
    "train_shadow_model",
    "shadow_threshold",
    "MIAResult",
    "evaluate_threshold",
    "combine",
]

ArrayLike = Union[Tensor, np.ndarray, Sequence[float]]


def _losses(values: ArrayLike, name: str) -> Tensor:
    """``values`` as a non-empty 1-D float64 tensor of finite, non-negative losses."""
    t = check_sample(values, name, what="loss")
    if bool((t < 0).any()):
        raise ValueError(
            f"{name} contains negative values (min {float(t.min()):.4g}); a cross-entropy is >= 0."
        )
    return t


def sample_losses(
    model: nn.Module, images: Tensor, labels: Tensor, batch_size: int = 1000
) -> Tensor:
    """Cross-entropy of ``model`` on each photo, from its logits (eval mode, no gradients): a
    float64 (N,) tensor.

    ``images`` are floats in [0, 1], (N, 3, H, W) (uint8 photos: use ``data.to_float``). This is the
    per-photo loss L that every threshold MIA of Sec. 5.5 compares with its threshold.
    """
    check_labelled_batch(images, labels)
    logits = predict_logits(model, images, batch_size)
    return F.cross_entropy(logits, labels.long().cpu(), reduction="none").double()


def threshold_std(member_losses: ArrayLike) -> float:
    """MIA-std's threshold (Yeom et al. 2018; Sec. 5.5): the mean loss of photos known to be
    training members."""
    return float(_losses(member_losses, "member_losses").mean())


def threshold_pow(member_losses: ArrayLike, nonmember_losses: ArrayLike) -> float:
    """MIA-pow's threshold (Sablayrolles et al. 2019; Sec. 5.5), calibrated on known members and
    non-members.

    Returns the threshold epsilon that maximises the balanced accuracy of "in iff loss < epsilon" on
    the calibration photos: half-way between two neighbouring sorted losses (ties: the smallest such
    epsilon).
    """
    m = _losses(member_losses, "member_losses")
    n = _losses(nonmember_losses, "nonmember_losses")
    pooled = torch.unique(torch.cat([m, n]))  # sorted
    candidates = torch.cat([pooled[:1] - 1.0, (pooled[1:] + pooled[:-1]) / 2, pooled[-1:] + 1.0])
    tpr = (m[None, :] < candidates[:, None]).double().mean(dim=1)
    tnr = (n[None, :] >= candidates[:, None]).double().mean(dim=1)
    best = int(torch.argmax(tpr + tnr))  # first maximum: the smallest best threshold
    return float(candidates[best])


def decide(losses: ArrayLike, threshold: float) -> Tensor:
    """A threshold MIA's verdicts: True ("in the training set") where the loss is below
    ``threshold``."""
    if not isinstance(threshold, (int, float)) or not np.isfinite(threshold):
        raise ValueError(f"threshold must be a finite number; got {threshold!r}.")
    return _losses(losses, "losses") < float(threshold)


#: Fitted losses whose spread is at most this, relative to max(1, largest loss), count as equal
#: (their mean may round a hair outside them); fp32 losses that differ at all differ by more.
THRESHOLD_TOLERANCE = 1e-9


def check_threshold(threshold: float, fitted_losses: ArrayLike, name: str = "threshold") -> float:
    """Check a threshold MIA's epsilon (Sec. 5.5, Fig. 5b) against the losses it was fitted on;
    raise ValueError unless it is a real threshold for them, else return it as a float.

    A real threshold is a finite number inside the range [min, max] of ``fitted_losses`` that,
    applied to them as "in iff loss < epsilon", calls at least one photo in and at least one out
    (unless the fitted losses are all equal, within ``THRESHOLD_TOLERANCE``: then any epsilon equal
    to them passes). A degenerate epsilon fails: one above every fitted loss (or +inf) calls every
    photo a member, one at or below all of them calls none.

    What each method guarantees: MIA-std's and the shadow MIA's epsilon is the mean of the losses
    it was fitted on (:func:`threshold_std`, :func:`shadow_threshold`), and a mean of unequal
    losses lies strictly between the smallest and the largest, so both pass by construction.
    MIA-pow's (:func:`threshold_pow`, fitted on known members and non-members pooled) passes
    whenever its balanced accuracy on them beats a coin (0.5); when no threshold does, it returns
    one below every loss (everyone "out"), which fails.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.floating)):
        raise ValueError(f"{name}: the threshold must be a number; got {threshold!r:.60}.")
    eps = float(threshold)
    fitted = _losses(fitted_losses, "fitted_losses")
    low, high = float(fitted.min()), float(fitted.max())
    n, span = len(fitted), f"{low:.4g}..{high:.4g}"
    if not np.isfinite(eps):
        raise ValueError(
            f"{name}: the threshold is {eps}, not a finite number; a threshold MIA compares "
            "losses with a finite epsilon (Sec. 5.5)."
        )
    tol = THRESHOLD_TOLERANCE * max(1.0, high)
    if not low - tol <= eps <= high + tol:
        side = "above" if eps > high else "below"
        raise ValueError(
            f"{name}: threshold {eps:.4g} lies {side} all {n} losses it was fitted on ({span}): "
            f"it calls every photo {'a member' if eps > high else 'a non-member'}."
        )
    called_in = decide(fitted, eps)
    if high - low > tol and (bool(called_in.all()) or not bool(called_in.any())):
        everyone = "a member" if bool(called_in.all()) else "a non-member"
        raise ValueError(
            f"{name}: threshold {eps:.4g} calls every one of the {n} photos it was fitted on "
            f"({span}) {everyone}: a degenerate attack."
        )
    return eps


def mia_accuracy(member_losses: ArrayLike, nonmember_losses: ArrayLike, threshold: float) -> float:
    """Balanced accuracy of "in iff loss < threshold": the mean of the share of members called in
    and of non-members called out (0.5 = a coin; Sec. 5.5's "MIA-std achieves 50 %")."""
    tpr = float(decide(member_losses, threshold).double().mean())
    tnr = float((~decide(nonmember_losses, threshold)).double().mean())
    return 0.5 * (tpr + tnr)


def gap_attack_accuracy(member_correct: Tensor, nonmember_correct: Tensor) -> float:
    """Balanced accuracy of the *gap attack* (Yeom et al. 2018): "in" iff the learner classifies the
    photo correctly. It needs no threshold at all: 0.5 + (accuracy on members - accuracy on
    non-members) / 2."""
    for name, t in (("member_correct", member_correct), ("nonmember_correct", nonmember_correct)):
        if not isinstance(t, Tensor) or t.dim() != 1 or len(t) == 0:
            raise ValueError(
                f"{name} must be a non-empty 1-D bool tensor (one verdict per photo); got "
                f"{t!r:.60}."
            )
    return 0.5 * (
        float(member_correct.double().mean()) + 1.0 - float(nonmember_correct.double().mean())
    )


def protection_advantage(
    successes: Union[int, Sequence[bool], Tensor],
    n_trials: Optional[int] = None,
    p_random: float = 0.5,
) -> float:
    """The protection advantage of eq. 7 for N Bernoulli trials: ``adv^P = (M - N p) / N``.

    ``successes`` is either the count M (then give ``n_trials`` = N) or one bool per trial.
    ``p_random`` is the chance that a random guess succeeds: 1/2 for an MIA's yes/no, 1/N_slots for
    the watermark's slot (1/12 with the paper's 12 slots). Ranges from -p (never right) to 1 - p
    (always right).
    """
    if not 0.0 <= float(p_random) <= 1.0:
        raise ValueError(f"p_random must be a probability in [0, 1]; got {p_random!r}.")
    if isinstance(successes, (int, np.integer)) and not isinstance(successes, bool):
        if n_trials is None or n_trials < 1:
            raise ValueError(
                f"with a count of successes, give n_trials >= 1; got n_trials = {n_trials!r}."
            )
        if not 0 <= successes <= n_trials:
            raise ValueError(f"successes must lie in 0..n_trials = {n_trials}; got {successes}.")
        m, n = int(successes), int(n_trials)
    else:
        flags = torch.as_tensor(successes)
        if flags.dim() != 1 or len(flags) == 0:
            raise ValueError(
                "successes must be a count or a non-empty 1-D sequence of bools; got shape "
                f"{tuple(flags.shape)}."
            )
        if n_trials is not None and n_trials != len(flags):
            raise ValueError(f"n_trials = {n_trials} but {len(flags)} trial outcomes were given.")
        m, n = int(flags.bool().sum()), len(flags)
    return (m - n * float(p_random)) / n


def normalised_advantage(
    successes: Union[int, Sequence[bool], Tensor],
    n_trials: Optional[int] = None,
    p_random: float = 0.5,
) -> float:
    """Eq. 7's advantage rescaled by what is left above chance: ``(M/N - p) / (1 - p)``.

    Eq. 7's ``adv^P`` is capped at ``1 - p``: 0.5 for a yes/no MIA but 11/12 for a slot, so
    comparing raw values favours the method with more outcomes. Dividing by ``1 - p`` puts every
    method on [-p / (1 - p), 1], 1 meaning always right. For a yes/no (p = 1/2) it is ``2 acc - 1``,
    Yeom et al.'s membership advantage (TPR - FPR at balanced priors) — the paper calls Yeom's
    advantage a special case of eq. 7, which holds only up to this factor of 2. The course's
    addition, not the paper's.
    """
    if not 0.0 <= float(p_random) < 1.0:
        raise ValueError(f"p_random must be a probability in [0, 1); got {p_random!r}.")
    return protection_advantage(successes, n_trials, p_random) / (1.0 - float(p_random))


def train_shadow_model(
    images: Tensor,
    labels: Tensor,
    recipe: TrainingRecipe,
    classes: Sequence[str],
    name: str = "the user",
    progress: bool = False,
) -> TrainedModel:
    """A user's shadow model (Shokri et al. 2017; Sec. 5.5): the learner's public ``recipe``
    (model, width, epochs, batch size, schedule, augmentation) trained from scratch on the user's
    own uint8 photos only.

    Load-or-train through :func:`anw_helpers.train.train_model` (cached by the photos' pixels); the
    record has the training accuracy on her photos (she has no others, so no test accuracy).
    ``name`` (the user's) labels the progress bar.
    """
    if not isinstance(images, Tensor) or images.dtype != torch.uint8 or images.dim() != 4:
        raise TypeError(
            "a shadow model trains on the user's uint8 photos (N, 3, H, W); got "
            f"{getattr(images, 'dtype', type(images))}."
        )
    if len(images) == 0:
        raise ValueError("a shadow model needs at least one of the user's photos; got none.")
    if labels.shape != (len(images),):
        raise ValueError(
            f"need one label per photo: {len(images)} photos, labels of shape "
            f"{tuple(labels.shape)}."
        )
    own = ImageSet(images.clone(), labels.long().clone(), tuple(classes))
    return train_model(recipe, own, progress=progress, desc=f"shadow model of {name}")


def shadow_threshold(shadow: nn.Module, images: Tensor, labels: Tensor) -> float:
    """The shadow MIA's threshold (Sec. 5.5): the shadow model's mean training loss on the user's
    photos (floats in [0, 1]), measured in eval mode as MIA-std measures the learner's."""
    return threshold_std(sample_losses(shadow, images, labels))


@dataclass
class MIAResult:
    """One threshold MIA on one set of members and non-members: threshold, verdicts, accuracy (Sec.
    5.5)."""

    name: str
    threshold: float
    member_in: Tensor  # (n_members,) bool: called "in"
    nonmember_in: Tensor  # (n_nonmembers,) bool: called "in" (wrongly)

    @property
    def accuracy(self) -> float:
        """Balanced accuracy: mean of the share of members called in and of non-members called
        out."""
        return 0.5 * (
            float(self.member_in.double().mean()) + 1.0 - float(self.nonmember_in.double().mean())
        )

    @property
    def correct(self) -> Tensor:
        """One bool per decision (members first): the Bernoulli trials of eq. 7."""
        return torch.cat([self.member_in, ~self.nonmember_in])

    def advantage(self) -> float:
        """adv^P of eq. 7 with p = 1/2 (a yes/no guess) over all decisions."""
        return protection_advantage(self.correct, p_random=0.5)

    def normalised_advantage(self) -> float:
        """(accuracy - 1/2) / (1/2) = 2 acc - 1 over all decisions: Yeom et al.'s membership
        advantage."""
        return normalised_advantage(self.correct, p_random=0.5)


def evaluate_threshold(
    name: str, threshold: float, member_losses: ArrayLike, nonmember_losses: ArrayLike
) -> MIAResult:
    """Apply "in iff loss < threshold" to members and non-members and keep the verdicts (an
    :class:`MIAResult`)."""
    return MIAResult(
        name,
        float(threshold),
        decide(member_losses, threshold),
        decide(nonmember_losses, threshold),
    )


def combine(name: str, results: Sequence[MIAResult]) -> MIAResult:
    """Pool several users' MIA verdicts (each with her own threshold) into one result; its
    ``threshold`` is the median of theirs (for display only: every photo was judged by its own
    user's threshold)."""
    if len(results) == 0:
        raise ValueError("combine needs at least one MIAResult; got none.")
    thresholds = [r.threshold for r in results]
    return MIAResult(
        name,
        float(np.median(thresholds)),
        torch.cat([r.member_in for r in results]),
        torch.cat([r.nonmember_in for r in results]),
    )
