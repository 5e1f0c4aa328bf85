"""The arbitrator (paper Sec. 4.2, eq. 6): recover a user's signature from a model and the user's clean images.

    k_hat = argmin_k  sum_{(I, y) in D_u}  L(f(g(I, k)), y)          (eq. 6)

Grid search tries the N signature slots; gradient search treats k as a parameter and descends the loss
through the differentiable ``lct_matrix``. The arbitrator never uses the user's key to search.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ._checks import check_labelled_batch
from .color import SIGNATURE_SLOTS, apply_color_matrix, lct_matrix

if TYPE_CHECKING:
    from .data import User

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
]

#: Half-width of a signature slot in degrees (Sec. 5.1: N = 12 slots of width 2 tau = 30).
DEFAULT_TAU = 15.0
#: Gradient-search starts: spread over the circle, between the slots, so a start never sits on a key.
DEFAULT_INITS: tuple[float, ...] = (45.0, 135.0, 225.0, 315.0)


@dataclass
class SearchResult:
    """Grid-search result: the signatures tried, the mean loss at each, and ``best`` = k_hat (eq. 6)."""

    signatures: Tensor
    losses: Tensor

    @property
    def best(self) -> float:
        """The inferred signature k_hat: the signature with the lowest mean loss."""
        return float(self.signatures[int(torch.argmin(self.losses))])

    def gap(self, k_star: float, tau: float = DEFAULT_TAU) -> float:
        """Loss at the best slot away from k_star minus the lowest loss within tau of it (> 0: k_star wins)."""
        near = circular_distance(self.signatures, k_star) < tau
        if bool(near.all()) or not bool(near.any()):
            raise ValueError(f"gap needs slots both within and outside tau={tau} of k_star={k_star}.")
        return float(self.losses[~near].min() - self.losses[near].min())


@dataclass
class GradientSearchResult:
    """Gradient-search result: k_hat (``best``), each start's final signature and loss, and trajectories."""

    best: float
    inits: Tensor
    final_signatures: Tensor
    final_losses: Tensor
    trajectories: Tensor  # (steps + 1, n_inits) signatures in degrees
    loss_trajectories: Tensor  # (steps + 1, n_inits)


def circular_distance(a: object, b: object) -> Tensor:
    """Distance between angles in degrees on the circle, in [0, 180] (e.g. d(350, 10) = 20)."""
    d = torch.remainder(torch.as_tensor(a, dtype=torch.float64) - torch.as_tensor(b, dtype=torch.float64), 360.0)
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
    batch_size: int = 1000,
) -> Tensor:
    """Cross-entropy of ``model`` on every image watermarked with every signature: shape (N images, S signatures).

    The per-image terms of eq. 6's sum (their mean over images is :func:`signature_losses`). ``images`` are
    clean floats in [0, 1], (N, 3, H, W); the model runs in eval mode, fp32, without gradients,
    ``batch_size`` images at a time. Returns float64 on the CPU.
    """
    check_labelled_batch(images, labels)
    sigs = [float(k) for k in signatures]
    if not sigs:
        raise ValueError("signatures is empty; give at least one signature.")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}.")
    device = next(model.parameters()).device
    matrices = [lct_matrix(k, color_space) for k in sigs]
    model.eval()
    out = torch.empty(len(images), len(sigs), dtype=torch.float64)
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            x = images[start : start + batch_size].to(device)
            y = labels[start : start + batch_size].to(device).long()
            for j, m in enumerate(matrices):
                logits = model(apply_color_matrix(x, m, clip=True)).float()
                out[start : start + len(x), j] = F.cross_entropy(logits, y, reduction="none").double().cpu()
    return out


def signature_losses(
    model: nn.Module, images: Tensor, labels: Tensor, signatures: Sequence[float], color_space: Optional[Tensor] = None
) -> Tensor:
    """Mean cross-entropy of ``model`` on the user's clean images watermarked with each signature (eq. 6's sum / |D_u|).

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
    """Grid search of eq. 6 over ``signatures`` (default the N = 12 slots 0, 30, ..., 330; Sec. 5.1).

    ``images`` are the user's clean images, floats in [0, 1], (N, 3, H, W); ``labels`` their classes;
    ``color_space`` the user's T (default YIQ). ``result.best`` is k_hat.
    """
    sigs = torch.tensor(list(SIGNATURE_SLOTS if signatures is None else signatures), dtype=torch.float64)
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
    """Gradient search of eq. 6 (Sec. 4.2): descend the loss in k from several starts, keep the lowest.

    Each start (default ``DEFAULT_INITS``: 45, 135, 225, 315 - spread over the circle, never the user's
    key) is a parameter k in degrees; the user's images are watermarked through the differentiable
    ``lct_matrix`` and all starts descend together (one batch) with Adam for ``steps`` steps (``lr`` in degrees). Returns k_hat in [0, 360),
    every start's final signature and loss, and the trajectories.
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
            marked = torch.cat([apply_color_matrix(images, lct_matrix(k, color_space), clip=True) for k in ks.unbind()])
            per_image = F.cross_entropy(model(marked).float(), labels.repeat(len(ks)), reduction="none")
            losses = per_image.view(len(ks), -1).mean(dim=1)
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
    final_losses = loss_trajectories[-1]
    final = trajectories[-1]
    return GradientSearchResult(float(final[int(torch.argmin(final_losses))]), starts.double(), final, final_losses,
                                trajectories, loss_trajectories)


@dataclass
class UserVerdicts:
    """Grid search of eq. 6 for many users at once (Sec. 5.4, Fig. 5a): one row per user.

    ``losses[u, j]`` is user u's mean loss at ``signatures[j]``; ``keys`` holds each user's k* (NaN for a
    user who did not watermark); ``k_hat`` the inferred signatures.
    """

    names: list[str]
    keys: Tensor
    signatures: Tensor
    losses: Tensor

    @property
    def k_hat(self) -> Tensor:
        """Each user's inferred signature (the slot with the lowest mean loss)."""
        return self.signatures[self.losses.argmin(dim=1)]

    def matches(self, tau: float = DEFAULT_TAU, against: Optional[Tensor] = None) -> Tensor:
        """Boolean per user: |k_hat - k*| < tau (``against`` replaces k*, e.g. zeros for held-out users)."""
        target = self.keys if against is None else torch.as_tensor(against, dtype=torch.float64)
        return circular_distance(self.k_hat, target) < tau

    def result(self, u: int) -> SearchResult:
        """User ``u``'s row as a :class:`SearchResult` (for ``plots.plot_signature_losses`` and ``gap``)."""
        return SearchResult(self.signatures, self.losses[u])


def verify_users(
    model: nn.Module,
    users: Sequence["User"],
    signatures: Optional[Sequence[float]] = None,
    color_spaces: Optional[Sequence[Optional[Tensor]]] = None,
    batch_size: int = 1000,
) -> UserVerdicts:
    """Grid search of eq. 6 for every user in one batched pass per signature (Sec. 5.4, Fig. 5a).

    Each user's clean images are watermarked with each signature in the user's own colour space (or in
    ``color_spaces[u]`` when given - e.g. an adversary's arbitrary T), all users' images go through the
    model together ``batch_size`` at a time, and the per-image losses are averaged per user. Equal to
    calling :func:`grid_search` per user, but hundreds of users verify in seconds.
    """
    if len(users) == 0:
        raise ValueError("verify_users needs at least one user; got an empty list.")
    if color_spaces is not None and len(color_spaces) != len(users):
        raise ValueError(f"need one colour space per user: got {len(users)} users and {len(color_spaces)} colour spaces.")
    spaces = [u.color_space for u in users] if color_spaces is None else list(color_spaces)
    images = torch.cat([u.clean() for u in users])
    labels = torch.cat([u.labels for u in users])
    check_labelled_batch(images, labels)
    owner = torch.cat([torch.full((len(u),), i, dtype=torch.long) for i, u in enumerate(users)])
    sigs = [float(k) for k in (SIGNATURE_SLOTS if signatures is None else signatures)]
    if not sigs:
        raise ValueError("signatures is empty; give at least one signature.")
    device = next(model.parameters()).device
    model.eval()
    totals = torch.zeros(len(users), len(sigs), dtype=torch.float64)
    with torch.no_grad():
        for j, k in enumerate(sigs):
            mats = torch.stack([lct_matrix(k, T).float() for T in spaces])  # (U, 3, 3)
            for start in range(0, len(images), batch_size):
                x = images[start : start + batch_size]
                m = mats[owner[start : start + batch_size]]  # one matrix per image
                marked = torch.einsum("nij,njhw->nihw", m, x).clamp_(0.0, 1.0).to(device)
                loss = F.cross_entropy(model(marked).float(), labels[start : start + batch_size].to(device).long(), reduction="none")
                totals[:, j].index_add_(0, owner[start : start + batch_size], loss.double().cpu())
    counts = torch.tensor([len(u) for u in users], dtype=torch.float64)
    keys = torch.tensor([float("nan") if u.key is None else float(u.key) for u in users], dtype=torch.float64)
    return UserVerdicts([u.name for u in users], keys, torch.tensor(sigs, dtype=torch.float64), totals / counts[:, None])
