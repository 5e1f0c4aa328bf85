"""Kept twins (beyond the paper): a null hypothesis a user holds, whatever their mark.

Lesson 09's ownership test compares the user's photos with *reference* photos the learner never saw,
drawn from the learner's own distribution (CIFAR-10's test split). A real user has no such photos:
the paper says so itself (Sec. 5.5 (i): "a user has no knowledge about the violator's training
distribution"). Huang, Gong & Reiter (CCS 2024, "A general framework for data-use auditing of ML
models") remove the need: the user makes **two marked versions of every photo**, publishes one
chosen by a fair coin and keeps the other. Per photo, a score says how much the model likes a
version (here: the log-probability of the true class, as lesson 09's ``stats.key_scores``); the
published version *wins* when it scores higher than its kept twin.

    H0: the learner never trained on the published versions.

Under H0 the model is independent of the coins, so each (untied) photo is a win with probability
exactly 1/2, independently: the number of wins is Binomial(n, 1/2) and the one-sided binomial test
(``scipy.stats.binomtest``) bounds the false-detection rate at its level, for any model, any data
and any mark. Under H1 the model saw one version of each photo and not the other; a mark it
learned makes the published version win. The two versions differ *only* in the mark, so a win is
evidence about the mark itself, never about membership alone: a mark of strength 0 (twins equal)
ties every photo and can never reject.

Simplified from Huang et al.: they stop a sequential test early (a confidence sequence and a
Chernoff bound) and optimise each mark; here one fixed-size sign test over all the photos, with
exact ties set aside (the usual sign test, exact conditionally on the number of untied photos)
rather than broken by a coin. The coins are the user's secret, fixed before publication.

Marks made two ways: an LCT mark (eq. 5) with two keys, the user's ``k*`` and a second key
(:func:`twin_keys`); a blend mark (MembershipTracker, Chen & Pattabiraman, CCS 2025, simplified in
``adaptive``) with two patterns.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Optional

import numpy as np
import scipy.stats
import torch
from torch import Tensor, nn

from .datasets import to_float, to_uint8
from .machinery._checks import check_float_images, check_same_shape, check_sample
from .membership import sample_losses
from .stats import Rate  # re-exported: lesson 10's counts of rejections

__all__ = [
    "TWIN_OFFSET",
    "twin_keys",
    "twin_coins",
    "publish",
    "as_shared",
    "version_scores",
    "TwinTest",
    "twin_test",
    "twin_test_on",
    "innocent_p_values",
    "Rate",
    "rejections",
    "Credit",
    "credit",
]

#: How far the kept twin's key lies from the published one for an LCT mark (degrees): half a turn,
#: the farthest apart two keys can be, so that eq. 6 never confuses them (|k_a - k_b| >= tau).
TWIN_OFFSET = 180.0


def twin_keys(key: float, offset: float = TWIN_OFFSET) -> tuple[float, float]:
    """The two keys of an LCT user's twins: ``key`` (k*, eq. 5) and ``key + offset`` (mod 360)."""
    if not (math.isfinite(key) and math.isfinite(offset)) or float(offset) % 360.0 == 0.0:
        raise ValueError(
            f"twin keys need a finite key and an offset that is not a whole turn; got {key}, "
            f"{offset}."
        )
    return float(key) % 360.0, (float(key) + float(offset)) % 360.0


def twin_coins(n: int, seed: int) -> Tensor:
    """The user's secret coins, one per photo (seeded): True publishes version A, False version B.

    Fair and independent of everything the learner does: the whole validity of :func:`twin_test`
    rests on them (Huang et al., CCS 2024).
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"need at least one photo to toss a coin for; got n = {n!r}.")
    return torch.rand(n, generator=torch.Generator().manual_seed(int(seed))) < 0.5


def as_shared(images: Tensor) -> Tensor:
    """Float images as a shared photo holds them: rounded to 8 bits and back (both twins alike, so
    that the kept twin is exactly what the published one would have been)."""
    return to_float(to_uint8(check_float_images(images)))


def publish(a: Tensor, b: Tensor, coins: Tensor) -> tuple[Tensor, Tensor]:
    """Split the twins by the coins: (published, kept), each photo's version A where its coin is
    True."""
    check_same_shape(a, b, "version A", "version B")
    if coins.dtype != torch.bool or coins.shape != (len(a),):
        raise ValueError(
            f"need one boolean coin per photo: {len(a)} photos, coins of shape "
            f"{tuple(coins.shape)} and dtype {coins.dtype}."
        )
    pick = coins.view(-1, *([1] * (a.dim() - 1)))
    return torch.where(pick, a, b), torch.where(pick, b, a)


def version_scores(model: nn.Module, images: Tensor, labels: Tensor) -> Tensor:
    """Per photo, how much ``model`` likes this version: log P(y | f(x)) = -cross-entropy, float64.

    The log of lesson 09's probability (``stats.key_scores``): the twin test reads only which twin
    scores higher, the same either way, and the log never underflows to a tie."""
    return -sample_losses(model, images, labels)


@dataclass
class TwinTest:
    """One user's twin test: ``wins`` of ``n`` untied photos (``ties`` set aside) and the one-sided
    binomial p-value of H0 "the learner never trained on the published versions"."""

    __test__ = False  # not a pytest test class, despite the name

    wins: int
    n: int
    ties: int
    p_value: float

    def reject(self, alpha: float) -> bool:
        """True when the test rejects H0 at level ``alpha`` (p <= alpha)."""
        return self.p_value <= alpha

    def summary(self) -> str:
        """One line: wins of untied photos, ties, p."""
        return (
            f"{self.wins}/{self.n} published twins win ({self.ties} ties), p = {self.p_value:.2g}"
        )


def twin_test(published: object, kept: object) -> TwinTest:
    """The kept-twin test on per-photo scores (Huang et al., CCS 2024, simplified: module
    docstring): count the photos whose published version scores above its kept twin and test
    ``wins ~ Binomial(n, 1/2)`` one-sided (``scipy.stats.binomtest``); exact ties are set aside.
    No untied photo: p = 1 (nothing can be said)."""
    pub = check_sample(published, "published scores", what="score")
    kep = check_sample(kept, "kept scores", what="score")
    if len(pub) != len(kep):
        raise ValueError(
            f"need one kept twin per published photo; got {len(pub)} and {len(kep)} scores."
        )
    wins, losses = int((pub > kep).sum()), int((pub < kep).sum())
    n = wins + losses
    p = 1.0 if n == 0 else float(scipy.stats.binomtest(wins, n, 0.5, "greater").pvalue)
    return TwinTest(wins, n, len(pub) - n, p)


def twin_test_on(model: nn.Module, a: Tensor, b: Tensor, labels: Tensor, coins: Tensor) -> TwinTest:
    """:func:`twin_test` of ``model`` on twins ``a``/``b`` (float images, shared as 8-bit photos,
    :func:`as_shared`) with the user's ``coins``: forward passes only."""
    published, kept = publish(as_shared(a), as_shared(b), coins)
    return twin_test(version_scores(model, published, labels), version_scores(model, kept, labels))


def innocent_p_values(
    scores_a: object,
    scores_b: object,
    n_users: int,
    user_size: int,
    seed: int = 0,
) -> np.ndarray:
    """Twin-test p-values of ``n_users`` innocent users, from the scores of versions A and B of a
    pool of photos the learner never saw (forward passes done once; each user draws ``user_size``
    photos of the pool and tosses fresh coins, seeded).

    Given the scores, each user's wins depend only on their own coins, so the users' tests are
    independent even where their photos overlap: their rejection count at level alpha is
    Binomial(n_users, <= alpha) (:func:`rejections` gives its interval).
    """
    sa = check_sample(scores_a, "scores of version A", what="score").numpy()
    sb = check_sample(scores_b, "scores of version B", what="score").numpy()
    if len(sa) != len(sb) or not 1 <= user_size <= len(sa) or n_users < 1:
        raise ValueError(
            f"need equal pools ({len(sa)}, {len(sb)} scores), 1 <= user_size ({user_size}) <= the "
            f"pool and n_users >= 1 ({n_users})."
        )
    rng = np.random.default_rng(int(seed))
    out = np.empty(n_users)
    for u in range(n_users):
        idx = rng.choice(len(sa), size=user_size, replace=False)
        coins = rng.random(user_size) < 0.5
        pub = np.where(coins, sa[idx], sb[idx])
        kept = np.where(coins, sb[idx], sa[idx])
        out[u] = twin_test(pub, kept).p_value
    return out


def rejections(p_values: object, alpha: float, confidence: float = 0.95) -> Rate:
    """How many tests reject at level ``alpha`` (p <= alpha), with the Clopper-Pearson interval of
    the rate: over innocent users the false-positive rate, over marked users the true-positive
    rate at that FPR bound (LiRA-style TPR at low FPR). A :class:`~anw_helpers.stats.Rate`
    without ``alpha`` (the level bounds only the innocent users' rate)."""
    if not 0.0 < float(alpha) < 1.0 or not 0.0 < float(confidence) < 1.0:
        raise ValueError(f"alpha and confidence must lie in (0, 1); got {alpha}, {confidence}.")
    p = check_sample(p_values, "p_values", what="p-value")
    return Rate.from_counts(int((p <= alpha).sum()), len(p), confidence)


class Credit(enum.Enum):
    """What lesson 10's table credits a user's evidence to."""

    MARK = "the mark"  # the twin test rejects: the learner prefers the published versions
    MEMBERSHIP = "membership only"  # only the set-level test rejects: any user would pass it
    NOTHING = "nothing"


def credit(twin: Optional[TwinTest], membership_p: float, level: float) -> Credit:
    """The crediting rule of lesson 10's side-by-side: a mark is credited only with what it adds
    over membership.

    The set-level membership test (published photos against the learner's test split) passes for
    any user of a learner that memorises, marked or not, so it is never credit for a mark. Only the
    kept-twin test, whose two versions differ by the mark alone, credits the mark. ``twin`` None:
    the user made no twins (the unmarked user).
    """
    if not 0.0 < float(level) < 1.0 or not 0.0 <= float(membership_p) <= 1.0:
        raise ValueError(
            f"level must be in (0, 1) and membership_p in [0, 1]; got {level}, {membership_p}."
        )
    if twin is not None and twin.reject(level):
        return Credit.MARK
    return Credit.MEMBERSHIP if membership_p <= level else Credit.NOTHING
