"""Batch-wise data augmentation on the device (Sec. 5.1: random crop with padding 4 and horizontal flip).

All functions take a float batch (B, 3, H, W) and a torch.Generator on the batch's device, and do
one vectorised operation for the whole batch (no per-image PIL), so they run inside the fast loop.
"""
from __future__ import annotations

from typing import Callable, Optional

import torch
from torch import Tensor
from torch.nn import functional as F

__all__ = ["random_crop", "random_flip", "crop_flip", "AUGMENTATIONS", "get_augmentation"]

Augmentation = Callable[[Tensor, Optional[torch.Generator]], Tensor]


def random_crop(x: Tensor, generator: Optional[torch.Generator] = None, padding: int = 4) -> Tensor:
    """Zero-pad each image by ``padding`` and crop a random H x W window, per image, in one gather."""
    b, _, h, w = x.shape
    padded = F.pad(x, (padding, padding, padding, padding))
    dy = torch.randint(0, 2 * padding + 1, (b,), device=x.device, generator=generator)
    dx = torch.randint(0, 2 * padding + 1, (b,), device=x.device, generator=generator)
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]  # (B, 1, H, 1)
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]  # (B, 1, 1, W)
    batch = torch.arange(b, device=x.device)[:, None, None, None]
    chan = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    return padded[batch, chan, rows, cols]


def random_flip(x: Tensor, generator: Optional[torch.Generator] = None) -> Tensor:
    """Flip each image horizontally with probability 1/2."""
    flip = torch.rand(x.shape[0], device=x.device, generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


def crop_flip(x: Tensor, generator: Optional[torch.Generator] = None) -> Tensor:
    """The standard CIFAR augmentation of Sec. 5.1: random crop (pad 4), then random horizontal flip."""
    return random_flip(random_crop(x, generator), generator)


def _identity(x: Tensor, generator: Optional[torch.Generator] = None) -> Tensor:
    return x


#: Named augmentations a training config can ask for.
AUGMENTATIONS: dict[str, Augmentation] = {"none": _identity, "crop_flip": crop_flip}


def get_augmentation(name: str) -> Augmentation:
    """The augmentation called ``name`` (one of ``AUGMENTATIONS``)."""
    if name not in AUGMENTATIONS:
        raise ValueError(f"unknown augmentation {name!r}; expected one of {', '.join(AUGMENTATIONS)}.")
    return AUGMENTATIONS[name]
