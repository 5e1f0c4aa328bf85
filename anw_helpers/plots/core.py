"""What every figure of the course shares: how a figure is finished, and how an image is shown.

Figures are made with pyplot (so Jupyter's inline backend knows how to display them) and then closed
in pyplot, so a notebook shows a figure exactly once: when it is the value of a cell's last line or
is passed to ``display``. Images are float tensors in [0, 1] of shape (3, H, W) (or (N, 3, H, W)
where noted), as in :mod:`anw_helpers.color`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional, Union

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import Tensor

__all__ = ["ImageLike", "as_image_list", "finish_figure", "show_image", "to_display"]

ImageLike = Union[Tensor, np.ndarray]


def finish_figure(fig: Figure) -> Figure:
    """Close ``fig`` in pyplot (no second display, no leak) and return it for the caller to show or
    save."""
    plt.close(fig)
    return fig


def to_display(image: ImageLike) -> np.ndarray:
    """A (3, H, W) or (H, W) image as a numpy array that ``imshow`` accepts: (H, W, 3) or (H, W).

    Colour images are clipped to [0, 1] for display only (a raw, unclipped g_k image can leave the
    RGB cube, see lesson 01); the caller's tensor is not changed.
    """
    array = (
        image.detach().cpu().double().numpy()
        if isinstance(image, Tensor)
        else np.asarray(image, dtype=float)
    )
    if array.ndim == 3 and array.shape[0] == 3:
        return np.clip(array.transpose(1, 2, 0), 0.0, 1.0)
    if array.ndim == 2:
        return array
    raise ValueError(f"expected an image of shape (3, H, W) or (H, W); got {array.shape}.")


def as_image_list(images: Union[Tensor, Sequence[ImageLike]]) -> list:
    """A batch (N, 3, H, W), one image or a list of images, as a list of images."""
    if isinstance(images, Tensor) and images.dim() == 4:
        return list(images)
    if isinstance(images, Tensor) and images.dim() in (2, 3):
        return [images]
    return list(images)


def show_image(
    ax: Axes,
    image: ImageLike,
    title: Optional[str] = None,
    cmap: Optional[str] = None,
    vmin: Optional[float] = 0.0,
    vmax: Optional[float] = 1.0,
) -> None:
    """Draw one image on ``ax`` without ticks (single-channel images in ``cmap``, default grey)."""
    array = to_display(image)
    if array.ndim == 2:
        ax.imshow(array, cmap=cmap or "gray", vmin=vmin, vmax=vmax, interpolation="nearest")
    else:
        ax.imshow(array, interpolation="nearest")
    if title:
        ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
