"""Calibration of the ownership test on innocent users (beyond the paper; lesson 11).

The paper reads eq. 6's argmin (Sec. 4.2); :mod:`anw_helpers.stats` turns the same model queries
into a p-value under H0 "the learner never trained on these photos with this key". Whether the
test's level holds on real photos is measured here: run it on many users known to be innocent
(photos the learner never trained on: forward passes only, no training) and count false
accusations. A count over ``n`` users is reported with its Clopper-Pearson interval
(``stats.Rate``, the package's one count with an interval: ``scipy.stats.binomtest``).

Three ways to choose the reference photos an innocent user is compared with (:data:`ARMS`): all of
them, those of the same class (exact when the user's photos are never-seen photos of those classes)
and those of the same class and similar colour (``stats.matched_permutation_test``: exact for
never-seen photos; only approximate for photos unlike any reference photo, e.g. faded ones, because
its chroma bins are coarse). :func:`one_subject_data` builds lesson 11's learner whose watermarking
user photographs a single class (section f), for the lesson and for ``tools/jobs/stratified.py``.
:func:`score_reference` is the setup lessons 09 and 11 share: the never-seen reference photos
scored once at the claimed key.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from . import stats, verify
from .color import luma
from .datasets import ImageSet, to_float
from .machinery._checks import check_user_key
from .recipe import LearnerConfig
from .stats import Rate  # re-exported: the count of false accusations
from .users import LearnerData, User, _resolve_size, watermarked_training_set

__all__ = [
    "ARMS",
    "ScoredReference",
    "score_reference",
    "Rate",
    "false_positive_rate",
    "arm_p_value",
    "p_values_against",
    "leave_user_out",
    "leave_user_out_welch",
    "fade",
    "FadeLevel",
    "faded_users_calibration",
    "one_subject_data",
    "OneSubjectCheck",
    "one_subject_check",
]

#: Which reference photos an innocent user is compared with, from coarsest to finest matching.
ARMS: tuple[str, ...] = ("all classes", "same class", "same class, similar colour")


@dataclass(frozen=True)
class ScoredReference:
    """Reference photos the learner never saw, scored at the claimed key ``key``: per photo the
    cross-entropy at ``key`` and at 0 (``losses``, (N, 2): eq. 6's terms), the score ``scores``
    (the gain in the probability of the true class, ``stats.key_scores``) and ``chroma``
    (``stats.chroma``)."""

    key: float
    losses: Tensor
    scores: Tensor
    chroma: Tensor


def score_reference(
    model: torch.nn.Module,
    reference: ImageSet,
    key: float,
    chunk: int = 2500,
    progress: bool = True,
) -> ScoredReference:
    """Score every photo of ``reference`` (photos the learner never saw) at ``key``: the setup
    of lessons 09 and 11 (``2 len(reference)`` forward passes, ``chunk`` photos at a time).

    Per photo the cross-entropy at ``key`` and at 0, eq. 6's terms (Sec. 4.2,
    ``stats.per_image_losses``); from the same passes the score ``exp(-loss at key) - exp(-loss at
    0)``, the gain in the probability of the true class that ``stats.key_scores`` returns; and the
    photo's colour (``stats.chroma``, no model). ``progress`` prints a line per chunk. The test
    built on these scores is beyond the paper (Sec. 4.2 reads eq. 6's argmin only).
    """
    if not isinstance(reference, ImageSet):
        raise TypeError(
            f"reference must be an ImageSet (e.g. load_cifar10('test')); got "
            f"{type(reference).__name__}."
        )
    if len(reference) == 0:
        raise ValueError("reference holds no photos; give at least one never-seen photo.")
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk must be a whole number of photos >= 1; got {chunk!r}.")
    key = check_user_key(key)
    parts = []
    for start in range(0, len(reference), chunk):
        rows = slice(start, start + chunk)
        photos, labels = to_float(reference.images[rows]), reference.labels[rows]
        parts.append(stats.per_image_losses(model, photos, labels, [key, 0.0]))
        if progress:
            done = start + len(parts[-1])
            print(f"  scored {done:,} / {len(reference):,} reference photos", flush=True)
    losses = torch.cat(parts)  # (N, 2): loss at key, loss at 0
    scores = stats.scores_from_losses(losses)  # the gain in P(true class), as stats.key_scores
    return ScoredReference(key, losses, scores, stats.chroma(to_float(reference.images)))


def false_positive_rate(
    p_values: Sequence[float] | Tensor, alpha: float, confidence: float = 0.95
) -> Rate:
    """False accusations among innocent users at level ``alpha`` (p <= alpha), with a
    Clopper-Pearson interval (``stats.Rate``: ``scipy.stats.binomtest``, method "exact"), whose
    ``consistent`` says whether it reaches down to ``alpha``.

    A NaN p-value is an inconclusive test (``stats.matched_permutation_test`` sets grey photos
    aside): it accuses no one and counts in ``n``. The paper has no such test (Sec. 4.2 reads eq.
    6's argmin only); lesson 09, section 4, and lesson 11 measure it.
    """
    p = torch.as_tensor(p_values, dtype=torch.float64).reshape(-1)
    if len(p) == 0:
        raise ValueError("false_positive_rate needs at least one p-value; got none.")
    if not 0 < alpha < 1 or not 0 < confidence < 1:
        raise ValueError(f"alpha and confidence must lie in (0, 1); got {alpha!r}, {confidence!r}.")
    return Rate.from_counts(int((p <= alpha).sum()), len(p), confidence, alpha)


def arm_p_value(
    arm: str,
    x: Tensor,
    x_labels: Tensor,
    y: Tensor,
    y_labels: Tensor,
    n_permutations: int,
    seed: int,
    x_chroma: Tensor | None = None,
    y_chroma: Tensor | None = None,
) -> float:
    """One user's p-value (scores ``x``) against reference scores ``y``, matched as ``arm`` says.

    ``"all classes"``: ``stats.permutation_test`` unstratified; ``"same class"``: within classes;
    ``"same class, similar colour"``: ``stats.matched_permutation_test`` (needs the chroma), NaN
    when fewer than 2 of the user's photos carry colour (inconclusive: nobody is accused). The
    course's test of lesson 09, beyond the paper's eq. 6.
    """
    if arm not in ARMS:
        raise ValueError(f"arm must be one of {ARMS}; got {arm!r}.")
    if arm == ARMS[2]:
        if x_chroma is None or y_chroma is None:
            raise ValueError(f"arm {arm!r} needs x_chroma and y_chroma (stats.chroma).")
        if int((x_chroma >= stats.MIN_CHROMA).sum()) < 2:
            return math.nan
        return stats.matched_permutation_test(
            x, x_labels, x_chroma, y, y_labels, y_chroma, n_permutations, seed, keep_null=False
        ).p_value
    strata = dict(x_strata=x_labels, y_strata=y_labels) if arm == ARMS[1] else {}
    return stats.permutation_test(x, y, n_permutations, seed, keep_null=False, **strata).p_value


def p_values_against(
    arm: str,
    user_scores: Tensor,
    user_labels: Tensor,
    reference_scores: Tensor,
    reference_labels: Tensor,
    n_permutations: int,
    seed: int = 0,
) -> Tensor:
    """p-values of many users (rows of ``user_scores``, shape (users, photos)) against one fixed
    reference, user i with seed ``seed + i`` (arms without colour; lesson 09, section 5; lesson
    11, sections b-c).
    """
    return torch.tensor(
        [
            arm_p_value(arm, x, lab, reference_scores, reference_labels, n_permutations, seed + i)
            for i, (x, lab) in enumerate(zip(user_scores, user_labels))
        ],
        dtype=torch.float64,
    )


def _others(n_pool: int, rows: Tensor) -> Tensor:
    return torch.ones(n_pool, dtype=torch.bool).index_fill_(0, rows, False)


def leave_user_out(
    arm: str,
    user_rows: Sequence[Tensor] | Tensor,
    pool_scores: Tensor,
    pool_labels: Tensor,
    n_permutations: int,
    seed: int = 0,
    pool_chroma: Tensor | None = None,
    user_scores: Sequence[Tensor] | Tensor | None = None,
    user_chroma: Sequence[Tensor] | Tensor | None = None,
) -> Tensor:
    """p-value of each innocent user (the pool's photos at ``user_rows[i]``, seed ``seed + i``)
    against all the *other* pool photos: a reference that never holds the user (lesson 09, section
    4; lesson 11, section a).

    ``user_scores`` / ``user_chroma`` replace the user's own pool values (e.g. for faded copies of
    those photos); by default they are ``pool_scores[rows]`` / ``pool_chroma[rows]``. A NaN is an
    inconclusive test (:func:`arm_p_value`). Beyond the paper (eq. 6 gives no p-value).
    """
    out = []
    for i, rows in enumerate(user_rows):
        rest = _others(len(pool_scores), rows)
        x = pool_scores[rows] if user_scores is None else user_scores[i]
        colour = {}
        if pool_chroma is not None:
            xc = pool_chroma[rows] if user_chroma is None else user_chroma[i]
            colour = dict(x_chroma=xc, y_chroma=pool_chroma[rest])
        out.append(
            arm_p_value(
                arm,
                x,
                pool_labels[rows],
                pool_scores[rest],
                pool_labels[rest],
                n_permutations,
                seed + i,
                **colour,
            )
        )
    return torch.tensor(out, dtype=torch.float64)


def leave_user_out_welch(user_rows: Sequence[Tensor] | Tensor, pool_scores: Tensor) -> Tensor:
    """Welch t-test p-value of each innocent user against all other pool photos (the
    approximation lesson 11 compares with the permutation test; beyond the paper)."""
    return torch.tensor(
        [
            stats.welch_t_test(
                pool_scores[rows], pool_scores[_others(len(pool_scores), rows)]
            ).p_value
            for rows in user_rows
        ],
        dtype=torch.float64,
    )


def fade(images: Tensor, saturation: float) -> Tensor:
    """Photos (floats in [0, 1]) with their colour scaled by ``saturation`` and their luma (eq. 3's
    Y) kept: 1 leaves them, 0 makes them black-and-white."""
    if not 0 <= saturation <= 1:
        raise ValueError(f"saturation must lie in [0, 1]; got {saturation!r}.")
    y = luma(images)[:, None]
    return (y + saturation * (images - y)).clamp(0, 1)


@dataclass(frozen=True)
class FadeLevel:
    """Innocent users faded to ``saturation``: per arm their p-values (NaN: inconclusive), their
    mean score and median chroma."""

    saturation: float
    p_values: dict[str, Tensor]
    mean_score: float
    median_chroma: float

    def rate(self, arm: str, alpha: float) -> Rate:
        """The arm's false accusations at ``alpha`` (:func:`false_positive_rate`)."""
        return false_positive_rate(self.p_values[arm], alpha)


def faded_users_calibration(
    scorer: Callable[[Tensor, Tensor], Tensor],
    images: Tensor,
    labels: Tensor,
    pool_scores: Tensor,
    pool_chroma: Tensor,
    saturations: Sequence[float],
    n_users: int,
    user_size: int,
    n_permutations: int = 999,
    seed: int = 0,
    arms: Sequence[str] = ARMS[1:],
) -> list[FadeLevel]:
    """Run the stratified tests on ``n_users`` innocent users faded to each of ``saturations``.

    ``images`` / ``labels`` (uint8) are a pool of photos the learner never trained on;
    ``pool_scores`` / ``pool_chroma`` their scores (``scorer``) and ``stats.chroma`` unfaded. The
    users are ``n_users`` disjoint draws of ``user_size`` pool photos (the same photos at every
    level), faded (:func:`fade`), scored with ``scorer(images, labels)`` (forward passes only,
    e.g. ``stats.key_scores`` at the claimed key: ``2 * n_users * user_size`` passes per level) and
    tested leave-user-out (:func:`leave_user_out`) in each arm. H0 holds for every user, so each
    accusation is a false positive: read them with :meth:`FadeLevel.rate`. Faded photos are unlike
    any reference photo, so even the class-and-colour test is only approximate here: this measures
    how far its level holds. Beyond the paper (Sec. 4.2 reads eq. 6 only).
    """
    if n_users < 1 or user_size < 1 or n_users * user_size > len(images):
        raise ValueError(
            f"need n_users * user_size <= {len(images)} pool photos (both >= 1); got {n_users} x "
            f"{user_size}: lower n_users or user_size."
        )
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    rows = order[: n_users * user_size].view(n_users, user_size)
    levels = []
    for saturation in saturations:
        faded = fade(to_float(images[rows.reshape(-1)]), saturation)
        scores = scorer(faded, labels[rows.reshape(-1)]).double()
        chroma = stats.chroma(faded)
        p = {
            arm: leave_user_out(
                arm,
                rows,
                pool_scores,
                labels,
                n_permutations,
                seed,
                pool_chroma,
                scores.view(n_users, -1),
                chroma.view(n_users, -1),
            )
            for arm in arms
        }
        levels.append(FadeLevel(saturation, p, float(scores.mean()), float(chroma.median())))
    return levels


def one_subject_data(
    config: LearnerConfig, subject: str, train: ImageSet, test: ImageSet
) -> tuple[LearnerData, User]:
    """Lesson 03's kind of training set (``config.data.n_train`` CIFAR-10 training photos) with one
    watermarking user whose ``config.data.user_sizes[0]`` photos all show ``subject``, marked with
    ``config.data.keys[0]`` (eq. 5): lesson 11, section f, and ``tools/jobs/stratified.py``.

    The photos are drawn with the recipe's seed (the pool) and seed + 1 (the user's photos). Returns
    the data (its held-out user is a placeholder: the innocents are ``test``'s photos of
    ``subject``) and the user.
    """
    n, size, key = config.data.n_train, config.data.user_sizes[0], config.data.keys[0]
    if subject not in train.classes:
        raise ValueError(f"subject must be one of {train.classes}; got {subject!r}.")
    seed = config.recipe.seed
    pool = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:n]
    base = train.subset(pool.sort().values)
    mine = (base.labels == train.classes.index(subject)).nonzero().squeeze(1)
    pick = torch.randperm(len(mine), generator=torch.Generator().manual_seed(seed + 1))
    mine = mine[pick[: _resolve_size(size, len(base))]].sort().values
    owner = User(f"{subject} owner", base.images[mine], base.labels[mine], key, None, mine)
    placeholder = User("unused", test.images[:1], test.labels[:1], None)
    return LearnerData(watermarked_training_set(base, [owner]), [owner], placeholder, test), owner


@dataclass(frozen=True)
class OneSubjectCheck:
    """Section 4f on one learner: the owner's eq. 6 k_hat and gap and class-and-colour p-value;
    the innocent one-subject users' k_hat and their p-values in each of :data:`ARMS`."""

    owner_k_hat: float
    owner_gap: float
    owner_p: float
    innocent_k_hat: Tensor
    p_values: dict[str, Tensor]

    def rate(self, arm: str, alpha: float) -> Rate:
        """The innocent users' false accusations in ``arm`` (:func:`false_positive_rate`)."""
        return false_positive_rate(self.p_values[arm], alpha)


def one_subject_check(
    model: torch.nn.Module,
    owner: User,
    test: ImageSet,
    n_permutations: int = 999,
    owner_permutations: int = 9_999,
) -> OneSubjectCheck:
    """Judge a learner trained on a one-subject ``owner`` (:func:`one_subject_data`) and innocent
    users made of ``test``'s never-seen photos of the owner's class, ``len(owner)`` each.

    Eq. 6 (Sec. 4.2, ``verify.verdict``) for the owner and each innocent; the owner's
    class-and-colour test (``stats.matched_permutation_test``); each innocent tested leave-user-out
    in every arm. Forward passes only: ``2 len(test)`` for the reference scores plus 12 per photo
    of eq. 6. Beyond the paper: lesson 11, section f, and ``tools/jobs/stratified.py``.
    """
    key, photos = float(owner.key), to_float(test.images)
    s_ref, c_ref = stats.key_scores(model, photos, test.labels, key), stats.chroma(photos)
    mine = verify.verdict(model, owner.clean(), owner.labels)
    owner_p = stats.matched_permutation_test(
        stats.key_scores(model, owner.clean(), owner.labels, key),
        owner.labels,
        stats.chroma(owner.clean()),
        s_ref,
        test.labels,
        c_ref,
        owner_permutations,
        0,
        keep_null=False,
    ).p_value
    same = (test.labels == int(owner.labels[0])).nonzero().squeeze(1)
    rows = same[: len(same) // len(owner) * len(owner)].view(-1, len(owner))
    k_hat = [verify.verdict(model, photos[r], test.labels[r]).k_hat for r in rows]
    p = {a: leave_user_out(a, rows, s_ref, test.labels, n_permutations, 0, c_ref) for a in ARMS}
    return OneSubjectCheck(mine.k_hat, mine.search.gap(key), owner_p, torch.tensor(k_hat), p)
