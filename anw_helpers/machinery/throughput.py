"""Training throughput on this machine: how many images per second the course's pipeline trains.

Lesson 05 uses it to project what one training of each architecture would cost here. The
instructors' benchmark, which compares this pipeline with a textbook one, is
``python -m tools.bench train`` (in a clone of the course repository).
"""

from __future__ import annotations

import time
from typing import Optional

import torch

from ..datasets import load_cifar10
from ..models import build_model
from ..profiles import get_profile
from ..train import make_train_step
from .runtime import Precision, choose_device

__all__ = ["synchronize", "training_images_per_second"]


def synchronize(device: torch.device) -> None:
    """Wait until ``device`` has finished its queued work (CUDA runs asynchronously; a timer read
    without this measures only how fast the work was queued). A no-op on the CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def training_images_per_second(
    model_name: str,
    width: int,
    batch: int,
    steps: int,
    precision: Optional[Precision] = None,
    warmup: int = 2,
) -> float:
    """Images/s of the course's pipeline (``train.make_train_step``) training ``model_name``.

    Trains ``steps`` batches of ``batch`` CIFAR-10 images in ``precision`` (default: the one the
    machine picks) and times them after ``warmup`` steps (the first steps of a narrow fp32 network
    on real images ran ten times slower than the rest here).
    """
    device = choose_device()
    data = load_cifar10("train")
    n = batch * (steps + warmup)
    x, y = data.images[:n].to(device), data.labels[:n].to(device)
    recipe = get_profile("ci").config.recipe.with_(
        model=model_name, width=width, batch_size=batch, epochs=1, schedule="step"
    )
    model = build_model(model_name, width=width)
    model = model.to(device, memory_format=torch.channels_last).train()
    step = make_train_step(model, recipe, device, steps + warmup, precision)
    for i in range(steps + warmup):
        if i == warmup:
            synchronize(device)
            start = time.perf_counter()
        step(x[i * batch : (i + 1) * batch], y[i * batch : (i + 1) * batch])
    synchronize(device)
    return batch * steps / (time.perf_counter() - start)
