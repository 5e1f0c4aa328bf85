"""The learner fights back (lesson 10): adaptive training against colour marks, a detector of
marked photos, and a blend mark to compare.

Beyond the paper. The paper (Sec. 5.3, Fig. 3) tests defences a learner uses anyway; a learner who
knows about LCT watermarks can do better. Image Shortcut Squeezing (Liu et al., ICML 2023) defeats
colour- and noise-based data protections by training on grayscale or JPEG-compressed images. Here:

- ``luma`` learners (``models.LumaOnly``): the YIQ hue rotation of eq. 4-5 keeps luma Y, so a
  learner that sees only Y never sees the mark; a user-specific colour space T (Sec. 5.4) does not
  keep luma, so its mark should reach such a learner.
- JPEG squeezing (``augment.jpeg_squeeze``) and full-circle hue jitter (``augment``'s
  ``hue_jitter_full``) as training recipes.
- A detector: can the learner find hue-rotated photos in its training set from colour statistics
  alone (:func:`hue_outlier_scores`, ``stats.auc``)?
- A blend mark in the spirit of MembershipTracker (Chen & Pattabiraman, CCS 2025), simplified: a
  user blends every photo with a secret noise pattern (:func:`blend_mark`).
- Every user, every test (:func:`mark_verdicts`): eq. 6, the kept-twin test of Huang, Gong &
  Reiter (CCS 2024; ``twins``: each photo marked twice, one version published by a coin, the other
  kept as the null) and the set-level membership test against the learner's test split
  (:func:`membership_test`, which a real user does not have: Sec. 5.5 (i)). A mark is credited only
  with what the twin test adds over membership (``twins.credit``).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import Tensor, nn

from . import twins
from .color import YIQ, apply_color_matrix, luma, rgb_to_yiq, watermark
from .datasets import ImageSet, _digest, to_float, to_uint8
from .machinery._checks import (
    check_color_space,
    check_float_images,
    check_labelled_batch,
    check_same_shape,
    check_uint8_images,
)
from .membership import sample_losses
from .stats import Rate, TestResult, auc, permutation_test  # auc: the package's one AUC
from .users import LearnerData, User, make_users
from .verify import SearchResult, verify_users

__all__ = [
    "BLEND_ALPHA",
    "blend_pattern",
    "blend_mark",
    "blend_mark_uint8",
    "tilted_color_space",
    "tilt_azimuths",
    "luma_change",
    "estimate_rotation",
    "blend_strength",
    "hue_features",
    "hue_outlier_scores",
    "looks_marked",
    "auc",
    "membership_test",
    "circular_mean",
    "USERS",
    "TwinMark",
    "MarkedUsers",
    "marked_users_data",
    "INNOCENT_USERS",
    "MarkVerdict",
    "mark_verdicts",
    "JpegSurvival",
    "jpeg_survival",
    "Detection",
    "detection_by_key",
]

#: The blend mark's ratio: each photo becomes (1 - alpha) x + alpha P for the user's noise pattern
#: P. MembershipTracker blends with ratios of this order; 0.1 keeps the photo recognisable (the
#: lesson measures its PSNR).
BLEND_ALPHA = 0.1


# ---------------------------------------------------------------------------------- blend mark
def blend_pattern(seed: int, height: int = 32, width: int = 32) -> Tensor:
    """A user's secret noise pattern: uniform [0, 1] values, shape (3, ``height``, ``width``),
    seeded."""
    if height < 1 or width < 1:
        raise ValueError(f"a pattern needs height and width >= 1; got {height} x {width}.")
    g = torch.Generator().manual_seed(int(seed))
    return torch.rand(3, height, width, generator=g)


def blend_mark(images: Tensor, pattern: Tensor, alpha: float = BLEND_ALPHA) -> Tensor:
    """Blend float images in [0, 1] with ``pattern``: ``(1 - alpha) x + alpha P`` (stays in [0, 1]).

    The simplified MembershipTracker mark of lesson 10 (Chen & Pattabiraman, CCS 2025, blend
    ``ratio x + (1 - ratio) outlier`` with ratio 0.7, i.e. alpha 0.3 here, plus 8/255 noise per
    photo; the course blends less and adds no noise). ``alpha`` 0 returns the photos: a mark of
    strength 0.
    """
    check_float_images(images)
    if not 0.0 <= float(alpha) < 1.0:
        raise ValueError(f"the blend ratio alpha must be in [0, 1) (0: no mark); got {alpha}.")
    if pattern.shape != images.shape[-3:]:
        raise ValueError(
            f"the pattern's shape {tuple(pattern.shape)} does not match the images' "
            f"{tuple(images.shape[-3:])}; draw it with blend_pattern(seed, height, width)."
        )
    return (1.0 - alpha) * images + alpha * pattern.to(images.device, images.dtype)


def blend_mark_uint8(images: Tensor, pattern: Tensor, alpha: float = BLEND_ALPHA) -> Tensor:
    """:func:`blend_mark` on uint8 photos, rounded back to uint8 as a shared photo is."""
    return to_uint8(blend_mark(to_float(check_uint8_images(images)), pattern, alpha))


# ------------------------------------------------------------------------------- what survives
def tilted_color_space(tilt: float, azimuth: float = 0.0) -> Tensor:
    """A user-specific colour space that does not keep luma: YIQ (eq. 3) with its luma axis tilted
    by ``tilt`` degrees towards the direction ``azimuth`` (degrees) of the I-Q plane, float64.

    Watermarking in it (eq. 5 with this T) rotates colours about the tilted axis, so luma changes
    by an amount that grows with the tilt (0: exactly YIQ). The course's alternative to Sec. 5.4's
    T ~ U(-1, 1), whose marks clip most pixels (lesson 10 measures both).
    """
    if not (math.isfinite(tilt) and math.isfinite(azimuth)) or not 0.0 <= tilt <= 90.0:
        raise ValueError(
            f"tilt must be an angle in [0, 90] degrees and azimuth finite; got {tilt}, {azimuth}."
        )
    phi, az = math.radians(tilt), math.radians(azimuth)
    luma_axis = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    toward = torch.tensor([0.0, math.cos(az), math.sin(az)], dtype=torch.float64)
    k = torch.outer(toward, luma_axis) - torch.outer(luma_axis, toward)
    rotation = torch.eye(3, dtype=torch.float64) + math.sin(phi) * k + (1 - math.cos(phi)) * k @ k
    return rotation @ YIQ


def tilt_azimuths(n_users: int, seed: int = 0) -> Tensor:
    """Each of ``n_users`` users' own direction of tilt for :func:`tilted_color_space`: degrees,
    uniform in [0, 360), seeded (float32, one per user, watermarking or not).

    The course's user-specific tilted rotation (lesson 07): user u marks in
    ``tilted_color_space(tilt, azimuths[u])``, a secret direction in place of Sec. 5.4's
    T_u ~ U(-1, 1) (Fig. 5a's "each user their own LCT"); ``tools/jobs/tilted.py`` trains on it.
    """
    if isinstance(n_users, bool) or not isinstance(n_users, int) or n_users < 1:
        raise ValueError(f"n_users must be a whole number >= 1; got {n_users!r}.")
    return 360.0 * torch.rand(n_users, generator=torch.Generator().manual_seed(int(seed)))


def luma_change(images: Tensor, key: float, color_space: Optional[Tensor] = None) -> Tensor:
    """Mean absolute change of luma Y (eq. 3) that watermarking with ``key`` causes, per image.

    About 0 for YIQ (eq. 4-5 rotate only the I-Q plane; what remains comes from clipping), and
    clearly above 0 for a random colour space T (Sec. 5.4), whose rotation mixes luma in.
    """
    check_float_images(images)
    marked = watermark(images, key, color_space)
    return (luma(marked) - luma(images)).abs().mean(dim=(-2, -1))


def _chroma_coordinates(images: Tensor, color_space: Optional[Tensor]) -> Tensor:
    """The rotated plane's two coordinates per pixel, shape (N, 2, H*W): (I, Q) in YIQ, else the
    last two coordinates of T v."""
    coords = apply_color_matrix(images, YIQ if color_space is None else color_space)
    return coords[:, 1:].flatten(2)


def estimate_rotation(
    clean: Tensor, marked: Tensor, color_space: Optional[Tensor] = None
) -> Tensor:
    """The hue rotation (degrees in [0, 360)) that best maps each clean image onto its marked
    version, in the least-squares sense, in YIQ's I-Q plane (or in ``color_space``'s rotated plane).

    For a mark of eq. 5 with key k it returns about k; for a photo that went through JPEG it says
    whether the rotation survived the compression (lesson 10). Per image: the angle of
    ``sum(a * conj(b))`` over pixels, with a and b the complex chroma of marked and clean.
    """
    check_float_images(clean, "clean")
    check_float_images(marked, "marked")
    check_same_shape(clean, marked, "clean", "marked")
    a = _chroma_coordinates(marked.reshape(-1, *marked.shape[-3:]).double(), color_space)
    b = _chroma_coordinates(clean.reshape(-1, *clean.shape[-3:]).double(), color_space)
    cross = (b[:, 0] * a[:, 1] - b[:, 1] * a[:, 0]).sum(dim=1)
    dot = (b[:, 0] * a[:, 0] + b[:, 1] * a[:, 1]).sum(dim=1)
    return torch.rad2deg(torch.atan2(cross, dot)).remainder(360.0)


def blend_strength(clean: Tensor, marked: Tensor, pattern: Tensor) -> Tensor:
    """The blend ratio each marked image carries: the least-squares alpha in
    ``marked - clean = alpha (P - clean)``, per image (about ``BLEND_ALPHA`` for a fresh mark).

    After JPEG it measures how much of the noise pattern survived the compression (lesson 10).
    """
    check_float_images(clean, "clean")
    check_float_images(marked, "marked")
    check_same_shape(clean, marked, "clean", "marked")
    direction = (pattern.to(clean.dtype) - clean).flatten(1)
    change = (marked - clean).flatten(1)
    return (change * direction).sum(1) / (direction * direction).sum(1).clamp_min(1e-12)


# ---------------------------------------------------------------------------------- detection
def hue_features(images: Tensor) -> Tensor:
    """Each photo's colour statistics a learner can compute without any key: mean I, mean Q and
    their standard deviations (YIQ, eq. 3), shape (N, 4)."""
    check_float_images(images)
    iq = rgb_to_yiq(images.double())[:, 1:].flatten(2)
    return torch.cat([iq.mean(dim=2), iq.std(dim=2)], dim=1)


def hue_outlier_scores(
    images: Tensor, labels: Tensor, reference_images: Tensor, reference_labels: Tensor
) -> Tensor:
    """How unusual each photo's colours are for its class: the squared Mahalanobis distance of its
    :func:`hue_features` from the class's reference photos (higher: more suspicious).

    The learner's detector of lesson 10: it knows no key, only what photos of a class usually look
    like (its own training set serves as reference; a few marked photos barely move the class
    statistics).
    """
    check_labelled_batch(images, labels, "images")
    check_labelled_batch(reference_images, reference_labels, "reference_images")
    feats, ref = hue_features(images), hue_features(reference_images)
    scores = torch.empty(len(images), dtype=torch.float64)
    for c in labels.unique().tolist():
        in_ref = ref[reference_labels == c]
        if len(in_ref) < 10:
            raise ValueError(
                f"class {c} has {len(in_ref)} reference photos; need at least 10 to know what "
                "its photos look like."
            )
        mean = in_ref.mean(0)
        cov = torch.cov(in_ref.T) + 1e-6 * torch.eye(in_ref.shape[1], dtype=torch.float64)
        diff = feats[labels == c] - mean
        scores[labels == c] = (diff @ torch.linalg.inv(cov) * diff).sum(1)
    return scores


def looks_marked(
    images: Tensor,
    labels: Tensor,
    reference_images: Tensor,
    reference_labels: Tensor,
    key: float,
    color_space: Optional[Tensor] = None,
) -> tuple[float, float]:
    """Do the user's "clean" photos look already marked with ``key``? (A common mistake: verifying
    with the watermarked copies, which makes eq. 6's k_hat 0.)

    Returns the median :func:`hue_outlier_scores` of the photos as given and after undoing the mark
    (``color.remove_watermark``: g_-key of eq. 5), both against the reference photos of their
    classes. Marked copies look far more natural undone; clean photos look less natural rotated.
    """
    from .color import remove_watermark

    given = hue_outlier_scores(images, labels, reference_images, reference_labels)
    undone = hue_outlier_scores(
        remove_watermark(images, key, color_space), labels, reference_images, reference_labels
    )
    return float(given.median()), float(undone.median())


# --------------------------------------------------------------------------- set-level testing
def membership_test(
    model: nn.Module,
    published: Tensor,
    published_labels: Tensor,
    unpublished: Tensor,
    unpublished_labels: Tensor,
    n_permutations: int = 9999,
    seed: int = 0,
) -> TestResult:
    """Set-level membership test (MembershipTracker's verification, simplified): are the model's
    losses on the user's ``published`` photos lower than on photos of the same kind it never saw?

    Both sets are float images as the learner received them (for the blend mark: marked). The score
    of a photo is its negative loss; the class-stratified permutation test of lesson 09
    (:func:`stats.permutation_test`) gives the one-sided p-value of H0 "the published photos are
    just more photos the learner never saw". A learner that memorises every training photo fails
    this test for any user, marked or not: the lesson runs it on an unmarked user too.
    """
    member = -sample_losses(model, published, published_labels)
    reference = -sample_losses(model, unpublished, unpublished_labels)
    return permutation_test(
        member,
        reference,
        n_permutations,
        seed,
        x_strata=published_labels,
        y_strata=unpublished_labels,
    )


# ------------------------------------------------------------------------------------- the data
#: Lesson 10's users, in order, and their marks.
USERS: tuple[tuple[str, str], ...] = (
    ("YIQ user", "YIQ"),
    ("own-T user", "own T"),
    ("blend user", "blend"),
    ("unmarked user", "none"),
)


@dataclass
class TwinMark:
    """How one user marks the two versions of each photo (kept twins, ``twins`` module; Huang,
    Gong & Reiter, CCS 2024).

    ``mark`` "YIQ" or "own T": versions A and B are eq. 5's marks with ``keys`` (k*, k* + 180,
    ``twins.twin_keys``) in YIQ or in ``color_space``. "blend": the blend mark with ``patterns``
    (two secret patterns) at ratio ``alpha`` (0: strength 0, both versions are the photo). "none":
    both versions are the photo itself (the unmarked user: there is nothing to compare).
    """

    mark: str
    keys: tuple[float, float] = (math.nan, math.nan)
    color_space: Optional[Tensor] = None
    patterns: Optional[tuple[Tensor, Tensor]] = None
    alpha: float = 0.0

    def versions(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """Versions A and B of float ``images`` (each still to be shared as an 8-bit photo)."""
        if self.mark in ("YIQ", "own T"):
            a, b = self.keys
            return watermark(images, a, self.color_space), watermark(images, b, self.color_space)
        if self.mark == "blend" and self.patterns is not None:
            pa, pb = self.patterns
            return blend_mark(images, pa, self.alpha), blend_mark(images, pb, self.alpha)
        if self.mark in ("blend", "none"):
            return images, images
        raise ValueError(f"unknown mark {self.mark!r}; expected YIQ, own T, blend or none.")


@dataclass
class MarkedUsers:
    """Lesson 10's learner data: four users inside one training set, each publishing one twin of
    every photo (``coins``: True published version A) and keeping the other.

    ``data.users`` are the users of :data:`USERS`, in order, with their clean photos (the YIQ and
    own-T users carry their key k*); ``marks`` says how each made its twins. ``data.held_out`` is a
    never-seen YIQ user (eq. 6's control, Sec. 5.4), ``reference`` never-seen clean photos of the
    test split: the non-members of the set-level membership test (which a real user does not have)
    and the pool of the innocent users.
    """

    data: LearnerData
    marks: list[TwinMark]
    coins: list[Tensor]
    reference: User
    pattern: Tensor
    alpha: float
    own_space: Tensor

    def twins(self, i: int) -> tuple[Tensor, Tensor]:
        """User ``i``'s (published, kept) versions as shared 8-bit photos, floats."""
        a, b = self.marks[i].versions(self.data.users[i].clean())
        return twins.publish(twins.as_shared(a), twins.as_shared(b), self.coins[i])

    def key_half(self, i: int) -> User:
        """The photos that LCT user ``i`` published with k* (eq. 6 reads them at that key)."""
        user, pick = self.data.users[i], self.coins[i]
        return User(
            user.name,
            user.images[pick],
            user.labels[pick],
            user.key,
            user.color_space,
            user.indices[pick],
        )


def _published_set(base: ImageSet, mu_users: list[User], published: list[Tensor]) -> ImageSet:
    images = base.images.clone()
    digests = []
    for user, shown in zip(mu_users, published):
        images[user.indices] = to_uint8(shown)
        digests.append(f"{_digest(user.indices.long())}:{_digest(images[user.indices])}")
    origin = None
    if base.origin is not None:
        tag = hashlib.sha1(";".join(digests).encode()).hexdigest()[:12]
        origin = f"{base.origin}+twins[{tag}]"
    return ImageSet(images, base.labels.clone(), base.classes, origin)


def marked_users_data(
    train: ImageSet,
    test: ImageSet,
    n_train: int,
    user_size: int,
    key: float,
    own_space: Tensor,
    pattern_seed: int,
    alpha: float = BLEND_ALPHA,
    reference_size: int = 500,
    n_test: Optional[int] = None,
    seed: int = 0,
) -> MarkedUsers:
    """Draw lesson 10's users (seeded): ``n_train`` training photos holding the four users of
    :data:`USERS`, ``user_size`` photos each, every one published as one of two twins by a coin
    (YIQ and ``own_space`` marks with keys ``twins.twin_keys(key)``; blend marks with the patterns
    of ``pattern_seed`` and ``pattern_seed + 1``; the unmarked user's twins are the photo itself),
    a never-seen YIQ user and ``reference_size`` never-seen reference photos from ``test``, and the
    rest of ``test`` (at most ``n_test``) for accuracy.
    """
    if not 0 < n_train <= len(train):
        raise ValueError(f"n_train must be in 1..{len(train)}; got {n_train}.")
    g = torch.Generator().manual_seed(seed)
    base = train.subset(torch.randperm(len(train), generator=g)[:n_train].sort().values)
    space = check_color_space(own_space).double()
    users = make_users(
        base, [user_size] * 4, [key, key, None, None], [None, space, None, None], seed + 1
    )
    height, width = train.images.shape[-2:]
    patterns = (
        blend_pattern(pattern_seed, height, width),
        blend_pattern(pattern_seed + 1, height, width),
    )
    keys = twins.twin_keys(key)
    marks = [
        TwinMark("YIQ", keys),
        TwinMark("own T", keys, space),
        TwinMark("blend", patterns=patterns, alpha=float(alpha)),
        TwinMark("none"),
    ]
    coins = [twins.twin_coins(len(u), 1000 * seed + 17 + i) for i, u in enumerate(users)]
    published = []
    for user, (name, _), mark, coin in zip(users, USERS, marks, coins):
        user.name = name
        a, b = mark.versions(user.clean())
        published.append(twins.publish(twins.as_shared(a), twins.as_shared(b), coin)[0])
    training_set = _published_set(base, users, published)
    never = make_users(test, [user_size, reference_size], [key, None], [None, None], seed + 2)
    never[0].name, never[1].name = "YIQ never seen", "reference"
    rest = torch.ones(len(test), dtype=torch.bool)
    for user in never:
        rest[user.indices] = False
    test_idx = rest.nonzero().squeeze(1)
    if n_test is not None:
        test_idx = test_idx[torch.randperm(len(test_idx), generator=g)[:n_test].sort().values]
    data = LearnerData(training_set, users, never[0], test.subset(test_idx))
    return MarkedUsers(data, marks, coins, never[1], patterns[0], float(alpha), space)


def circular_mean(degrees: Tensor) -> float:
    """The circular mean of angles in degrees, in [0, 360)."""
    rad = torch.deg2rad(torch.as_tensor(degrees, dtype=torch.float64))
    return math.degrees(math.atan2(float(rad.sin().mean()), float(rad.cos().mean()))) % 360.0


# -------------------------------------------------------------------------------- the verdicts
#: Innocent users per mark and learner in lesson 10 (forward passes on the reference pool only).
INNOCENT_USERS = 1000


@dataclass
class MarkVerdict:
    """One user's evidence on one learner (lesson 10's side-by-side), every test for every user.

    ``k_hat``, ``gap``, ``match`` (|k_hat - k*| < tau) and ``losses``: eq. 6 on the photos the LCT
    user published with k* (NaN / None for the other marks). ``twin``: the kept-twin test
    (``twins.twin_test``; None for the unmarked user, who has no twins). ``membership_p``: the
    set-level membership test against the learner's test split. ``innocent``: the twin test's
    rejections over innocent users at ``level`` (None without twins). ``credit``: what the
    evidence is credited to (``twins.credit``).
    """

    user: str
    mark: str
    k_hat: float
    gap: float
    match: Optional[bool]
    twin: Optional[twins.TwinTest]
    membership_p: float
    innocent: Optional[Rate]
    credit: twins.Credit
    key: Optional[float] = None
    losses: Optional[SearchResult] = None


def _eq6(model: nn.Module, mu: MarkedUsers, i: int) -> tuple[float, float, Optional[bool], Any]:
    if mu.marks[i].mark not in ("YIQ", "own T"):
        return math.nan, math.nan, None, None
    half = mu.key_half(i)
    assert half.key is not None
    found = verify_users(model, [half])
    return (
        float(found.k_hat[0]),
        found.result(0).gap(half.key),
        bool(found.matches()[0]),
        found.result(0),
    )


def _user_verdict(
    model: nn.Module, mu: MarkedUsers, i: int, n_permutations: int, level: float
) -> MarkVerdict:
    user, mark, ref = mu.data.users[i], mu.marks[i], mu.reference
    published, kept = mu.twins(i)
    pub = twins.version_scores(model, published, user.labels)
    has_twins = mark.mark != "none"
    twin = None
    if has_twins:
        twin = twins.twin_test(pub, twins.version_scores(model, kept, user.labels))
    a, b = mark.versions(ref.clean())
    ref_a = twins.version_scores(model, twins.as_shared(a), ref.labels)
    ref_b = twins.version_scores(model, twins.as_shared(b), ref.labels)
    coins = twins.twin_coins(len(ref), 99 + i)
    ref_pub = torch.where(coins, ref_a, ref_b)  # the reference marked as the user publishes
    membership = permutation_test(
        pub, ref_pub, n_permutations, 0, x_strata=user.labels, y_strata=ref.labels
    )
    innocent = None
    if has_twins:
        p = twins.innocent_p_values(ref_a, ref_b, INNOCENT_USERS, len(user), seed=i)
        innocent = twins.rejections(p, level)
    k_hat, gap, match, losses = _eq6(model, mu, i)
    return MarkVerdict(
        user.name,
        mark.mark,
        k_hat,
        gap,
        match,
        twin,
        membership.p_value,
        innocent,
        twins.credit(twin, membership.p_value, level),
        user.key,
        losses,
    )


def mark_verdicts(
    model: nn.Module, mu: MarkedUsers, n_permutations: int = 9999, level: float = 0.01
) -> list[MarkVerdict]:
    """Every user of lesson 10 judged on ``model`` by every test: eq. 6 (LCT users, on the photos
    published with k*), the kept-twin test (``twins``: the published version against the kept one,
    score P(y | version)), the set-level membership test (published versions against reference
    photos marked alike: a score of -loss, lesson 09's class-stratified permutation test) and the
    twin test's rejections over :data:`INNOCENT_USERS` innocent users, each at ``level``. Forward
    passes only."""
    return [_user_verdict(model, mu, i, n_permutations, level) for i in range(len(mu.marks))]


# ----------------------------------------------------------------------------- JPEG, detection
@dataclass
class JpegSurvival:
    """What of each mark a photo keeps after JPEG at one quality: the rotation it carries
    (circular mean over photos, degrees; :func:`estimate_rotation`) and the share of the blend
    pattern left (mean :func:`blend_strength` over ``alpha``)."""

    quality: int
    yiq_degrees: float
    blend_fraction: float


def jpeg_survival(
    photos: Tensor,
    key: float,
    pattern: Tensor,
    alpha: float = BLEND_ALPHA,
    qualities: tuple[int, ...] = (95, 75, 50, 10),
) -> dict[int, JpegSurvival]:
    """For each JPEG quality: compress the YIQ-marked, the blend-marked and the clean ``photos``
    alike, and measure the mark each compressed photo still carries against its compressed original
    (what the mark adds after compression; lesson 10, no training)."""
    from .augment import jpeg_squeeze

    check_float_images(photos, "photos")
    yiq, blend = watermark(photos, key), blend_mark(photos, pattern, alpha)
    out = {}
    for q in qualities:
        clean = jpeg_squeeze(photos, quality=q)  # compression changes the clean photos too
        rotation = circular_mean(estimate_rotation(clean, jpeg_squeeze(yiq, quality=q)))
        kept = float(blend_strength(clean, jpeg_squeeze(blend, quality=q), pattern).mean())
        out[int(q)] = JpegSurvival(int(q), rotation, kept / alpha)
    return out


@dataclass
class Detection:
    """ROC AUC of :func:`hue_outlier_scores` for marked against clean photos: per key for the YIQ
    and the own-colour-space marks, and once for the blend mark (which has no key)."""

    yiq: dict[float, float]
    own: dict[float, float]
    blend: float


def detection_by_key(
    photos: ImageSet,
    reference: ImageSet,
    keys: tuple[float, ...],
    own_space: Tensor,
    pattern: Tensor,
    alpha: float = BLEND_ALPHA,
    n_photos: int = 1000,
) -> Detection:
    """Lesson 10's detector at every key: ``n_photos`` photos of ``photos`` (never in
    ``reference``) scored clean and marked against ``reference`` (the learner's own training set),
    one AUC per key and mark."""
    images = to_float(photos.images[:n_photos])
    labels = photos.labels[:n_photos]
    ref_images, ref_labels = to_float(reference.images), reference.labels

    def scores(x: Tensor) -> Tensor:
        return hue_outlier_scores(x, labels, ref_images, ref_labels)

    clean = scores(images)
    yiq = {float(k): auc(clean, scores(watermark(images, k))) for k in keys}
    own = {float(k): auc(clean, scores(watermark(images, k, own_space))) for k in keys}
    return Detection(yiq, own, auc(clean, scores(blend_mark(images, pattern, alpha))))
