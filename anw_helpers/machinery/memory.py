"""Memory known before a model runs: how much one photo takes in a model pass, and how many photos
a batch may hold (issue 30, case 5: a checkpoint's image size once drove ``anw verify`` to 23.7 GB).

The estimate runs the model once on PyTorch's ``meta`` device (shapes only, no memory, nothing
computed): a photo of H x W pixels takes its float copy and its hue-rotated copy (2 x 3 x H x W x 4
bytes) plus :data:`LIVE_ACTIVATIONS` times the network's largest activation (float32). Without
gradients a pass keeps few activations alive at once (a layer's input, its output, a residual, a
dense block's concatenation), so that bounds it. Batches are sized so that one pass stays within
:data:`PASS_MEMORY_BYTES`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import torch
from torch import nn
from torch.func import functional_call

__all__ = [
    "LIVE_ACTIVATIONS",
    "MAX_BATCH",
    "MAX_IMAGE_SIZE",
    "PASS_MEMORY_BYTES",
    "batch_size_for",
    "photo_bytes",
]

#: The largest image size a model may take: the largest any course model trains at (CUB-200 at
#: 448 x 448, the paper's Fig. 2i; CIFAR-10 is 32). ``anw verify`` loads photos at the checkpoint's
#: size, so this bounds what a checkpoint can make it allocate (issue 30, case 5).
MAX_IMAGE_SIZE = 448
#: The memory one model pass over a batch of photos may take (1 GiB).
PASS_MEMORY_BYTES = 1 << 30
#: Photos per batch at most (small photos: the batch of the course's evaluation code).
MAX_BATCH = 1000
#: How many of the largest activation a pass without gradients keeps alive at once, at most.
LIVE_ACTIVATIONS = 4
#: Bytes per pixel assumed for a model that cannot run on the ``meta`` device (a custom module):
#: the photo's two float copies and four live activations of 64 float32 channels.
_FALLBACK_BYTES_PER_PIXEL = 2 * 3 * 4 + LIVE_ACTIVATIONS * 64 * 4


def _largest_activation(model: nn.Module, height: int, width: int) -> int:
    """The number of elements of the largest output of any of ``model``'s layers for one photo
    (a forward pass on the ``meta`` device: no memory). Raises what the model raises."""
    sizes: list[int] = [0]

    def record(_module: nn.Module, _inputs: object, output: object) -> None:
        if isinstance(output, torch.Tensor):
            sizes.append(output.numel())

    leaves = [m for m in model.modules() if not list(m.children())]
    hooks = [m.register_forward_hook(record) for m in leaves]
    state = {k: v.to("meta") for k, v in [*model.named_parameters(), *model.named_buffers()]}
    modes = {m: m.training for m in model.modules()}
    try:
        model.eval()
        with torch.no_grad():
            functional_call(model, state, (torch.empty(1, 3, height, width, device="meta"),))
    finally:
        for h in hooks:
            h.remove()
        for m, training in modes.items():  # each module's own mode, as it was
            m.training = training
    return max(sizes)


def photo_bytes(model: nn.Module, height: int, width: int) -> int:
    """Bytes one ``height`` x ``width`` photo takes in a pass of ``model`` without gradients: its
    two float copies plus :data:`LIVE_ACTIVATIONS` times the largest activation (measured on the
    ``meta`` device, no memory used). Raises ValueError when the model cannot take photos of that
    size (e.g. a network with a fixed-size classifier)."""
    try:
        largest = _largest_activation(model, height, width)
    except (RuntimeError, ValueError) as exc:
        line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(
            f"the model cannot take {height} x {width} photos ({line[:160]})."
        ) from None
    return 2 * 3 * height * width * 4 + LIVE_ACTIVATIONS * largest * 4


def batch_size_for(model: nn.Module, shape: Sequence[int], budget: Optional[int] = None) -> int:
    """Photos per batch so that one pass of ``model`` over photos of ``shape`` ((N,) C, H, W)
    stays within ``budget`` bytes (None: :data:`PASS_MEMORY_BYTES`); at least 1, at most
    :data:`MAX_BATCH`. A model that cannot run on the ``meta`` device is assumed to need 64
    float32 channels per pixel, four times."""
    height, width = int(shape[-2]), int(shape[-1])
    budget = PASS_MEMORY_BYTES if budget is None else budget
    try:
        per_photo = photo_bytes(model, height, width)
    except (ValueError, NotImplementedError, TypeError):
        per_photo = _FALLBACK_BYTES_PER_PIXEL * height * width
    return max(1, min(MAX_BATCH, budget // max(per_photo, 1)))
