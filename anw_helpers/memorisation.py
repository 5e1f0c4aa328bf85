"""Memorisation estimate (paper Sec. 5.6): does watermarking make a network memorise the user's
photos more?

Feldman & Zhang (2020) define the memorisation of a training example (x, y) by a training algorithm
A as

    mem(x) = P[h(x) = y | h = A(S), x in S] - P[h(x) = y | h = A(S), x not in S]

over random training subsets S of the data set. It is estimated with models trained on subsamples:
the accuracy on x of the models that trained on x minus that of the models that did not. Sec. 5.6 of
the paper reports the mean over the user's photos: 26.8 % clean, 34.8 % watermarked.

Here the subsamples come in **complementary pairs**: each pair splits the pool at random into two
halves and trains one model on each, so every example is "in" for exactly one model of the pair and
"out" for the other. With P pairs, every example's estimate rests on P + P models ("an estimate from
P + P models"). The same splits are used for the clean and the watermarked pool, so the two
estimates differ only by the user's hue (a paired design, less noisy than two independent sets of
splits).

Subsampled models must fit their training subsets, or "in" means nothing:
:func:`train_subsampled_models` reports every model's training accuracy, and
:class:`MemorisationEstimate` keeps it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor, nn

from .datasets import ImageSet, to_float
from .profiles import PROFILES, SMOKE, MemorisationPlan
from .recipe import TrainingRecipe
from .train import TrainedModel, predict_logits, train_model

__all__ = [
    "MemorisationPlan",
    "MEMORISATION_PLANS",
    "memorisation_plan",
    "complementary_splits",
    "train_subsampled_models",
    "correctness",
    "MemorisationEstimate",
    "memorisation_estimate",
]


#: Every profile's lesson-08 plan by name: a view of ``profile.lessons.memorisation``, where the
#: plans are defined (anw_helpers/profiles.py).
MEMORISATION_PLANS: dict[str, MemorisationPlan] = {
    name: profile.lessons.memorisation
    for name, profile in {**PROFILES, SMOKE.name: SMOKE}.items()
    if profile.lessons.memorisation is not None
}


def memorisation_plan(profile_name: str) -> MemorisationPlan:
    """The memorisation plan of a profile (``ci``, ``cpu``, ``colab``, ``gpu`` or ``paper``)."""
    if profile_name not in MEMORISATION_PLANS:
        raise ValueError(
            f"no memorisation plan for profile {profile_name!r}; expected one of "
            f"{', '.join(MEMORISATION_PLANS)}."
        )
    return MEMORISATION_PLANS[profile_name]


def complementary_splits(n: int, n_pairs: int, seed: int = 0) -> Tensor:
    """Membership masks for ``2 * n_pairs`` subsampled models over a pool of ``n`` examples (Sec.
    5.6).

    Row 2j is a random half of the pool (``n // 2`` examples), row 2j + 1 its complement, so each
    example is in exactly one model of every pair. Returns a bool tensor of shape (2 * n_pairs, n).
    Seeded.
    """
    if not isinstance(n, int) or n < 2:
        raise ValueError(
            f"the pool needs at least 2 examples to be split in halves; got n = {n!r}."
        )
    if not isinstance(n_pairs, int) or n_pairs < 1:
        raise ValueError(f"n_pairs must be an integer >= 1; got {n_pairs!r}.")
    g = torch.Generator().manual_seed(seed)
    masks = torch.zeros(2 * n_pairs, n, dtype=torch.bool)
    for j in range(n_pairs):
        half = torch.randperm(n, generator=g)[: n // 2]
        masks[2 * j, half] = True
        masks[2 * j + 1] = ~masks[2 * j]
    return masks


def train_subsampled_models(
    pool: ImageSet,
    masks: Tensor,
    recipe: TrainingRecipe,
    test: Optional[ImageSet] = None,
    start_from: Optional[nn.Module] = None,
    progress: bool = False,
) -> list[TrainedModel]:
    """Train one model per row of ``masks`` on that subset of ``pool`` with ``recipe`` (Sec. 5.6).

    Each model trains on ``pool.subset(row)`` through :func:`anw_helpers.train.train_model`: from
    scratch, or, with ``start_from``, by fine-tuning a copy of that network; cached by the subset's
    pixels. Every record has the training accuracy on its subset and, with ``test``, a test
    accuracy. Returns the models in the order of ``masks`` (row m of ``masks`` says which pool
    photos model m trained on).
    """
    if masks.dtype != torch.bool or masks.dim() != 2 or masks.shape[1] != len(pool):
        raise ValueError(
            f"masks must be a bool tensor of shape (models, {len(pool)}); got {masks.dtype} "
            f"{tuple(masks.shape)}."
        )
    if bool((masks.sum(dim=1) == 0).any()):
        raise ValueError(
            "every subsampled model needs at least one training example; a row of masks is empty."
        )
    desc = "fine-tuning a subsampled model" if start_from is not None else None
    return [
        train_model(recipe, pool.subset(row.nonzero().squeeze(1)), test, start_from, progress, desc)
        for row in masks
    ]


def correctness(models: Sequence[TrainedModel], images: Tensor, labels: Tensor) -> Tensor:
    """Whether each model classifies each image correctly: a bool tensor (models, images).

    ``images`` are uint8 (N, 3, H, W) or floats in [0, 1]; ``labels`` (N,).
    """
    if len(models) == 0:
        raise ValueError("correctness needs at least one model; got none.")
    x = to_float(images) if images.dtype == torch.uint8 else images
    if x.dim() != 4 or labels.shape != (len(x),):
        raise ValueError(
            f"need images (N, 3, H, W) and labels (N,); got {tuple(x.shape)} and "
            f"{tuple(labels.shape)}."
        )
    return torch.stack([predict_logits(m.model, x).argmax(1) == labels for m in models])


@dataclass
class MemorisationEstimate:
    """Per-example Feldman-Zhang estimate: accuracy of the in-models, of the out-models, and their
    difference."""

    mem: Tensor  # (N,) mem(x) = in_accuracy - out_accuracy
    in_accuracy: Tensor  # (N,) share of the models that trained on x and classify it correctly
    out_accuracy: Tensor  # (N,) the same for the models that did not train on x
    n_in: Tensor  # (N,) how many models trained on x
    n_out: Tensor  # (N,) how many did not

    def mean(self) -> float:
        """Mean memorisation over the examples (Sec. 5.6 reports this for the user's photos)."""
        return float(self.mem.double().mean())

    def sd_of_mean(self) -> float:
        """Standard error of the mean over examples (examples vary; the models are shared, so this
        is a floor)."""
        n = len(self.mem)
        return float(self.mem.double().std() / n**0.5) if n > 1 else float("nan")

    def label(self) -> str:
        """How many models each example's estimate rests on, e.g. "estimate from 2 + 2 models"."""
        lo_in, lo_out = int(self.n_in.min()), int(self.n_out.min())
        hi_in, hi_out = int(self.n_in.max()), int(self.n_out.max())
        same = lo_in == hi_in and lo_out == hi_out
        return (
            f"estimate from {lo_in} + {lo_out} models"
            if same
            else f"estimate from {lo_in}-{hi_in} + {lo_out}-{hi_out} models"
        )


def memorisation_estimate(correct: Tensor, member: Tensor) -> MemorisationEstimate:
    """Feldman & Zhang's subsampled estimate of mem(x) (Sec. 5.6) from per-model correctness and
    membership.

    ``correct[m, i]``: model m classifies example i correctly; ``member[m, i]``: example i was in
    model m's training subset. Both (models, N), bool. Every example needs at least one in-model and
    one out-model.
    """
    if not isinstance(correct, Tensor) or not isinstance(member, Tensor):
        raise TypeError("correct and member must be tensors of shape (models, examples).")
    if correct.shape != member.shape or correct.dim() != 2:
        raise ValueError(
            f"correct and member must have the same shape (models, examples); got "
            f"{tuple(correct.shape)} and {tuple(member.shape)}."
        )
    if correct.shape[1] == 0:
        raise ValueError("no examples to estimate memorisation for (0 columns).")
    correct, member = correct.bool(), member.bool()
    n_in, n_out = member.sum(dim=0), (~member).sum(dim=0)
    if bool((n_in == 0).any()) or bool((n_out == 0).any()):
        bad = int(((n_in == 0) | (n_out == 0)).sum())
        raise ValueError(
            f"{bad} example(s) have no model that trained on them or none that did not; "
            f"each needs at least one of each (use complementary_splits)."
        )
    c = correct.double()
    in_acc = (c * member).sum(dim=0) / n_in
    out_acc = (c * ~member).sum(dim=0) / n_out
    return MemorisationEstimate(in_acc - out_acc, in_acc, out_acc, n_in, n_out)
