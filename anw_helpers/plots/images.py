"""Photos on screen: the sample portrait, rows and galleries of images, colour channels (eq. 3)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Optional, Union

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor

from .core import ImageLike, as_image_list, finish_figure, show_image, to_display

__all__ = ["sample_portrait", "show_images", "show_grid", "plot_channels"]


def sample_portrait(height: int = 240) -> Tensor:
    """The portrait that matplotlib ships (``grace_hopper.jpg``), standing in for a user's selfie
    (Sec. 4.1).

    Args:
        height: the height in pixels after resizing (aspect ratio kept; the original is 600 x 512).

    Returns:
        A float32 tensor (3, height, W) in [0, 1]. Works offline: the file is part of matplotlib.
    """
    import matplotlib.cbook as cbook
    from PIL import Image

    if height < 8:
        raise ValueError(f"height must be at least 8 pixels; got {height}.")
    with Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)) as im:
        im = im.convert("RGB")
        width = max(1, round(im.width * height / im.height))
        im = im.resize((width, height), Image.LANCZOS)
        array = np.asarray(im, dtype=np.uint8).transpose(2, 0, 1).copy()
    return torch.from_numpy(array).float().div_(255.0)


def show_images(
    images: Union[Tensor, Sequence[ImageLike]],
    titles: Optional[Sequence[str]] = None,
    ncols: Optional[int] = None,
    suptitle: Optional[str] = None,
    size: float = 2.4,
    cmap: Optional[str] = None,
    vmin: Optional[float] = 0.0,
    vmax: Optional[float] = 1.0,
) -> Figure:
    """Show images side by side (a row, or a grid of ``ncols`` columns).

    Args:
        images: a batch (N, 3, H, W), one image, or a list of (3, H, W) colour / (H, W)
            single-channel images.
        titles: one title per image (e.g. measured PSNR, luma change).
        ncols: columns of the grid; default all in one row (at most 8).
        suptitle: a title over the whole figure.
        size: inches per panel.
        cmap, vmin, vmax: colour map and limits for single-channel images (default grey, [0, 1]).

    Returns:
        The figure.
    """
    items = as_image_list(images)
    if not items:
        raise ValueError("show_images needs at least one image.")
    if titles is not None and len(titles) != len(items):
        raise ValueError(f"got {len(items)} images but {len(titles)} titles.")
    ncols = ncols or min(len(items), 8)
    nrows = math.ceil(len(items) / ncols)
    first = to_display(items[0])
    aspect = first.shape[0] / first.shape[1]
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(size * ncols, size * aspect * nrows + (0.5 if suptitle else 0.3)),
        squeeze=False,
    )
    for i, ax in enumerate(axes.flat):
        if i < len(items):
            show_image(ax, items[i], titles[i] if titles else None, cmap, vmin, vmax)
        else:
            ax.axis("off")
    if suptitle:
        fig.suptitle(suptitle, fontsize=11)
    fig.tight_layout()
    return finish_figure(fig)


def show_grid(
    rows: Sequence[Sequence[ImageLike]],
    col_titles: Optional[Sequence[str]] = None,
    row_titles: Optional[Sequence[str]] = None,
    suptitle: Optional[str] = None,
    size: float = 1.6,
) -> Figure:
    """A gallery with one row per image and one column per treatment, like the paper's Fig. 4.

    Args:
        rows: ``rows[r][c]`` is a (3, H, W) image (e.g. row = a photo; columns = clean, hue 60, blue
            0.1 ...).
        col_titles: a title per column (e.g. the treatment and its measured PSNR).
        row_titles: a label per row (e.g. the CIFAR-10 class).
        suptitle: a title over the whole figure.
        size: inches per panel.

    Returns:
        The figure.
    """
    rows = [list(r) for r in rows]
    if not rows or not rows[0]:
        raise ValueError("show_grid needs at least one row with one image.")
    ncols = len(rows[0])
    if any(len(r) != ncols for r in rows):
        raise ValueError(
            f"every row needs {ncols} images; got rows of lengths {[len(r) for r in rows]}."
        )
    fig, axes = plt.subplots(
        len(rows),
        ncols,
        figsize=(size * ncols + (0.6 if row_titles else 0), size * len(rows) + 0.5),
        squeeze=False,
    )
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            ax = axes[r, c]
            title = col_titles[c] if (col_titles is not None and r == 0) else None
            show_image(ax, image, title)
            if row_titles is not None and c == 0:
                ax.set_ylabel(row_titles[r], fontsize=9)
    if suptitle:
        fig.suptitle(suptitle, fontsize=11)
    fig.tight_layout()
    return finish_figure(fig)


def plot_channels(
    coordinates: Tensor,
    names: Sequence[str] = ("Y (luma)", "I", "Q"),
    suptitle: Optional[str] = None,
) -> Figure:
    """The three coordinates of one image in a colour space, each as a map (eq. 3: Y, I, Q).

    The first channel (luma) is drawn in grey on [0, 1]; the chroma channels, which are signed, in a
    diverging map centred on 0 (white = no colour), each scaled to its own largest value (see its
    colour bar).

    Args:
        coordinates: a (3, H, W) tensor, e.g. ``color.rgb_to_yiq(image)``.
        names: the three channel names.
        suptitle: a title over the figure.
    """
    if not isinstance(coordinates, Tensor) or coordinates.dim() != 3 or coordinates.shape[0] != 3:
        raise ValueError(
            "coordinates must be a (3, H, W) tensor; got "
            f"{getattr(coordinates, 'shape', type(coordinates))}."
        )
    c = coordinates.detach().cpu().double().numpy()
    aspect = c.shape[1] / c.shape[2]
    fig, axes = plt.subplots(1, 3, figsize=(9.6, 3.0 * aspect + 0.5))
    for i, ax in enumerate(axes):
        if i == 0:
            im = ax.imshow(c[0], cmap="gray", vmin=0, vmax=1)
        else:
            limit = float(np.abs(c[i]).max()) or 1.0
            # colour maps that match the axes' meaning: I runs blue -> orange-red, Q green -> purple
            im = ax.imshow(c[i], cmap="PRGn_r" if i == 2 else "coolwarm", vmin=-limit, vmax=limit)
        ax.set_title(names[i], fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03)
    if suptitle:
        fig.suptitle(suptitle, fontsize=11)
    fig.tight_layout()
    return finish_figure(fig)
