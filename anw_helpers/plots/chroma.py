"""The chroma plane (I, Q) where hue is an angle (eq. 3-4), and lesson 01's watermark explorer.

``plot_iq_plane`` paints the plane's slice of the RGB gamut and puts an image's pixels on it;
``plot_watermark_explorer`` shows an image before and after the watermark (eq. 5), in pixels and in
that plane. :mod:`anw_helpers.widgets` wraps the explorer with sliders.
"""

from __future__ import annotations

import math
from typing import Optional

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Arc
from torch import Tensor

from .. import color
from ..color import CUBE_TOLERANCE
from .core import finish_figure, show_image

__all__ = ["plot_iq_plane", "plot_watermark_explorer"]


def _space(color_space: Optional[Tensor]) -> Tensor:
    return (color.YIQ if color_space is None else torch.as_tensor(color_space)).to(torch.float64)


def _chroma_extent(T: Tensor) -> float:
    """Half-width of a square that holds the chroma of every colour in the RGB cube (its 8
    corners)."""
    corners = torch.tensor(
        [[r, g, b] for r in (0, 1) for g in (0, 1) for b in (0, 1)], dtype=torch.float64
    ).T
    return float((T @ corners)[1:].abs().max()) * 1.08


def _gamut_slice(T: Tensor, level: float, extent: float, resolution: int = 201) -> np.ndarray:
    """RGB colours of the chroma plane at first coordinate ``level``; points outside the RGB cube
    are pale grey."""
    axis = torch.linspace(-extent, extent, resolution, dtype=torch.float64)
    q, i = torch.meshgrid(axis.flip(0), axis, indexing="ij")
    coords = torch.stack([torch.full_like(i, level), i, q])
    rgb = torch.einsum("ij,jhw->ihw", torch.linalg.inv(T), coords)
    inside = ((rgb >= 0) & (rgb <= 1)).all(0)
    out = torch.where(inside, rgb, torch.full_like(rgb, 0.93))
    return out.permute(1, 2, 0).numpy()


def _sample_pixels(pixels: Tensor, n_points: int, seed: int) -> Tensor:
    """Up to ``n_points`` pixels (as columns of a 3 x n matrix) drawn without replacement,
    seeded."""
    flat = pixels.detach().cpu().double()
    flat = flat.reshape(-1, 3, flat.shape[-2] * flat.shape[-1]).permute(1, 0, 2).reshape(3, -1)
    if flat.shape[1] > n_points:
        g = torch.Generator().manual_seed(seed)
        flat = flat[:, torch.randperm(flat.shape[1], generator=g)[:n_points]]
    return flat


def plot_iq_plane(
    pixels: Optional[Tensor] = None,
    color_space: Optional[Tensor] = None,
    luma_level: float = 0.5,
    n_points: int = 1500,
    seed: int = 0,
    rotation: Optional[float] = None,
    title: Optional[str] = None,
    ax: Optional[Axes] = None,
) -> Figure:
    """The chroma plane (I, Q) of a colour space, where hue is an angle (eq. 3-4).

    The background is the plane's slice at luma ``luma_level``: each point (I, Q) is painted with
    the RGB colour T^-1 [Y, I, Q]; where that colour is outside the RGB cube (out of gamut) it is
    pale grey. Grey dashed rays mark every 30 degrees, the paper's signature slots. ``pixels`` are
    drawn on top, each dot in its own colour, at its own (I, Q): the distance from the centre is how
    colourful it is, the angle is its hue.

    Args:
        pixels: an image (3, H, W) or a batch (N, 3, H, W) in RGB (values may leave [0, 1]);
            sampled.
        color_space: the 3x3 RGB -> (luma, chroma, chroma) matrix T; default YIQ (eq. 3).
        luma_level: the first coordinate of the background slice.
        n_points: how many pixels to draw at most (seeded sample).
        seed: seed of the pixel sample (the same seed picks the same pixels in two images of equal
            size).
        rotation: if given, an arc from 0 to this angle (degrees) shows the hue rotation theta_k of
            eq. 4.
        title: the panel title.
        ax: draw into this axes (the figure is then the axes' figure) instead of a new figure.

    Returns:
        The figure.
    """
    T = _space(color_space)
    extent = _chroma_extent(T)
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(4.2, 4.2))
    else:
        fig = ax.figure
    ax.imshow(
        _gamut_slice(T, luma_level, extent),
        extent=(-extent, extent, -extent, extent),
        interpolation="bilinear",
    )
    for deg in range(0, 360, 30):
        t = math.radians(deg)
        ax.plot([0, extent * math.cos(t)], [0, extent * math.sin(t)], ls=":", lw=0.6, color="0.45")
        ax.text(
            0.9 * extent * math.cos(t),
            0.9 * extent * math.sin(t),
            f"{deg}°",
            fontsize=6,
            color="0.25",
            ha="center",
            va="center",
        )
    if pixels is not None:
        rgb = _sample_pixels(pixels, n_points, seed)
        chroma = (T @ rgb)[1:]
        ax.scatter(
            chroma[0].numpy(),
            chroma[1].numpy(),
            s=9,
            c=np.clip(rgb.T.numpy(), 0, 1),
            edgecolors="black",
            linewidths=0.25,
        )
    if rotation is not None:
        r = 0.45 * extent
        ax.add_patch(
            Arc(
                (0, 0),
                2 * r,
                2 * r,
                theta1=min(0.0, rotation),
                theta2=max(0.0, rotation),
                lw=2,
                color="black",
            )
        )
        t = math.radians(rotation)
        ax.annotate(
            "",
            xy=(r * math.cos(t), r * math.sin(t)),
            xytext=(0, 0),
            arrowprops=dict(arrowstyle="->", lw=1.5, color="black"),
        )
        ax.text(0, -0.12 * extent, f"θ = {rotation:g}°", ha="center", fontsize=9)
    ax.axhline(0, color="0.3", lw=0.6)
    ax.axvline(0, color="0.3", lw=0.6)
    names = ("I", "Q") if color_space is None else ("chroma 1", "chroma 2")
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    ax.set_xlim(-extent, extent)
    ax.set_ylim(-extent, extent)
    ax.set_aspect("equal")
    ax.set_title(title or f"chroma plane at luma {luma_level:g}", fontsize=9)
    if own:
        fig.tight_layout()
        return finish_figure(fig)
    return fig


def plot_watermark_explorer(
    image: Tensor,
    k: float,
    color_space: Optional[Tensor] = None,
    n_points: int = 1200,
    seed: int = 0,
) -> Figure:
    """The lesson-01 explorer as a static figure: original, watermarked (eq. 5), and both in the
    chroma plane.

    The title reports what was measured on this image: the share of pixels g_k pushed out of the RGB
    cube (clipped; by more than 1e-6, so that float rounding of g_0 = identity does not count), the
    PSNR against the original, and the largest luma change on pixels that were not clipped.

    Args:
        image: a float image (3, H, W) in [0, 1] (a CIFAR-10 image or the portrait).
        k: the signature in degrees (theta_k of eq. 4).
        color_space: the user's 3x3 colour space T; default YIQ (eq. 3).
        n_points: pixels drawn in each chroma plot.
        seed: seed of that sample (the same pixels before and after).

    Returns:
        The figure (4 panels).
    """
    if not isinstance(image, Tensor) or image.dim() != 3:
        raise ValueError(
            f"image must be a (3, H, W) tensor; got {getattr(image, 'shape', type(image))}."
        )
    image = image.float()
    marked = color.watermark(image, k, color_space)
    raw = color.apply_color_matrix(image, color.lct_matrix(k, color_space))
    clipped = ((raw < -CUBE_TOLERANCE) | (raw > 1 + CUBE_TOLERANCE)).any(0)
    luma_change = (color.luma(marked) - color.luma(image)).abs()
    kept = float(luma_change[~clipped].max()) if bool((~clipped).any()) else float("nan")
    psnr = float(color.psnr(image, marked))
    fig, axes = plt.subplots(1, 4, figsize=(13.5, 3.7))
    show_image(axes[0], image, "original")
    show_image(axes[1], marked, f"watermarked, k = {k:g}°")
    plot_iq_plane(
        image, color_space, n_points=n_points, seed=seed, title="chroma before", ax=axes[2]
    )
    plot_iq_plane(
        marked,
        color_space,
        n_points=n_points,
        seed=seed,
        rotation=k,
        title="chroma after",
        ax=axes[3],
    )
    space = "YIQ" if color_space is None else "a user colour space"
    fig.suptitle(
        f"k = {k:g}° in {space}: clipped {float(clipped.float().mean()):.1%} of pixels, PSNR "
        f"{psnr:.1f} dB, max luma change (unclipped pixels) {kept:.1e}",
        fontsize=10,
    )
    fig.tight_layout()
    return finish_figure(fig)
