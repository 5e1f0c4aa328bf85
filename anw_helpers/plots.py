"""Pure plotting functions for the lessons: each draws one static matplotlib figure and returns it.

Nothing here trains, caches or keeps state: call a function with tensors, get a ``Figure`` back. The
widgets in :mod:`anw_helpers.widgets` only wrap these functions with sliders, so every figure a
widget shows can also be drawn headless (CI, tests, a script) by calling the function directly.

Figures are made with pyplot (so Jupyter's inline backend knows how to display them) and then closed
in pyplot, so a notebook shows a figure exactly once: when it is the value of a cell's last line.
Images are float tensors in [0, 1] of shape (3, H, W) (or (N, 3, H, W) where noted), as in
:mod:`anw_helpers.color`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Optional, Union

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Arc, Wedge
from torch import Tensor

from . import color
from .color import CUBE_TOLERANCE
from .verify import circular_distance

__all__ = [
    "finish_figure",
    "sample_portrait",
    "to_display",
    "show_images",
    "show_grid",
    "plot_channels",
    "plot_iq_plane",
    "plot_watermark_explorer",
    "plot_per_signature",
    "plot_histograms",
    "plot_signature_slots",
    "plot_signature_losses",
    "plot_gradient_search",
    "plot_training_record",
]

ImageLike = Union[Tensor, np.ndarray]


# ------------------------------------------------------------------------------------------ images
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


def _as_list(images: Union[Tensor, Sequence[ImageLike]]) -> list:
    if isinstance(images, Tensor) and images.dim() == 4:
        return list(images)
    if isinstance(images, Tensor) and images.dim() in (2, 3):
        return [images]
    return list(images)


def _imshow(ax, image: ImageLike, title: Optional[str], cmap: Optional[str], vmin, vmax) -> None:
    array = to_display(image)
    if array.ndim == 2:
        ax.imshow(array, cmap=cmap or "gray", vmin=vmin, vmax=vmax, interpolation="nearest")
    else:
        ax.imshow(array, interpolation="nearest")
    if title:
        ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def finish_figure(fig: Figure) -> Figure:
    """Close ``fig`` in pyplot (no second display, no leak) and return it for the caller to show or
    save."""
    plt.close(fig)
    return fig


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
    items = _as_list(images)
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
            _imshow(ax, items[i], titles[i] if titles else None, cmap, vmin, vmax)
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
            _imshow(
                ax,
                image,
                col_titles[c] if (col_titles is not None and r == 0) else None,
                None,
                0.0,
                1.0,
            )
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


# ----------------------------------------------------------------------------- the I-Q chroma plane
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
    _imshow(axes[0], image, "original", None, 0, 1)
    _imshow(axes[1], marked, f"watermarked, k = {k:g}°", None, 0, 1)
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


# ------------------------------------------------------------------------------------ measurements
def plot_per_signature(
    signatures: Sequence[float],
    curves: Mapping[str, Sequence[float]],
    ylabel: str,
    title: Optional[str] = None,
    percent: bool = False,
    xlabel: str = "signature k (degrees)",
) -> Figure:
    """Measured values against the signature k (degrees), one line per label, e.g. clipped share or
    PSNR.

    The paper's signatures are the slots 30, 60, ..., 330 (Sec. 5.1); clipping and PSNR measure the
    content property of Sec. 4.1.

    Args:
        signatures: the k values (x axis), e.g. ``color.SIGNATURE_SLOTS``, or any angles in degrees.
        curves: label -> one value per signature.
        ylabel: the y-axis label.
        title: the title.
        percent: format the y axis as percentages (values are fractions).
        xlabel: the x-axis label.

    The y axis starts at 0 when every value is non-negative (so small differences are not
    magnified).
    """
    ks = [float(k) for k in signatures]
    if not ks or not curves:
        raise ValueError("plot_per_signature needs at least one signature and one curve.")
    fig, ax = plt.subplots(figsize=(6.0, 3.2))
    lowest = math.inf
    for label, values in curves.items():
        values = [float(v) for v in values]
        if len(values) != len(ks):
            raise ValueError(f"curve {label!r} has {len(values)} values for {len(ks)} signatures.")
        ax.plot(ks, values, marker="o", ms=4, label=label)
        lowest = min(lowest, min(values))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if max(ks) - min(ks) >= 60:
        ax.set_xticks([k for k in range(-360, 361, 30) if min(ks) <= k <= max(ks)])
    if lowest >= 0:
        ax.set_ylim(bottom=0)
    if percent:
        ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.grid(alpha=0.3)
    if len(curves) > 1:
        ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return finish_figure(fig)


def plot_histograms(
    samples: Mapping[str, Tensor],
    xlabel: str,
    marks: Optional[Mapping[str, float]] = None,
    bins: int = 60,
    title: Optional[str] = None,
) -> Figure:
    """Overlaid histograms of measured values (e.g. the hue shift each image received), with
    vertical marks.

    Args:
        samples: label -> 1-d tensor of values.
        xlabel: the x-axis label.
        marks: label -> x position of a dashed vertical line (e.g. the key k* = 60).
        bins: number of bins, shared by all histograms.
        title: the title.
    """
    values = {
        k: torch.as_tensor(v).detach().cpu().double().flatten().numpy() for k, v in samples.items()
    }
    lo = min(float(v.min()) for v in values.values())
    hi = max(float(v.max()) for v in values.values())
    edges = np.linspace(lo, hi if hi > lo else lo + 1, bins + 1)
    fig, ax = plt.subplots(figsize=(8.0, 3.2))
    for label, v in values.items():
        ax.hist(v, bins=edges, alpha=0.55, label=label)
    for (label, x), style in zip((marks or {}).items(), ["--", ":", "-.", "-"] * 8):
        ax.axvline(float(x), ls=style, color="black", lw=1.2, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("images")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return finish_figure(fig)


def plot_signature_slots(
    n_slots: int = 12, key: Optional[float] = None, estimate: Optional[float] = None
) -> Figure:
    """The bounded signature space of Sec. 4.2 on the hue circle: N slots of width 2*tau = 360/N.

    Slot 0 (centred on k = 0) is reserved for "no watermark", leaving N - 1 signatures. With a
    ``key`` k*, its slot is green; with an ``estimate`` k-hat, a marker shows it and the title says
    whether it matches,
    |k-hat - k*| < tau measured on the circle (Sec. 4.2).

    Args:
        n_slots: N, the number of slots (the paper's N = 12, tau = 15 degrees).
        key: the user's private signature k* in degrees.
        estimate: the arbitrator's inferred signature k-hat in degrees.
    """
    if int(n_slots) != n_slots or n_slots < 2:
        raise ValueError(f"n_slots must be an integer >= 2; got {n_slots}.")
    n_slots = int(n_slots)
    width = 360.0 / n_slots
    tau = width / 2
    fig, ax = plt.subplots(figsize=(4.4, 4.6))
    for s in range(n_slots):
        centre = s * width
        colour = "0.8" if s == 0 else "#cfe0f5"
        if key is not None and circular_distance(centre, key) < tau:
            colour = "#7bc47f"
        ax.add_patch(
            Wedge(
                (0, 0),
                1.0,
                centre - tau,
                centre + tau,
                width=0.35,
                facecolor=colour,
                edgecolor="white",
                lw=1,
            )
        )
        if n_slots <= 36:
            t = math.radians(centre)
            ax.text(
                1.13 * math.cos(t),
                1.13 * math.sin(t),
                f"{centre:g}",
                ha="center",
                va="center",
                fontsize=7,
            )
    ax.text(0, 0.08, f"N = {n_slots} slots", ha="center", fontsize=10)
    ax.text(0, -0.08, f"2τ = {width:g}°", ha="center", fontsize=10)
    title = f"{n_slots - 1} signatures + 'no watermark'"
    if key is not None:
        t = math.radians(key)
        ax.plot(
            [0.55 * math.cos(t), 1.02 * math.cos(t)],
            [0.55 * math.sin(t), 1.02 * math.sin(t)],
            color="darkgreen",
            lw=2,
        )
    if estimate is not None:
        t = math.radians(estimate)
        ax.plot([0.6 * math.cos(t)], [0.6 * math.sin(t)], marker="s", color="black", ms=7)
        if key is not None:
            d = circular_distance(estimate, key)
            title = (
                rf"$k^*$ = {key:g}°, $\hat{{k}}$ = {estimate:g}°: $|\hat{{k}} - k^*|$ = {d:g}° "
                rf"{'<' if d < tau else '≥'} τ = {tau:g}° → {'match' if d < tau else 'miss'}"
            )
    ax.set_xlim(-1.25, 1.25)
    ax.set_ylim(-1.25, 1.25)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return finish_figure(fig)


def plot_signature_losses(
    result,
    k_star: float,
    tau: float = 15.0,
    ax: Optional[Axes] = None,
    label: Optional[str] = None,
    color: str = "tab:blue",
) -> Figure:
    """The paper's Fig. 2 plot: mean loss of the user's images against k - k*, with the match band
    and k_hat.

    x = k - k* wrapped to [-180, 180); a green band where |k - k*| < tau; a square marker at the
    argmin (the inferred signature). ``result`` is a ``verify.SearchResult``. Draws on ``ax`` when
    given (to overlay several users), else on a new figure; returns the figure.
    """
    signatures = result.signatures.double()
    offsets = torch.remainder(signatures - k_star + 180.0, 360.0) - 180.0
    order = torch.argsort(offsets)
    x, y = offsets[order].numpy(), result.losses[order].double().numpy()
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(6, 3.5))
    fig = ax.figure
    if not any(getattr(p, "_anw_band", False) for p in ax.patches):
        band = ax.axvspan(
            -tau, tau, color="tab:green", alpha=0.2, label=f"match: |k - k*| < {tau:g}"
        )
        band._anw_band = True
    ax.plot(x, y, "o-", color=color, label=label, ms=4)
    best = int(np.argmin(y))
    ax.plot(x[best], y[best], "s", color=color, ms=11, mfc="none", mew=2)
    ax.set_xlabel("k - k*  (degrees)")
    ax.set_ylabel("mean loss on the user's images")
    ax.set_xticks(np.arange(-180, 181, 60))
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    if own:
        fig.tight_layout()
        return finish_figure(fig)
    return fig


def plot_gradient_search(result, k_star: Optional[float] = None, tau: float = 15.0) -> Figure:
    """Gradient-search trajectories (Sec. 4.2): signature and loss against step, one line per start.

    ``result`` is a ``verify.GradientSearchResult``; the user's k* (if revealed) is drawn with its
    band.
    """
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.5))
    traj, losses = result.trajectories.numpy(), result.loss_trajectories.numpy()
    for i in range(traj.shape[1]):
        a.plot(traj[:, i], ".-", ms=3, label=f"start {result.inits[i]:.0f}")
        b.plot(losses[:, i], ".-", ms=3)
    if k_star is not None:
        a.axhspan(k_star - tau, k_star + tau, color="tab:green", alpha=0.2, label="k* ± tau")
    a.set_xlabel("step")
    a.set_ylabel("signature k (degrees)")
    a.set_ylim(0, 360)
    a.legend(fontsize=7, ncol=2)
    b.set_xlabel("step")
    b.set_ylabel("mean loss")
    for ax in (a, b):
        ax.grid(alpha=0.3)
    fig.suptitle(f"gradient search: k_hat = {result.best:.1f}")
    fig.tight_layout()
    return finish_figure(fig)


def plot_training_record(record) -> Figure:
    """Training loss and accuracy per epoch, with the final test accuracy
    (``train.TrainRecord``)."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.2))
    epochs = np.arange(1, len(record.epoch_loss) + 1)
    a.plot(epochs, record.epoch_loss, "o-", ms=3)
    a.set_xlabel("epoch")
    a.set_ylabel("training loss (augmented batches)")
    b.plot(epochs, record.epoch_accuracy, "o-", ms=3, label="training accuracy (augmented batches)")
    b.axhline(
        record.test_accuracy,
        color="tab:red",
        ls="--",
        label=f"test accuracy {record.test_accuracy:.2f}",
    )
    b.axhline(
        record.train_accuracy,
        color="tab:green",
        ls=":",
        label=f"final training accuracy {record.train_accuracy:.2f}",
    )
    b.set_xlabel("epoch")
    b.set_ylabel("accuracy")
    b.set_ylim(0, 1)
    b.legend(fontsize=8)
    for ax in (a, b):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return finish_figure(fig)
