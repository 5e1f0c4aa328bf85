"""Defences a learner can apply to a trained model to remove the watermark (paper Sec. 5.3, Fig.
3g-h).

Pruning (global L1 unstructured magnitude pruning, ``torch.nn.utils.prune``) and fine-tuning on
clean images, following the common settings the paper cites [45]. Both are pure: they return a new
model and leave the one passed in untouched, so one trained learner can be attacked many ways.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn
from torch.nn.utils import prune

from .machinery._checks import check_uint8_images
from .recipe import TrainingRecipe

__all__ = [
    "PRUNE_AMOUNTS",
    "ACCURACY_KEPT",
    "prunable_weights",
    "prune_global_l1",
    "sparsity",
    "fine_tune",
    "OutputNoise",
]

#: The fractions of conv/linear weights global L1 pruning removes (Fig. 3g): lesson 06's and the
#: sweep job's (tools/jobs/prune_finetune.py). The paper names no amounts, only "common settings
#: [45]"; these run from a light pruning to one that breaks a network of lesson 03's size.
PRUNE_AMOUNTS: tuple[float, ...] = (0.3, 0.5, 0.7, 0.9)
#: A pruned or fine-tuned model counts as one the learner would still use when it loses less than
#: this much test accuracy (5 points): the paper's claim (Sec. 5.3) is about such models.
ACCURACY_KEPT = 0.05


def prunable_weights(model: nn.Module) -> list[tuple[nn.Module, str]]:
    """Every (module, "weight") of the model's convolutions and linear layers: what magnitude
    pruning removes."""
    pairs = [(m, "weight") for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    if not pairs:
        raise ValueError(f"{type(model).__name__} has no Conv2d or Linear layer to prune.")
    return pairs


def prune_global_l1(model: nn.Module, amount: float) -> nn.Module:
    """A copy of ``model`` with the fraction ``amount`` of its conv/linear weights of smallest |w|
    set to 0 (Fig. 3g).

    Global L1 unstructured pruning: one threshold over all layers together
    (``prune.global_unstructured``), made permanent (``prune.remove``), so the copy is an ordinary
    model. ``amount`` in [0, 1). Returned in eval mode; ``model`` is not changed.
    """
    if not 0.0 <= amount < 1.0:
        raise ValueError(f"amount is the fraction of weights to remove, in [0, 1); got {amount}.")
    # prune flattens with .view
    pruned = copy.deepcopy(model).to(memory_format=torch.contiguous_format)
    params = prunable_weights(pruned)
    if amount > 0:
        prune.global_unstructured(params, pruning_method=prune.L1Unstructured, amount=amount)
        for module, name in params:
            prune.remove(module, name)
    return pruned.to(memory_format=torch.channels_last).eval()


def sparsity(model: nn.Module) -> float:
    """Fraction of the conv/linear weights that are exactly zero."""
    weights = [getattr(m, n) for m, n in prunable_weights(model)]
    zeros = sum(int((w == 0).sum()) for w in weights)
    return zeros / sum(w.numel() for w in weights)


def fine_tune(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    epochs: int = 5,
    lr: float = 0.01,
    batch_size: int = 256,
    augment: str = "crop_flip",
    seed: int = 0,
    progress: bool = False,
) -> nn.Module:
    """A copy of ``model`` fine-tuned on clean uint8 ``images`` (Fig. 3h): ``epochs`` epochs of SGD
    at a constant ``lr``.

    The learner's own fast step (``train.fit`` with a ``TrainingRecipe``: batch-wise ``augment`` on
    the device, autocast, SGD with momentum 0.9, weight decay 5e-4, Sec. 5.1) with the "step"
    schedule, whose first decay comes after 30 epochs, so the learning rate stays ``lr``. BatchNorm
    statistics follow the new data. Seeded; returned in eval mode; ``model`` is not changed.
    """
    from .train import fit

    check_uint8_images(images)
    if labels.shape != (len(images),):
        raise ValueError(
            f"labels must have shape ({len(images)},), one per image; got {tuple(labels.shape)}."
        )
    if epochs < 1 or epochs > 30:
        raise ValueError(
            f"fine-tuning epochs must be in 1..30 (a constant learning rate); got {epochs}."
        )
    if not lr > 0:
        raise ValueError(f"lr must be > 0; got {lr}.")
    tuned = copy.deepcopy(model)
    device = next(tuned.parameters()).device
    recipe = TrainingRecipe(
        epochs=epochs, lr=lr, batch_size=batch_size, augment=augment, seed=seed, schedule="step"
    )
    with torch.random.fork_rng(devices=[]):
        fit(tuned, images, labels, recipe, device, progress, desc="fine-tuning")
    return tuned.eval()


class OutputNoise(nn.Module):
    """The paper's differential-privacy remark (Sec. 5.3): Gaussian noise added to the model's
    output.

    The paper notes that "noise added to the output would be reduced by taking an average", and the
    authors' notebook adds N(0, 0.1^2) to the logits at verification. This wrapper does that: every
    forward pass returns ``model(x) + std * z`` with z ~ N(0, 1) drawn from its own seeded
    generator, so a verification through it is repeatable. The arbitrator's loss (eq. 6) is a mean
    over the user's photos, which averages the noise away. The course's DP-SGD (Opacus) is a
    stronger, training-time defence that the paper does not run.
    """

    def __init__(self, model: nn.Module, std: float, seed: int = 0) -> None:
        super().__init__()
        if not std >= 0.0:
            raise ValueError(
                f"std is the noise's standard deviation on the logits, >= 0; got {std}."
            )
        self.model, self.std = model, float(std)
        self.generator = torch.Generator().manual_seed(seed)

    def forward(self, x: Tensor) -> Tensor:
        """The model's logits plus fresh N(0, std^2) noise per logit."""
        logits = self.model(x)
        noise = torch.randn(logits.shape, generator=self.generator, dtype=torch.float32)
        return logits + self.std * noise.to(logits.device, logits.dtype)
