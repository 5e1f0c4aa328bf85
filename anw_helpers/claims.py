"""What a verification may claim (beyond the paper): one decision from eq. 6 and the calibrated
tests.

Eq. 6 (Sec. 4.2) names a slot k_hat; lesson 09's ownership test (``stats.ownership_test``) gives a
p-value for "the user's photos score above photos the model never saw". That test compares the
claimed key k* with the clean photo (k = 0), so it is evidence of **membership**: the model trained
on the user's photos, hue-rotated. It is not evidence of the *key*: a model that memorised k = 60
also prefers 90 and 30 to 0 (the loss curve is smooth around the memorised key), so every key near
60 would pass it. The claim "watermarked with your key" needs the key to beat the other slots too:

    KEY TEST: for every slot k' that does not match k* (|k' - k*| >= tau), per photo
        d_i = P(y_i | f(g_k*(I_i))) - P(y_i | f(g_k'(I_i)))
    and a one-sided sign-flip permutation test of mean(d) > 0 (``scipy.stats.permutation_test``).
    k* wins when every one of these tests rejects: the largest p-value counts (an
    intersection-union test, exact at its level without a correction).

:func:`decide` turns the verdict of eq. 6 (``verify.verdict``), the membership test and the key test
into ONE :class:`Claim`, and every line a user reads (the key line and the verdict) is written from
it, so that no line can contradict another.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import scipy.stats
import torch
from torch import Tensor, nn

from .color import SIGNATURE_SLOTS
from .machinery._checks import check_user_key
from .stats import TestResult, check_permutations
from .verify import DEFAULT_TAU, Verdict, circular_distance, match, per_image_losses

__all__ = ["Claim", "Decision", "KeyTest", "key_test", "decide", "CLAIM_LEVEL"]

#: A claim needs p <= this on each calibrated test ("significant at the 1 % level").
CLAIM_LEVEL = 0.01
#: How many numbers one batch of sign flips holds at once (16 MB of float64).
_BATCH_VALUES = 2_000_000


class Claim(enum.Enum):
    """The one decision a verification reaches; every printed verdict line comes from it."""

    INCONCLUSIVE = "inconclusive"  # k_hat may not be read (or the claim cannot be tested)
    NO_EVIDENCE = "no evidence"  # nothing points at the user's key
    LEAD = "lead"  # no key given: k_hat != 0 says the model prefers some hue
    MATCH = "match"  # k_hat matches the key, without calibrated evidence: a lead
    MEMBERSHIP_ONLY = "membership only"  # trained on the photos, but the key is not shown
    KEY_EVIDENCE = "key-specific evidence"  # trained on the photos watermarked with this key


@dataclass
class KeyTest:
    """The key test (module docstring): the claimed ``key`` against every slot it does not match.

    ``p_values`` maps each rival slot to its one-sided sign-flip p-value; ``rival`` is the strongest
    (largest p), ``p_value`` its p-value (the test's), ``mean_gain`` the mean of d against it.
    """

    key: float
    rival: float
    p_value: float
    mean_gain: float
    p_values: dict[float, float] = field(default_factory=dict)
    n_permutations: int = 0

    @property
    def rivals(self) -> list[float]:
        """The slots the key had to beat."""
        return list(self.p_values)

    def summary(self) -> str:
        """One line: the strongest rival, the mean gain in probability against it, the p-value."""
        return (
            f"your key {self.key:g} against each of the {len(self.p_values)} slots it does not "
            f"match, on your photos: strongest rival {self.rival:g}, mean gain in P(true class) "
            f"{self.mean_gain:+.3f}, p = {self.p_value:.3g} (sign-flip test per slot; the largest "
            "p counts)"
        )


def _mean(x: np.ndarray, axis: int) -> np.ndarray:
    return np.mean(x, axis=axis)


def _sign_flip_p(gains: np.ndarray, n_permutations: int, seed: int) -> float:
    """One-sided sign-flip permutation p-value of mean(gains) > 0 (exact when 2^n <= B)."""
    if not np.any(gains):
        return 1.0  # all zero (grey photos): no evidence either way
    result = scipy.stats.permutation_test(
        (gains,),
        _mean,
        permutation_type="samples",
        vectorized=True,
        n_resamples=n_permutations,
        batch=max(1, _BATCH_VALUES // len(gains)),
        alternative="greater",
        rng=np.random.default_rng(seed),
    )
    return float(result.pvalue)


def key_test(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    key: float,
    color_space: Optional[Tensor] = None,
    signatures: Optional[Sequence[float]] = None,
    tau: float = DEFAULT_TAU,
    n_permutations: int = 9999,
    seed: int = 0,
) -> KeyTest:
    """Does the claimed ``key`` beat every slot it does not match, on the user's own photos?

    Eq. 6's terms (Sec. 4.2) on the probability scale: per photo, d_i = P(y_i | g_key(I_i)) -
    P(y_i | g_k'(I_i)) for each slot k' of ``signatures`` (default the 12 slots) with
    |k' - key| >= ``tau``; one-sided sign-flip test of mean(d) > 0 per slot
    (``scipy.stats.permutation_test``, ``n_permutations`` flips, exact for few photos); the largest
    p-value is the test's. Raises ValueError for a key near 0 or bad input.
    """
    key = check_user_key(key)
    n_permutations = check_permutations(n_permutations)
    slots = SIGNATURE_SLOTS if signatures is None else signatures
    rivals = [float(k) for k in slots if float(circular_distance(float(k), key)) >= tau]
    if not rivals:
        raise ValueError(f"no signature is at least tau={tau:g} away from key {key:g}.")
    losses = per_image_losses(model, images, labels, [key] + rivals, color_space)
    probs = torch.exp(-losses).cpu().numpy()  # cross-entropy is -log P(true class)
    gains = probs[:, :1] - probs[:, 1:]
    p_values = {r: _sign_flip_p(gains[:, j], n_permutations, seed) for j, r in enumerate(rivals)}
    j = max(range(len(rivals)), key=lambda i: (p_values[rivals[i]], -gains[:, i].mean()))
    return KeyTest(
        key, rivals[j], p_values[rivals[j]], float(gains[:, j].mean()), p_values, n_permutations
    )


@dataclass
class Decision:
    """The one decision of a verification and the two lines written from it."""

    claim: Claim
    key_line: str
    verdict_line: str


def _key_line(verdict: Verdict, key: Optional[float]) -> str:
    if key is None:
        return ""
    if not verdict.conclusive:
        return f"your key {key:g}: not compared, the verdict is inconclusive."
    said = "matches" if match(verdict.k_hat, key) else "does not match"
    return f"your key {key:g} {said} k_hat (|k_hat - key| < {DEFAULT_TAU:g} on the circle)."


def _claim(
    verdict: Verdict,
    key: Optional[float],
    membership: Optional[TestResult],
    keyed: Optional[KeyTest],
    alpha: float,
) -> Claim:
    """The decision table (module docstring); see :func:`decide`."""
    if not verdict.conclusive:
        return Claim.INCONCLUSIVE
    k_hat = verdict.k_hat
    if key is None:
        return Claim.NO_EVIDENCE if match(k_hat, 0.0) else Claim.LEAD
    matched = match(k_hat, key)
    if membership is not None and membership.p_value <= alpha:
        key_shown = matched and keyed is not None and keyed.p_value <= alpha
        return Claim.KEY_EVIDENCE if key_shown else Claim.MEMBERSHIP_ONLY
    return Claim.MATCH if matched else Claim.NO_EVIDENCE


def decide(
    verdict: Verdict,
    key: Optional[float],
    membership: Optional[TestResult] = None,
    keyed: Optional[KeyTest] = None,
    alpha: float = CLAIM_LEVEL,
    reference: bool = False,
) -> Decision:
    """One decision from eq. 6's verdict (Sec. 4.2), the membership test and the key test.

    * INCONCLUSIVE: eq. 6's k_hat may not be read (``verdict.conclusive`` is False).
    * KEY_EVIDENCE: k_hat matches ``key``, the membership test (``stats.ownership_test``) and the
      key test (:func:`key_test`) both have p <= ``alpha``.
    * MEMBERSHIP_ONLY: the membership test has p <= ``alpha`` but k_hat does not match the key or
      the key does not beat every other slot: the photos were trained on, the key is not shown.
    * MATCH: k_hat matches the key without calibrated evidence (a lead, not proof).
    * NO_EVIDENCE / LEAD (no key given: k_hat = 0 / k_hat != 0).

    ``reference``: whether reference photos were given (for the wording only). Returns the claim and
    the key line and verdict line written from it.
    """
    claim = _claim(verdict, key, membership, keyed, alpha)
    text = _WORDING[claim](verdict, key, membership, keyed, reference)
    return Decision(claim, _key_line(verdict, key), text)


def _p(test) -> str:
    floor = getattr(test, "p_floor", 0.0)
    bound = "<=" if test.p_value <= floor * (1 + 1e-9) else "="
    return f"p {bound} {test.p_value:.2g}"


def _inconclusive(verdict, key, membership, keyed, reference) -> str:
    return (
        "verdict: INCONCLUSIVE - "
        + " ".join(verdict.reasons())
        + " k_hat says nothing either way here."
    )


def _no_evidence(verdict, key, membership, keyed, reference) -> str:
    calibrated = (
        f" The calibrated test finds nothing either ({_p(membership)})."
        if membership is not None
        else ""
    )
    if match(verdict.k_hat, 0.0):
        return (
            "verdict: NO EVIDENCE - the model likes these photos best unmarked (k_hat = 0): "
            "nothing suggests it was trained on watermarked copies of them (not proof either: a "
            "learner that saw too few of them may not remember the hue; lesson 05)." + calibrated
        )
    return (
        f"verdict: NO EVIDENCE for your key {key:g} - the model likes these photos best "
        f"hue-rotated by {verdict.k_hat:g} degrees, which is not your key: someone else's key, or "
        "a hue the model learned for these subjects (lesson 09)." + calibrated
    )


def _lead(verdict, key, membership, keyed, reference) -> str:
    return (
        "verdict: a lead, not proof. The model likes these photos best hue-rotated by "
        f"{verdict.k_hat:g} degrees. A learner trained on copies watermarked with a key near "
        f"{verdict.k_hat:g} does this, but so can an innocent model: a random slot matches 1 time "
        "in 12, and a model that learned a hue for a subject (someone else's watermarked photos of "
        "the same kind of subject) prefers that hue for every photo of it. A claim needs --key K "
        "and --reference FOLDER (lessons 04 and 09)."
    )


def _match(verdict, key, membership, keyed, reference) -> str:
    why = (
        f"the calibrated test does not find your photos above the reference photos "
        f"({_p(membership)}), so there is no calibrated evidence."
        if membership is not None
        else "the calibrated test could not run (see above)."
        if reference
        else "this match alone is weak evidence: add --reference FOLDER with photos of the same "
        "classes that the model never saw, for a claim (lessons 04 and 09)."
    )
    return (
        f"verdict: MATCH - a lead, not proof. k_hat = {verdict.k_hat:g} matches your key "
        f"{key:g}, but an innocent model can do this too (a random slot matches 1 time in 12, and "
        "a model that learned a hue for a subject prefers it for every photo of it); " + why
    )


def _membership_only(verdict, key, membership, keyed, reference) -> str:
    if not match(verdict.k_hat, key):
        why = f"eq. 6 prefers k_hat = {verdict.k_hat:g}, which does not match your key"
    elif keyed is None:
        why = "the key test did not run"
    else:
        why = (
            f"your key does not beat slot {keyed.rival:g} on your photos ({_p(keyed)}), so a key "
            "near it explains the evidence as well"
        )
    return (
        f"verdict: MEMBERSHIP ONLY - your photos score above the reference ({_p(membership)}): "
        "evidence that the model trained on your photos hue-rotated, but NOT that it was with "
        f"your key {key:g}: {why}. Whoever holds the key it learned has the stronger claim."
    )


def _key_evidence(verdict, key, membership, keyed, reference) -> str:
    return (
        f"verdict: KEY-SPECIFIC EVIDENCE - significant at the 1 % level on both calibrated tests "
        f"(your photos above the reference, {_p(membership)}; your key above every other slot, "
        f"strongest rival {keyed.rival:g}, {_p(keyed)}): strong evidence that the model trained "
        f"on your photos watermarked with your key {key:g} (testing several claims needs a "
        "correction: lesson 09)."
    )


_WORDING = {
    Claim.INCONCLUSIVE: _inconclusive,
    Claim.NO_EVIDENCE: _no_evidence,
    Claim.LEAD: _lead,
    Claim.MATCH: _match,
    Claim.MEMBERSHIP_ONLY: _membership_only,
    Claim.KEY_EVIDENCE: _key_evidence,
}
