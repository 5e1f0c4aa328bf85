"""The arbitrator (paper Sec. 4.2, eq. 6): recover a user's signature from a model and the user's
clean images.

    k_hat = argmin_k  sum_{(I, y) in D_u}  L(f(g(I, k)), y)          (eq. 6)

Grid search tries the N signature slots; gradient search treats k as a parameter and descends the
loss through the differentiable ``lct_matrix``. The arbitrator never uses the user's key to search.

The same search recovers the blue-channel watermark's signature (Sec. 5.3, Fig. 4):
:func:`intensity_search` tries intensities s instead of hues k, each mark set on the user's own
pixel positions (``color.blue_channel_watermark``), and a match is |s_hat - s*| < tau = 0.1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Optional

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .color import SIGNATURE_SLOTS, apply_color_matrix, blue_channel_watermark, lct_matrix
from .machinery._checks import check_labelled_batch
from .machinery.memory import batch_size_for

if TYPE_CHECKING:
    from .users import User

__all__ = [
    "SearchResult",
    "GradientSearchResult",
    "per_image_losses",
    "signature_losses",
    "grid_search",
    "gradient_search",
    "circular_distance",
    "match",
    "DEFAULT_TAU",
    "DEFAULT_INITS",
    "UserVerdicts",
    "verify_users",
    "Verdict",
    "verdict",
    "min_correct",
    "MIN_ACCURACY_MULTIPLE",
    "RECOGNITION_LEVEL",
    "BLUE_TAU",
    "BLUE_INTENSITIES",
    "IntensitySearchResult",
    "intensity_distance",
    "intensity_match",
    "intensity_losses",
    "intensity_search",
]

#: Half-width of a signature slot in degrees (Sec. 5.1: N = 12 slots of width 2 tau = 30).
DEFAULT_TAU = 15.0
#: Gradient-search starts: spread over the circle, between the slots, so a start never sits on a
#: key.
DEFAULT_INITS: tuple[float, ...] = (45.0, 135.0, 225.0, 315.0)
#: A verdict needs the model to recognise the user's photos: accuracy at least this multiple of
#: chance ...
MIN_ACCURACY_MULTIPLE = 2.0
#: ... and a count of correct photos that a guesser (accuracy 1 / num_classes) reaches with
#: probability <= this.
RECOGNITION_LEVEL = 0.01
#: The blue-channel watermark's match radius on intensities in [0, 1] (Sec. 5.3: tau = 0.1).
BLUE_TAU = 0.1
#: The intensities :func:`intensity_search` tries: 0 stands for the clean photos (no mark, as k = 0
#: for the hue), then 0.02, 0.04, ..., 1.0: a step fine enough for the paper's inferred 0.12, 0.28
#: and 0.44 (Sec. 5.3), five steps per tau.
BLUE_INTENSITIES: tuple[float, ...] = (0.0,) + tuple(round(0.02 * i, 2) for i in range(1, 51))


def _check_finite_losses(losses: Tensor, what: str) -> Tensor:
    """``losses`` unchanged after checking every value is finite (NaN would win
    ``torch.argmin``)."""
    bad = ~torch.isfinite(losses)
    if bool(bad.any()):
        raise ValueError(
            f"{what}: {int(bad.sum())} of {losses.numel()} losses are NaN or infinite, so no "
            "signature can be inferred (torch.argmin would pick a NaN). The model's outputs are "
            "broken (NaN/inf weights or logits): check the checkpoint; no verdict is possible with "
            "it."
        )
    return losses


@dataclass
class SearchResult:
    """Grid-search result: the signatures tried, the mean loss at each, and ``best`` = k_hat (eq.
    6)."""

    signatures: Tensor
    losses: Tensor

    @property
    def best(self) -> float:
        """The inferred signature k_hat: the signature with the lowest mean loss (ValueError on
        NaN/inf losses)."""
        return float(
            self.signatures[int(torch.argmin(_check_finite_losses(self.losses, "grid search")))]
        )

    def gap(self, k_star: float, tau: float = DEFAULT_TAU) -> float:
        """Loss at the best slot away from k_star minus the lowest loss within tau of it (> 0:
        k_star wins)."""
        _check_finite_losses(self.losses, "grid search")
        near = circular_distance(self.signatures, k_star) < tau
        if bool(near.all()) or not bool(near.any()):
            raise ValueError(
                f"gap needs slots both within and outside tau={tau} of k_star={k_star}."
            )
        return float(self.losses[~near].min() - self.losses[near].min())


@dataclass
class GradientSearchResult:
    """Gradient-search result: k_hat (``best``), each start's final signature and loss, and
    trajectories."""

    best: float
    inits: Tensor
    final_signatures: Tensor
    final_losses: Tensor
    trajectories: Tensor  # (steps + 1, n_inits) signatures in degrees
    loss_trajectories: Tensor  # (steps + 1, n_inits)


def circular_distance(a: object, b: object) -> Tensor:
    """Distance between angles in degrees on the circle, in [0, 180] (e.g. d(350, 10) = 20)."""
    d = torch.remainder(
        torch.as_tensor(a, dtype=torch.float64) - torch.as_tensor(b, dtype=torch.float64), 360.0
    )
    return torch.minimum(d, 360.0 - d)


def match(k_hat: float, k_star: float, tau: float = DEFAULT_TAU) -> bool:
    """The paper's match criterion |k_hat - k_star| < tau, measured on the circle (Sec. 4.2)."""
    return bool(circular_distance(k_hat, k_star) < tau)


def per_image_losses(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    signatures: Sequence[float],
    color_space: Optional[Tensor] = None,
    batch_size: Optional[int] = None,
) -> Tensor:
    """Cross-entropy of ``model`` on every image watermarked with every signature: shape (N images,
    S signatures).

    The per-image terms of eq. 6's sum (their mean over images is :func:`signature_losses`).
    ``images`` are clean floats in [0, 1], (N, 3, H, W); the model runs in eval mode, fp32, without
    gradients, ``batch_size`` images at a time (None: as many as keep one pass within
    ``memory.PASS_MEMORY_BYTES``, :func:`memory.batch_size_for`). Returns float64 on the CPU.
    Raises ValueError when a loss is NaN or infinite (a broken model): no NaN passes silently into
    a verdict.
    """
    sigs = [float(k) for k in signatures]
    if not sigs:
        raise ValueError("signatures is empty; give at least one signature.")
    matrices = [lct_matrix(k, color_space) for k in sigs]
    marks = [lambda x, m=m: apply_color_matrix(x, m, clip=True) for m in matrices]
    return _per_image_losses_under(model, images, labels, marks, batch_size)


def _per_image_losses_under(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    marks: Sequence[Callable[[Tensor], Tensor]],
    batch_size: Optional[int],
) -> Tensor:
    """Cross-entropy of ``model`` on every image under every mark (a function of a batch of
    images): shape (N images, S marks), float64 on the CPU; eq. 6's per-image terms for any family
    of watermarks (hue rotations, blue-channel intensities)."""
    check_labelled_batch(images, labels)
    if batch_size is None:
        batch_size = batch_size_for(model, images.shape)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}.")
    device = next(model.parameters()).device
    model.eval()
    out = torch.empty(len(images), len(marks), dtype=torch.float64)
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            x = images[start : start + batch_size].to(device)
            y = labels[start : start + batch_size].to(device).long()
            for j, mark in enumerate(marks):
                logits = model(mark(x)).float()
                out[start : start + len(x), j] = (
                    F.cross_entropy(logits, y, reduction="none").double().cpu()
                )
    return _check_finite_losses(out, "per-image losses")


def intensity_losses(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    positions: Tensor,
    intensities: Sequence[float] = BLUE_INTENSITIES,
    batch_size: Optional[int] = None,
) -> Tensor:
    """Eq. 6's per-image terms for the blue-channel watermark (Sec. 5.3, Fig. 4): the cross-entropy
    of ``model`` on every clean image with its blue channel set to each intensity on ``positions``
    (``color.blue_channel_watermark``), shape (N images, S intensities), float64 on the CPU.

    ``positions`` are the user's own flat pixel indices (the secret is positions + intensity); an
    intensity of 0 stands for the clean images (no mark), as k = 0 does for the hue.
    """
    values = [float(s) for s in intensities]
    if not values:
        raise ValueError("intensities is empty; give at least one intensity in [0, 1].")
    bad = [s for s in values if not 0.0 <= s <= 1.0]
    if bad:
        raise ValueError(f"intensities must be in [0, 1] (0: the clean images); got {bad}.")
    marks = [
        (lambda x: x) if s == 0.0 else (lambda x, s=s: blue_channel_watermark(x, s, positions))
        for s in values
    ]
    return _per_image_losses_under(model, images, labels, marks, batch_size)


def intensity_distance(a: object, b: object) -> Tensor:
    """|a - b| between blue-channel intensities (Sec. 5.3), rounded to 1e-6 so that grid values
    exactly tau apart (0.2 and 0.3, in float32 or float64) are exactly tau apart, not a float's
    error either side (8-bit photos resolve intensities to 1/255 only)."""
    d = torch.as_tensor(a, dtype=torch.float64) - torch.as_tensor(b, dtype=torch.float64)
    return torch.round(d.abs(), decimals=6)


def intensity_match(s_hat: float, s_star: float, tau: float = BLUE_TAU) -> bool:
    """The paper's match for the blue-channel watermark: |s_hat - s*| < tau = 0.1 (Sec. 5.3)."""
    return bool(intensity_distance(s_hat, s_star) < tau)


@dataclass
class IntensitySearchResult(SearchResult):
    """Eq. 6's grid search over blue-channel intensities (Sec. 5.3, Fig. 4): ``signatures`` are
    the intensities tried (0: the clean photos), ``losses`` the mean loss at each, ``best`` s_hat.
    Distances are :func:`intensity_distance` (an interval, not the hue's circle)."""

    def gap(self, k_star: float, tau: float = BLUE_TAU) -> float:
        """Loss at the best intensity at least tau from s* = ``k_star`` (the clean photos
        included) minus the lowest loss within tau of it (> 0: s* wins)."""
        _check_finite_losses(self.losses, "intensity search")
        near = intensity_distance(self.signatures, k_star) < tau
        if bool(near.all()) or not bool(near.any()):
            raise ValueError(
                f"gap needs intensities both within and outside tau={tau} of s*={k_star}."
            )
        return float(self.losses[~near].min() - self.losses[near].min())

    def matches(self, s_star: float, tau: float = BLUE_TAU) -> bool:
        """|s_hat - s*| < tau (:func:`intensity_match`)."""
        return intensity_match(self.best, s_star, tau)


def intensity_search(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    positions: Tensor,
    intensities: Sequence[float] = BLUE_INTENSITIES,
) -> IntensitySearchResult:
    """Eq. 6's grid search for the blue-channel watermark (Sec. 5.3, Fig. 4): s_hat = argmin_s of
    the user's mean loss with the blue channel set to s on their ``positions``.

    ``images`` are the user's clean photos, floats in [0, 1], ``labels`` their classes,
    ``positions`` the user's flat pixel indices (``color.blue_pixel_positions``); ``intensities``
    default to :data:`BLUE_INTENSITIES` (0 = unmarked, then 0.02 steps). ``best`` is s_hat,
    ``gap(s_star)`` the loss gap, ``matches(s_star)`` the paper's |s_hat - s*| < 0.1.
    """
    losses = intensity_losses(model, images, labels, positions, intensities)
    values = torch.tensor([float(s) for s in intensities], dtype=torch.float64)
    return IntensitySearchResult(values, losses.mean(dim=0).float())


def signature_losses(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    signatures: Sequence[float],
    color_space: Optional[Tensor] = None,
) -> Tensor:
    """Mean cross-entropy of ``model`` on the user's clean images watermarked with each signature
    (eq. 6's sum / |D_u|).

    Returns a float32 tensor with one loss per signature. Model in eval mode, fp32, no gradients.
    """
    return per_image_losses(model, images, labels, signatures, color_space).mean(dim=0).float()


def grid_search(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    signatures: Optional[Sequence[float]] = None,
    color_space: Optional[Tensor] = None,
) -> SearchResult:
    """Grid search of eq. 6 over ``signatures`` (default the N = 12 slots 0, 30, ..., 330; Sec.
    5.1).

    ``images`` are the user's clean images, floats in [0, 1], (N, 3, H, W); ``labels`` their
    classes; ``color_space`` the user's T (default YIQ). ``result.best`` is k_hat.
    """
    sigs = torch.tensor(
        list(SIGNATURE_SLOTS if signatures is None else signatures), dtype=torch.float64
    )
    return SearchResult(sigs, signature_losses(model, images, labels, sigs.tolist(), color_space))


def gradient_search(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    inits: Optional[Sequence[float]] = None,
    color_space: Optional[Tensor] = None,
    steps: int = 12,
    lr: float = 6.0,
) -> GradientSearchResult:
    """Gradient search of eq. 6 (Sec. 4.2): descend the loss in k from several starts, keep the
    lowest.

    Each start (default ``DEFAULT_INITS``: 45, 135, 225, 315 - spread over the circle, never the
    user's key) is a parameter k in degrees; the user's images are watermarked through the
    differentiable ``lct_matrix`` and all starts descend together (one batch) with Adam for
    ``steps`` steps (``lr`` in degrees). Returns k_hat in [0, 360), every start's final signature
    and loss, and the trajectories.
    """
    check_labelled_batch(images, labels)
    device = next(model.parameters()).device
    images, labels = images.to(device), labels.to(device).long()
    starts = torch.tensor(list(DEFAULT_INITS if inits is None else inits), dtype=torch.float32)
    if len(starts) == 0:
        raise ValueError("inits is empty; give at least one starting signature.")
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    try:
        ks = starts.clone().to(device).requires_grad_(True)
        opt = torch.optim.Adam([ks], lr=lr)
        traj, loss_traj = [], []
        for step in range(steps + 1):
            # all starts in one batch: (n_starts * N, 3, H, W)
            marked = torch.cat(
                [
                    apply_color_matrix(images, lct_matrix(k, color_space), clip=True)
                    for k in ks.unbind()
                ]
            )
            per_image = F.cross_entropy(
                model(marked).float(), labels.repeat(len(ks)), reduction="none"
            )
            losses = per_image.view(len(ks), -1).mean(dim=1)
            _check_finite_losses(losses.detach(), "gradient search")
            traj.append(ks.detach().cpu().clone())
            loss_traj.append(losses.detach().cpu())
            if step < steps:
                opt.zero_grad()
                losses.sum().backward()
                opt.step()
    finally:
        for p in model.parameters():
            p.requires_grad_(True)
    trajectories = torch.stack(traj).double().remainder(360.0)
    loss_trajectories = torch.stack(loss_traj)
    final_losses = _check_finite_losses(loss_trajectories[-1], "gradient search")
    final = trajectories[-1]
    return GradientSearchResult(
        float(final[int(torch.argmin(final_losses))]),
        starts.double(),
        final,
        final_losses,
        trajectories,
        loss_trajectories,
    )


@dataclass
class UserVerdicts:
    """Grid search of eq. 6 for many users at once (Sec. 5.4, Fig. 5a): one row per user.

    ``losses[u, j]`` is user u's mean loss at ``signatures[j]``; ``keys`` holds each user's k* (NaN
    for a user who did not watermark); ``k_hat`` the inferred signatures.
    """

    names: list[str]
    keys: Tensor
    signatures: Tensor
    losses: Tensor

    @property
    def k_hat(self) -> Tensor:
        """Each user's inferred signature (the slot with the lowest mean loss; ValueError on NaN/inf
        losses)."""
        return self.signatures[_check_finite_losses(self.losses, "verify_users").argmin(dim=1)]

    def matches(self, tau: float = DEFAULT_TAU, against: Optional[Tensor] = None) -> Tensor:
        """Boolean per user: |k_hat - k*| < tau (``against`` replaces k*, e.g. zeros for held-out
        users)."""
        target = self.keys if against is None else torch.as_tensor(against, dtype=torch.float64)
        return circular_distance(self.k_hat, target) < tau

    def result(self, u: int) -> SearchResult:
        """User ``u``'s row as a :class:`SearchResult` (for ``plots.plot_signature_losses`` and
        ``gap``)."""
        return SearchResult(self.signatures, self.losses[u])


def verify_users(
    model: nn.Module,
    users: Sequence[User],
    signatures: Optional[Sequence[float]] = None,
    color_spaces: Optional[Sequence[Optional[Tensor]]] = None,
    batch_size: Optional[int] = None,
) -> UserVerdicts:
    """Grid search of eq. 6 for every user in one batched pass per signature (Sec. 5.4, Fig. 5a).

    Each user's clean images are watermarked with each signature in the user's own colour space (or
    in ``color_spaces[u]`` when given - e.g. an adversary's arbitrary T), all users' images go
    through the model together ``batch_size`` at a time (None: :func:`memory.batch_size_for`), and
    the per-image losses are averaged per user. Equal to calling :func:`grid_search` per user,
    but hundreds of users verify in one pass over their images.
    """
    if len(users) == 0:
        raise ValueError("verify_users needs at least one user; got an empty list.")
    if color_spaces is not None and len(color_spaces) != len(users):
        raise ValueError(
            f"need one colour space per user: got {len(users)} users and {len(color_spaces)} "
            "colour spaces."
        )
    empty = [u.name for u in users if len(u) == 0]
    if empty:
        raise ValueError(
            f"user(s) {', '.join(map(repr, empty))} have no photos; a user without photos has no "
            "verdict (it would be a row of NaN): drop them or give them photos."
        )
    spaces = [u.color_space for u in users] if color_spaces is None else list(color_spaces)
    images = torch.cat([u.clean() for u in users])
    labels = torch.cat([u.labels for u in users])
    check_labelled_batch(images, labels)
    owner = torch.cat([torch.full((len(u),), i, dtype=torch.long) for i, u in enumerate(users)])
    sigs = [float(k) for k in (SIGNATURE_SLOTS if signatures is None else signatures)]
    if not sigs:
        raise ValueError("signatures is empty; give at least one signature.")
    device = next(model.parameters()).device
    if batch_size is None:
        batch_size = batch_size_for(model, images.shape)
    model.eval()
    totals = torch.zeros(len(users), len(sigs), dtype=torch.float64)
    with torch.no_grad():
        for j, k in enumerate(sigs):
            mats = torch.stack([lct_matrix(k, T).float() for T in spaces])  # (U, 3, 3)
            for start in range(0, len(images), batch_size):
                x = images[start : start + batch_size]
                m = mats[owner[start : start + batch_size]]  # one matrix per image
                marked = torch.einsum("nij,njhw->nihw", m, x).clamp_(0.0, 1.0).to(device)
                loss = F.cross_entropy(
                    model(marked).float(),
                    labels[start : start + batch_size].to(device).long(),
                    reduction="none",
                )
                totals[:, j].index_add_(0, owner[start : start + batch_size], loss.double().cpu())
    counts = torch.tensor([len(u) for u in users], dtype=torch.float64)
    keys = torch.tensor(
        [float("nan") if u.key is None else float(u.key) for u in users], dtype=torch.float64
    )
    losses = _check_finite_losses(totals / counts[:, None], "verify_users")
    return UserVerdicts(
        [u.name for u in users], keys, torch.tensor(sigs, dtype=torch.float64), losses
    )


def min_correct(
    n_photos: int,
    num_classes: int,
    multiple: float = MIN_ACCURACY_MULTIPLE,
    level: float = RECOGNITION_LEVEL,
) -> int:
    """The fewest correctly classified photos (of ``n_photos``) for a verdict to be conclusive.

    Two conditions, both needed: accuracy at least ``multiple`` times chance (1 / ``num_classes``),
    and a count that a model guessing at chance reaches with probability at most ``level`` (binomial
    tail: the smallest c with P(Binomial(n_photos, 1 / num_classes) >= c) <= ``level``, i.e.
    ``scipy.stats.binom.isf(level, ...) + 1``). The second keeps a handful of photos from passing by
    luck: with 10 classes, 4 photos need 3 correct and 8 photos need 4. May exceed ``n_photos``:
    then no verdict is possible with so few photos. The course's check on eq. 6 (Sec. 4.2).
    """
    from scipy.stats import binom

    if n_photos < 1 or num_classes < 2:
        raise ValueError(
            f"need at least 1 photo and 2 classes; got {n_photos} photo(s), {num_classes} "
            "class(es)."
        )
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie strictly between 0 and 1; got {level!r}.")
    chance = 1.0 / num_classes
    need = max(1, math.ceil(multiple * chance * n_photos - 1e-9))
    by_luck = int(binom.isf(level, n_photos, chance))  # the most a guesser reaches (risk: level)
    return max(need, by_luck + 1)


@dataclass
class Verdict:
    """Eq. 6's grid search plus the checks that say whether its k_hat means anything.

    ``search`` is the grid search (``k_hat = search.best``); ``per_image`` its per-photo losses (N,
    S); ``correct_clean`` / ``correct_at_k_hat`` how many photos the model classifies correctly
    clean and watermarked with k_hat; ``needed`` the count :func:`min_correct` requires;
    ``movers`` every photo whose removal alone changes k_hat to another slot, as (index, k_hat
    without it), the farthest move first; ``deciding_photo`` / ``k_hat_without`` the first of them
    (None: no single photo moves k_hat).
    """

    search: SearchResult
    per_image: Tensor
    num_classes: int
    correct_clean: int
    correct_at_k_hat: int
    needed: int
    deciding_photo: Optional[int]
    k_hat_without: Optional[float]
    movers: list[tuple[int, float]] = field(default_factory=list)

    @property
    def k_hat(self) -> float:
        """The inferred signature of eq. 6."""
        return self.search.best

    @property
    def n_photos(self) -> int:
        """How many photos the verdict rests on."""
        return int(self.per_image.shape[0])

    @property
    def recognised(self) -> bool:
        """True when the model classifies enough of the photos (clean or at k_hat) to be judged."""
        return max(self.correct_clean, self.correct_at_k_hat) >= self.needed

    @property
    def conclusive(self) -> bool:
        """True when k_hat may be read at all: the model recognises the photos and no single photo
        decides."""
        return self.recognised and self.deciding_photo is None

    def reasons(self) -> list[str]:
        """Why the verdict is inconclusive (empty when it is conclusive), one sentence each."""
        out = []
        if not self.recognised:
            best = max(self.correct_clean, self.correct_at_k_hat)
            out.append(
                f"the model classifies only {best} of the {self.n_photos} photo(s) correctly "
                f"(chance: 1 in {self.num_classes}); a verdict needs at least {self.needed}. A "
                "model that does not recognise the photos' classes (untrained, another task, wrong "
                "labels) prefers hues for no reason."
            )
        if self.deciding_photo is not None and self.k_hat_without is None:
            out.append("a single photo is not evidence: bring several photos (lesson 09: dozens).")
        elif self.deciding_photo is not None:
            out.append(
                f"photo #{self.deciding_photo + 1} alone decides k_hat (without it k_hat = "
                f"{self.k_hat_without:g}): check its label; a k_hat that one photo decides is not "
                "evidence."
            )
            others = [f"#{i + 1} ({k:g})" for i, k in self.movers[1:]]
            if others:
                out.append(
                    f"{len(others)} more photo(s) move k_hat alone (k_hat without each): "
                    + ", ".join(others[:10])
                    + (", ..." if len(others) > 10 else "")
                    + "."
                )
        return out


def _correct(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    k: float,
    color_space: Optional[Tensor],
    batch_size: Optional[int] = None,
) -> tuple[int, int]:
    """(number of photos classified correctly when watermarked with ``k``, number of classes)."""
    device = next(model.parameters()).device
    if batch_size is None:
        batch_size = batch_size_for(model, images.shape)
    matrix = lct_matrix(k, color_space)
    correct, num_classes = 0, 0
    model.eval()
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            x = apply_color_matrix(images[start : start + batch_size].to(device), matrix, clip=True)
            logits = model(x).float()
            num_classes = int(logits.shape[1])
            correct += int(
                (logits.argmax(1).cpu() == labels[start : start + batch_size].long()).sum()
            )
    return correct, num_classes


def verdict(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    color_space: Optional[Tensor] = None,
    signatures: Optional[Sequence[float]] = None,
    tau: float = DEFAULT_TAU,
) -> Verdict:
    """Eq. 6's grid search (Sec. 4.2) and whether its k_hat can be read (beyond the paper).

    The paper reads k_hat directly; on real photos that can mislead, so two checks come with it:

    * **The model must recognise the photos.** Eq. 6 compares the model's losses on the photos under
      different hues; that only says something when the model has learned the photos' classes. An
      untrained network's losses still have a minimum somewhere (any slot), and photos with wrong
      labels push k_hat towards the hue that most confuses the model. So the model must classify,
      clean or at k_hat, at least :func:`min_correct` photos: twice chance accuracy (the smallest
      rate that is clearly not guessing; a trained course learner scores several times chance) and a
      count a guesser reaches with probability <= 1 %.
    * **No single photo may decide k_hat.** k_hat is recomputed without each photo in turn (cheap:
      the per-photo losses are kept); when dropping one photo moves k_hat to any other slot, even
      the neighbouring one, that photo alone decided it (e.g. one photo with a wrong label: its
      loss is largest clean and falls under any hue) and the verdict is inconclusive: a match that
      one photo creates is not a match. Every such photo is listed in ``movers``, the farthest
      move first.

    ``tau`` is no longer used (since issue 30 any move counts, not only moves beyond 2 tau); it is
    kept so that callers need not change. Raises ValueError for NaN/inf losses (a broken model) and
    for bad images or labels.
    """
    sigs = torch.tensor(
        list(SIGNATURE_SLOTS if signatures is None else signatures), dtype=torch.float64
    )
    per_image = per_image_losses(model, images, labels, sigs.tolist(), color_space)
    search = SearchResult(sigs, per_image.mean(dim=0).float())
    k_hat = search.best
    movers = _movers(per_image, sigs, k_hat)
    deciding, without = (movers[0][0], movers[0][1]) if movers else (None, None)
    if len(per_image) == 1:
        deciding, without = 0, None
    correct_clean, num_classes = _correct(model, images, labels, 0.0, color_space)
    correct_k = (
        correct_clean if k_hat == 0.0 else _correct(model, images, labels, k_hat, color_space)[0]
    )
    return Verdict(
        search,
        per_image,
        num_classes,
        correct_clean,
        correct_k,
        min_correct(len(per_image), num_classes),
        deciding,
        without,
        movers,
    )


def _movers(per_image: Tensor, sigs: Tensor, k_hat: float) -> list[tuple[int, float]]:
    """Every photo whose removal alone moves eq. 6's k_hat, as (index, k_hat without it), the
    farthest move first (leave-one-out of eq. 6's mean; empty for a single photo)."""
    n = len(per_image)
    if n < 2:
        return []
    loo = (per_image.sum(dim=0, keepdim=True) - per_image) / (n - 1)  # row i: without photo i
    loo_k = sigs[loo.argmin(dim=1)]
    moved = circular_distance(loo_k, k_hat)
    order = torch.argsort(-moved, stable=True)
    return [(int(i), float(loo_k[i])) for i in order.tolist() if float(moved[i]) > 0.0]
