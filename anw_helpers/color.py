"""Colour as linear algebra, and the LCT watermark (paper Sec. 4.1, eq. 3-5).

A pixel is an RGB column vector v = [r, g, b]^T. A colour space is an invertible 3x3 matrix T
that maps RGB to new coordinates; YIQ (eq. 3) separates luma Y from the chroma plane (I, Q), where
hue is an angle. Watermarking with signature k rotates hue by theta_k = k*pi/180 (eq. 4):

    g_k = T^-1 . R(theta_k) . T        (RGB -> YIQ, rotate the I-Q plane, YIQ -> RGB)

The paper prints eq. 5 as g_k = T . R . T^-1; acting on RGB column vectors that order would treat
RGB values as if they were YIQ coordinates, and it does not preserve luma. The order here converts
RGB to YIQ first, as the paper's own code does (``_changeHue``: M^-1 . Th . M); the test suite
proves that g_k leaves Y unchanged.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Optional, Union

import torch
from torch import Tensor

from .machinery._checks import (
    check_color_space,
    check_float_images,
    check_float_shape,
    check_same_shape,
    check_signature,
)

__all__ = [
    "YIQ",
    "SIGNATURE_SLOTS",
    "hue_rotation",
    "lct_matrix",
    "apply_color_matrix",
    "rgb_to_yiq",
    "yiq_to_rgb",
    "watermark",
    "remove_watermark",
    "clipped_fraction",
    "random_color_space",
    "color_space_from_seed",
    "blue_pixel_count",
    "blue_pixel_positions",
    "blue_channel_watermark",
    "luma",
    "psnr",
    "MarkCost",
    "mark_cost",
]

#: The RGB -> YIQ matrix of eq. 3, exactly the paper's numbers (rows: Y, I, Q).
YIQ: Tensor = torch.tensor(
    [
        [0.299, 0.587, 0.114],
        [0.596, -0.275, -0.321],
        [0.212, -0.523, 0.311],
    ],
    dtype=torch.float64,
)

#: The paper's N = 12 signature slots, 0, 30, ..., 330 degrees (Sec. 5.1); 0 means "no watermark".
SIGNATURE_SLOTS: tuple[float, ...] = tuple(float(k) for k in range(0, 360, 30))

Signature = Union[float, int, Tensor]

#: A value counts as outside [0, 1] only beyond this margin (g_0 is the identity only to ~1e-16).
CUBE_TOLERANCE = 1e-6


def hue_rotation(k: Signature) -> Tensor:
    """The hue rotation T_k of eq. 4: identity on Y, a rotation by theta_k = k*pi/180 in the I-Q
    plane.

    ``k`` is in degrees, a number or a 0-d tensor; the result is differentiable in ``k``.
    """
    k = check_signature(k)
    theta = k * (math.pi / 180.0)
    c, s = torch.cos(theta), torch.sin(theta)
    one, zero = torch.ones_like(c), torch.zeros_like(c)
    return torch.stack(
        [
            torch.stack([one, zero, zero]),
            torch.stack([zero, c, -s]),
            torch.stack([zero, s, c]),
        ]
    )


def lct_matrix(k: Signature, color_space: Optional[Tensor] = None) -> Tensor:
    """The linear colour transformation g_k = T^-1 . R(theta_k) . T of eq. 5, acting on RGB columns.

    Args:
        k: signature in degrees (float, int or 0-d tensor; differentiable when it requires grad).
        color_space: the invertible 3x3 RGB -> colour-space matrix T; default ``YIQ`` (eq. 3). A
            user may pick their own T (Sec. 4.1 "Making LCT more versatile", Sec. 5.4).

    Returns:
        A 3x3 tensor: float64 when ``k`` is a float64 tensor, else float32 (computed in float64).

    Note: the paper prints eq. 5 as T . R . T^-1. For RGB column vectors the order that converts to
    YIQ first, rotates, and converts back is T^-1 . R . T; it leaves luma unchanged (tested).
    """
    k_in, k = k, check_signature(k)
    T = YIQ if color_space is None else check_color_space(color_space)
    T = T.to(dtype=torch.float64, device=k.device)
    g = torch.linalg.inv(T) @ hue_rotation(k.to(torch.float64)) @ T
    return g if k.dtype == torch.float64 and isinstance(k_in, Tensor) else g.to(torch.float32)


def apply_color_matrix(images: Tensor, matrix: Tensor, clip: bool = False) -> Tensor:
    """Apply a 3x3 matrix to every pixel's RGB column vector: v' = M v, for images (..., 3, H, W).

    The images are not range-checked (YIQ coordinates leave [0, 1]); ``clip=True`` clamps to [0, 1].
    """
    check_float_shape(images)
    if tuple(matrix.shape) != (3, 3):
        raise ValueError(f"matrix must be 3x3; got shape {tuple(matrix.shape)}.")
    m = matrix.to(device=images.device, dtype=images.dtype)
    out = torch.einsum("ij,...jhw->...ihw", m, images)
    return out.clamp(0.0, 1.0) if clip else out


def rgb_to_yiq(images: Tensor) -> Tensor:
    """Convert RGB images in [0, 1] to YIQ coordinates with eq. 3 (Y in [0, 1]; I, Q signed)."""
    return apply_color_matrix(check_float_images(images), YIQ)


def yiq_to_rgb(images: Tensor) -> Tensor:
    """Convert YIQ coordinates back to RGB with the inverse of eq. 3 (no clipping)."""
    return apply_color_matrix(images, torch.linalg.inv(YIQ))


def watermark(images: Tensor, k: Signature, color_space: Optional[Tensor] = None) -> Tensor:
    """Watermark images with signature ``k``: v' = g_k v for every pixel, then clip to [0, 1] (eq.
    5, Sec. 5.1).

    Args:
        images: float images in [0, 1], shape (..., 3, H, W), on any device.
        k: signature in degrees; differentiable when a tensor that requires grad (gradient search).
        color_space: the user's 3x3 colour space T (default ``YIQ``).

    Returns:
        Watermarked images, same shape, dtype and device, clipped to [0, 1].
    """
    check_float_images(images)
    return apply_color_matrix(images, lct_matrix(k, color_space), clip=True)


def remove_watermark(images: Tensor, k: Signature, color_space: Optional[Tensor] = None) -> Tensor:
    """Undo ``watermark`` with g_k^-1 = g_(-k); exact for pixels that were not clipped."""
    if isinstance(k, Tensor):
        return watermark(images, -k, color_space)
    return watermark(images, -float(check_signature(k)), color_space)


def clipped_fraction(images: Tensor, k: Signature, color_space: Optional[Tensor] = None) -> Tensor:
    """Share of pixels (per image) that g_k maps outside the RGB cube, so ``watermark`` clips them.

    Clipped pixels are where the watermark is not invertible (Sec. 5.1 clips to [0, 1]).
    Returns a tensor of shape images.shape[:-3].
    """
    check_float_images(images)
    raw = apply_color_matrix(images, lct_matrix(k, color_space))
    outside = ((raw < -CUBE_TOLERANCE) | (raw > 1 + CUBE_TOLERANCE)).any(dim=-3)
    return outside.float().mean(dim=(-2, -1))


def random_color_space(
    generator: Optional[torch.Generator] = None, max_condition: float = 50.0
) -> Tensor:
    """A user-specific colour space: a 3x3 matrix with U(-1, 1) entries (Sec. 5.4), float64.

    Badly conditioned draws (condition number above ``max_condition``) are redrawn, so the matrix is
    safely invertible and the hue rotation inside it is well defined.
    """
    for _ in range(1000):
        m = torch.rand(3, 3, generator=generator, dtype=torch.float64) * 2 - 1
        if float(torch.linalg.cond(m)) <= max_condition:
            return m
    raise RuntimeError(
        f"could not draw a colour space with condition number <= {max_condition} in 1000 tries"
    )


def color_space_from_seed(seed: Optional[int]) -> Optional[Tensor]:
    """A user's colour space from a seed: ``random_color_space`` drawn from ``seed``, or None (YIQ)
    for None.

    A user keeps only the seed secret next to the key; the course's learners and ``anw mark`` use
    this.
    """
    return None if seed is None else random_color_space(torch.Generator().manual_seed(int(seed)))


def blue_pixel_count(height: int, width: int) -> int:
    """How many pixels the blue-channel watermark marks by default (Sec. 5.3): one in eight, at
    most 512 (the paper marks 512 of its 64 x 64 = 4,096 pixels; CIFAR-10's 32 x 32: 128)."""
    return max(1, min(512, height * width // 8))


def blue_pixel_positions(height: int, width: int, n: int = 512, seed: int = 0) -> Tensor:
    """The seeded pixel positions (flat indices into H*W) of the less-noticeable watermark (Sec.
    5.3)."""
    if n <= 0 or n > height * width:
        raise ValueError(f"n must be in 1..{height * width} for {height}x{width} images; got {n}.")
    g = torch.Generator().manual_seed(seed)
    return torch.randperm(height * width, generator=g)[:n]


def blue_channel_watermark(
    images: Tensor, intensity: float, positions: Optional[Tensor] = None, seed: int = 0
) -> Tensor:
    """The less-noticeable watermark of Sec. 5.3 / Fig. 4: set the blue channel to ``intensity`` on
    512 seeded pixels.

    The signature is the intensity (the paper uses 0.1, 0.3, 0.5 with tau = 0.1). ``positions`` are
    flat pixel indices; by default one pixel in eight, at most 512 (the paper marks 512 of 4,096
    pixels).
    """
    check_float_images(images)
    if not 0.0 <= float(intensity) <= 1.0:
        raise ValueError(f"intensity must be in [0, 1]; got {intensity}.")
    h, w = images.shape[-2:]
    if positions is None:
        positions = blue_pixel_positions(h, w, blue_pixel_count(h, w), seed)
    mask = torch.zeros(h * w, dtype=torch.bool, device=images.device)
    mask[positions.to(images.device)] = True
    out = images.clone()
    out[..., 2, :, :] = torch.where(
        mask.view(h, w), torch.full_like(out[..., 2, :, :], float(intensity)), out[..., 2, :, :]
    )
    return out


def luma(images: Tensor) -> Tensor:
    """Luma Y of eq. 3 (the first row of ``YIQ``), shape (..., H, W)."""
    return rgb_to_yiq(images)[..., 0, :, :]


def psnr(reference: Tensor, test: Tensor) -> Tensor:
    """Peak signal-to-noise ratio in dB between images in [0, 1], one value per image (Sec. 4.1:
    content preserved).

    Identical images give +inf.
    """
    check_float_images(reference, "reference")
    check_float_images(test, "test")
    check_same_shape(reference, test, "reference", "test")
    mse = ((reference - test) ** 2).mean(dim=(-3, -2, -1))
    return 10 * torch.log10(1.0 / mse)


class MarkCost(NamedTuple):
    """What a watermark costs a set of photos: see :func:`mark_cost`."""

    psnr: float  # dB, the median over the photos of psnr(original, marked); inf: unchanged
    clipped: float  # share of all pixels that g_k maps outside the RGB cube (clipped)


def mark_cost(images: Tensor, k: Signature, color_space: Optional[Tensor] = None) -> MarkCost:
    """How much watermarking ``images`` with key ``k`` in ``color_space`` (eq. 5; default YIQ)
    changes them: the median :func:`psnr` of the marked photos against the originals (Sec. 4.1:
    content preserved) and the share of their pixels that :func:`clipped_fraction` finds outside
    [0, 1] before the clipping of Sec. 5.1 (where the mark is not invertible).

    The cost of a user-specific colour space (Sec. 5.4, Fig. 5a): the paper's T ~ U(-1, 1) pushes
    most pixels out of the cube, where YIQ (a rotation about the luma axis) clips few. The identity
    (k = 0) costs nothing: PSNR inf, 0 clipped.
    """
    check_float_images(images)
    marked = watermark(images, k, color_space)
    return MarkCost(
        psnr=float(psnr(images, marked).median()),
        clipped=float(clipped_fraction(images, k, color_space).mean()),
    )
