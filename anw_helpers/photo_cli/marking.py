"""``anw mark``'s photo work: the LCT watermark (eq. 5) on a photo of any size, in tiles of rows.

:func:`watermark_rgb` marks an 8-bit photo in tiles, so a 100-megapixel photo needs a few hundred
megabytes, and measures how much the mark changed it: hue rotation cannot change grey, so greyscale
and near-grey photos carry almost no mark (:data:`FAINT_MARK_LEVELS`). :func:`composite_onto` shows
a transparent photo over an opaque background before it is marked. Photos are read by
``anw_helpers.photos`` (the same pixels the lessons' ``datasets.load_image_folder`` reads).
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from torch import Tensor

from ..color import watermark
from ..photos import TILE_PIXELS

__all__ = ["FAINT_MARK_LEVELS", "watermark_rgb", "composite_onto"]

#: A photo whose pixels the mark changed by less than this mean absolute amount (8-bit levels per
#: channel) carries almost no mark: greyscale or near-grey photos (grey has no hue to rotate).
FAINT_MARK_LEVELS = 1.0


def _mark_tile(tile: np.ndarray, key: float, color_space: Optional[Tensor]) -> np.ndarray:
    x = torch.from_numpy(np.array(tile)).permute(2, 0, 1).float().div_(255.0)  # a writable copy
    y = watermark(x, key, color_space)  # eq. 5 per pixel, clipped to [0, 1]
    return y.mul_(255.0).round_().clamp_(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()


def watermark_rgb(
    rgb: np.ndarray,
    key: float,
    color_space: Optional[Tensor] = None,
    alpha: Optional[np.ndarray] = None,
    tile_pixels: int = TILE_PIXELS,
    out: Optional[np.ndarray] = None,
) -> tuple[np.ndarray, float]:
    """Watermark an (H, W, 3) uint8 photo with signature ``key`` (eq. 5), in tiles of rows.

    Equal to ``data.watermark_uint8`` on the whole photo, with memory bounded by ``tile_pixels``;
    ``out=rgb`` marks in place. Returns the marked photo and the mark's strength: the mean absolute
    change of the 8-bit channel values, weighted by ``alpha`` (transparent pixels do not count).
    Compare it with :data:`FAINT_MARK_LEVELS`.
    """
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"rgb must be an (H, W, 3) uint8 array; got {rgb.dtype} {rgb.shape}.")
    if tile_pixels < 1:
        raise ValueError(f"tile_pixels must be >= 1; got {tile_pixels}.")
    out = np.empty_like(rgb) if out is None else out
    height, width = rgb.shape[:2]
    rows = max(1, tile_pixels // max(width, 1))
    change, weight = 0.0, 0.0
    for top in range(0, height, rows):
        before = rgb[top : top + rows]
        after = _mark_tile(before, float(key), color_space)
        diff = np.abs(after.astype(np.int16) - before.astype(np.int16)).sum(
            axis=2, dtype=np.float64
        )
        if alpha is None:
            change, weight = change + float(diff.sum()), weight + diff.size
        else:
            a = alpha[top : top + rows].astype(np.float64) / 255.0
            change, weight = change + float((diff * a).sum()), weight + float(a.sum())
        out[top : top + rows] = after
    return out, (change / (3.0 * weight) if weight > 0 else 0.0)


def composite_onto(
    rgb: np.ndarray,
    alpha: np.ndarray,
    background: tuple[int, int, int],
    tile_pixels: int = TILE_PIXELS,
) -> np.ndarray:
    """The photo as shown over an opaque ``background``: rgb * a + background * (1 - a), in tiles.

    Returns a new (H, W, 3) uint8 array; transparent pixels become the background, never their
    hidden RGB.
    """
    out = np.empty_like(rgb)
    rows = max(1, tile_pixels // max(rgb.shape[1], 1))
    colour = np.asarray(background, dtype=np.float32)
    for top in range(0, rgb.shape[0], rows):
        a = alpha[top : top + rows, :, None].astype(np.float32) / 255.0
        mixed = rgb[top : top + rows].astype(np.float32) * a + colour * (1.0 - a)
        out[top : top + rows] = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
    return out
