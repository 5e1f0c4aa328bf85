"""Batch-wise data augmentation on the device (Sec. 5.1 and Sec. 5.3 "Resilience to Data
Augmentation", Fig. 3).

The learner's standard augmentation is random crop with padding 4 and horizontal flip (Sec. 5.1).
Sec. 5.3 adds random cutout [6], Gaussian noise [4] and colour jitter [18] (brightness, contrast,
saturation and torchvision's HSV hue shift; ``color_jitter_yiq`` uses the watermark's own YIQ
rotation instead, the worst case for the watermark). Every function takes a float batch
(B, 3, H, W) in [0, 1] and a ``torch.Generator`` on the batch's device, draws its random numbers
from that generator only (repeatable), and transforms the whole batch in a few vectorised operations
(no per-image PIL), so it runs inside the fast training loop of ``anw_helpers.train``.

Names for ``TrainingRecipe.augment``: any entry of ``AUGMENTATIONS`` or several joined by ``+``,
applied left to right, e.g. ``"crop_flip+color_jitter"``.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Callable, Optional

import torch
from torch import Tensor
from torch.nn import functional as F

from .color import YIQ
from .machinery._checks import check_float_shape

__all__ = [
    "random_crop",
    "random_flip",
    "crop_flip",
    "rotate_hue",
    "hsv_hue_shift",
    "color_jitter",
    "cutout",
    "gaussian_noise",
    "jpeg_squeeze",
    "compose",
    "AUGMENTATIONS",
    "get_augmentation",
    "check_augmentation_name",
]

Augmentation = Callable[[Tensor, Optional[torch.Generator]], Tensor]

#: Colour-jitter strengths (torchvision ``ColorJitter(0.4, 0.4, 0.4, 0.1)``, the common
#: CIFAR/ImageNet setting): brightness, contrast and saturation factors uniform in [0.6, 1.4]; hue
#: angle uniform in +-0.1 turn = +-36 degrees.
JITTER_BRIGHTNESS, JITTER_CONTRAST, JITTER_SATURATION, JITTER_HUE = 0.4, 0.4, 0.4, 0.1
#: Cutout [6] square side for CIFAR-10 (DeVries & Taylor use 16 pixels).
CUTOUT_SIZE = 16
#: Gaussian-noise standard deviation in [0, 1] pixel units (Cohen et al. [4] use 0.12-0.5; 0.1 keeps
#: accuracy).
NOISE_STD = 0.1


def _uniform(
    n: int, low: float, high: float, x: Tensor, generator: Optional[torch.Generator]
) -> Tensor:
    return low + (high - low) * torch.rand(n, device=x.device, generator=generator, dtype=x.dtype)


def random_crop(x: Tensor, generator: Optional[torch.Generator] = None, padding: int = 4) -> Tensor:
    """Zero-pad each image by ``padding`` and crop a random H x W window, per image, in one gather
    (Sec. 5.1)."""
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
    """Flip each image horizontally with probability 1/2 (Sec. 5.1)."""
    flip = torch.rand(x.shape[0], device=x.device, generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


def crop_flip(x: Tensor, generator: Optional[torch.Generator] = None) -> Tensor:
    """The standard CIFAR augmentation of Sec. 5.1: random crop (pad 4), then random horizontal
    flip."""
    return random_flip(random_crop(x, generator), generator)


def rotate_hue(x: Tensor, degrees: Tensor) -> Tensor:
    """Rotate each image's hue by its own angle in YIQ (eq. 4-5), clipped to [0, 1]: image i gets
    g_{degrees[i]}.

    This is the watermark's own transformation (``color.watermark(x[i], degrees[i])``), one angle
    per image and all images in one batched matrix product: the hue part of colour jitter (Sec.
    5.3).
    """
    check_float_shape(x, "batch", batch=True)
    if degrees.shape != (x.shape[0],):
        raise ValueError(
            f"degrees needs one angle per image, shape ({x.shape[0]},); got {tuple(degrees.shape)}."
        )
    theta = degrees.to(device=x.device, dtype=torch.float64) * (math.pi / 180.0)
    c, s = torch.cos(theta), torch.sin(theta)
    rot = torch.zeros(len(theta), 3, 3, dtype=torch.float64, device=x.device)
    rot[:, 0, 0] = 1.0
    rot[:, 1, 1], rot[:, 1, 2], rot[:, 2, 1], rot[:, 2, 2] = c, -s, s, c
    T = YIQ.to(device=x.device, dtype=torch.float64)
    # (B, 3, 3): T^-1 R(theta_i) T, as color.lct_matrix
    g = (torch.linalg.inv(T) @ rot @ T).to(x.dtype)
    return torch.einsum("bij,bjhw->bihw", g, x).clamp(0.0, 1.0)


def _gray(x: Tensor) -> Tensor:
    """Luma Y of eq. 3 per pixel, shape (B, 1, H, W)."""
    return torch.einsum("j,bjhw->bhw", YIQ[0].to(device=x.device, dtype=x.dtype), x).unsqueeze(1)


def _rgb_to_hsv(x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Hue in [0, 1) turns, saturation and value of a (B, 3, H, W) batch (torchvision's
    formulas)."""
    r, g, b = x.unbind(dim=1)
    maxc, minc = x.amax(dim=1), x.amin(dim=1)
    cr = maxc - minc
    flat = cr == 0
    s = cr / torch.where(maxc == 0, torch.ones_like(maxc), maxc)
    cr_div = torch.where(flat, torch.ones_like(cr), cr)
    rc, gc, bc = (maxc - r) / cr_div, (maxc - g) / cr_div, (maxc - b) / cr_div
    hr = (maxc == r) * (bc - gc)
    hg = ((maxc == g) & (maxc != r)) * (2.0 + rc - bc)
    hb = ((maxc != g) & (maxc != r)) * (4.0 + gc - rc)
    h = torch.remainder((hr + hg + hb) / 6.0 + 1.0, 1.0)
    return h, s, maxc


def _hsv_to_rgb(h: Tensor, s: Tensor, v: Tensor) -> Tensor:
    """The inverse of :func:`_rgb_to_hsv` (torchvision's six-sector formula), a (B, 3, H, W)
    batch."""
    i = torch.floor(h * 6.0)
    f = h * 6.0 - i
    i = i.to(torch.int64) % 6
    p = (v * (1.0 - s)).clamp(0.0, 1.0)
    q = (v * (1.0 - s * f)).clamp(0.0, 1.0)
    t = (v * (1.0 - s * (1.0 - f))).clamp(0.0, 1.0)
    sectors = torch.stack(
        [
            torch.stack([v, q, p, p, t, v], dim=1),
            torch.stack([t, v, v, q, p, p], dim=1),
            torch.stack([p, p, t, v, v, q], dim=1),
        ],
        dim=1,
    )  # (B, 3, 6, H, W)
    index = i.unsqueeze(1).unsqueeze(2).expand(-1, 3, 1, -1, -1)
    return sectors.gather(2, index).squeeze(2)


def hsv_hue_shift(x: Tensor, turns: Tensor) -> Tensor:
    """torchvision's hue jitter: shift each image's HSV hue by its own fraction of a turn.

    This is what ``torchvision.transforms.ColorJitter(hue=h)`` does to a learner's photos
    (``adjust_hue``, one factor per image; the tests check it against torchvision), for the whole
    batch at once. It is not the watermark's YIQ rotation: lesson 02 measures that it turns the I-Q
    plane by a different, colour-dependent angle.
    """
    check_float_shape(x, "batch", batch=True)
    if turns.shape != (x.shape[0],):
        raise ValueError(
            f"need one hue shift per image: {x.shape[0]} images, turns of shape "
            f"{tuple(turns.shape)}."
        )
    h, s, v = _rgb_to_hsv(x)
    h = torch.remainder(h + turns.to(h.dtype).view(-1, 1, 1), 1.0)
    return _hsv_to_rgb(h, s, v)


def color_jitter(
    x: Tensor,
    generator: Optional[torch.Generator] = None,
    brightness: float = JITTER_BRIGHTNESS,
    contrast: float = JITTER_CONTRAST,
    saturation: float = JITTER_SATURATION,
    hue: float = JITTER_HUE,
    hue_space: str = "hsv",
) -> Tensor:
    """Colour jitter [18] as in Sec. 5.3: brightness, contrast, saturation and hue, one random draw
    per image.

    Factors are uniform in [1 - s, 1 + s] (torchvision's ``ColorJitter`` convention): brightness
    scales the pixels, contrast blends with the image's mean luma, saturation blends with each
    pixel's luma; the hue shift is uniform in +-``hue`` turns (``hue`` in [0, 0.5]; 0.1 = +-36
    degrees). With ``hue_space="hsv"`` (default) it is torchvision's HSV hue shift
    (:func:`hsv_hue_shift`), what a learner using ``ColorJitter`` applies; with ``"yiq"`` it is the
    watermark's own I-Q rotation (:func:`rotate_hue`), the worst case for the watermark. Applied in
    that order (torchvision draws a random order), each step clipped to [0, 1].
    """
    check_float_shape(x, "batch", batch=True)
    for name, value in (
        ("brightness", brightness),
        ("contrast", contrast),
        ("saturation", saturation),
    ):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be in [0, 1]; got {value}.")
    if not 0.0 <= hue <= 0.5:
        raise ValueError(f"hue must be in [0, 0.5] turns; got {hue}.")
    if hue_space not in ("hsv", "yiq"):
        raise ValueError(
            "hue_space must be 'hsv' (torchvision's) or 'yiq' (the watermark's); got "
            f"{hue_space!r}."
        )
    b = x.shape[0]
    fb = _uniform(b, 1 - brightness, 1 + brightness, x, generator).view(b, 1, 1, 1)
    fc = _uniform(b, 1 - contrast, 1 + contrast, x, generator).view(b, 1, 1, 1)
    fs = _uniform(b, 1 - saturation, 1 + saturation, x, generator).view(b, 1, 1, 1)
    turns = _uniform(b, -hue, hue, x, generator)
    x = (x * fb).clamp(0.0, 1.0)
    mean = _gray(x).mean(dim=(-3, -2, -1), keepdim=True)
    x = ((x - mean) * fc + mean).clamp(0.0, 1.0)
    gray = _gray(x)
    x = ((x - gray) * fs + gray).clamp(0.0, 1.0)
    if hue == 0.0:
        return x
    return hsv_hue_shift(x, turns) if hue_space == "hsv" else rotate_hue(x, 360.0 * turns)


def cutout(
    x: Tensor, generator: Optional[torch.Generator] = None, size: int = CUTOUT_SIZE
) -> Tensor:
    """Cutout [6]: set one ``size`` x ``size`` square per image to 0 (black), centred anywhere (it
    may overhang).

    Black is grey, which every hue rotation leaves unchanged: cutout commutes with the watermark.
    """
    check_float_shape(x, "batch", batch=True)
    if size < 1:
        raise ValueError(f"cutout size must be >= 1 pixel; got {size}.")
    b, _, h, w = x.shape
    cy = torch.randint(0, h, (b,), device=x.device, generator=generator)[:, None]
    cx = torch.randint(0, w, (b,), device=x.device, generator=generator)[:, None]
    rows, cols = torch.arange(h, device=x.device)[None], torch.arange(w, device=x.device)[None]
    in_rows = (rows >= cy - size // 2) & (rows < cy - size // 2 + size)  # (B, H)
    in_cols = (cols >= cx - size // 2) & (cols < cx - size // 2 + size)  # (B, W)
    mask = (in_rows[:, :, None] & in_cols[:, None, :])[:, None]  # (B, 1, H, W)
    return x.masked_fill(mask, 0.0)


def gaussian_noise(
    x: Tensor, generator: Optional[torch.Generator] = None, std: float = NOISE_STD
) -> Tensor:
    """Gaussian-noise augmentation [4]: add N(0, std^2) independently to every pixel and channel
    (not clipped)."""
    check_float_shape(x, "batch", batch=True)
    if std < 0:
        raise ValueError(f"noise std must be >= 0; got {std}.")
    return x + std * torch.randn(x.shape, device=x.device, generator=generator, dtype=x.dtype)


def jpeg_squeeze(
    x: Tensor, generator: Optional[torch.Generator] = None, quality: int = 50
) -> Tensor:
    """JPEG "squeezing" (Liu et al., ICML 2023; lesson 10): every image round-tripped through JPEG
    at ``quality`` (libjpeg's defaults through torchvision: 4:2:0 chroma subsampling).

    Deterministic (``generator`` is unused: the same photo always compresses the same way), so on
    every epoch the learner sees the same compressed training set, as if the learner had stored
    it as JPEG. Encoding runs on the CPU; the result returns to the batch's device.
    """
    from torchvision.io import decode_jpeg, encode_jpeg

    check_float_shape(x, "batch", batch=True)
    if not 1 <= int(quality) <= 100:
        raise ValueError(f"JPEG quality must be in 1..100; got {quality}.")
    u8 = x.detach().clamp(0.0, 1.0).mul(255.0).round().to(torch.uint8).cpu()
    decoded = decode_jpeg(encode_jpeg(list(u8), quality=int(quality)))
    return torch.stack(decoded).to(device=x.device, dtype=x.dtype).div_(255.0)


def _identity(x: Tensor, generator: Optional[torch.Generator] = None) -> Tensor:
    return x


def compose(*augmentations: Augmentation) -> Augmentation:
    """Apply ``augmentations`` left to right with the same generator."""

    def composed(x: Tensor, generator: Optional[torch.Generator] = None) -> Tensor:
        for aug in augmentations:
            x = aug(x, generator)
        return x

    return composed


#: Named augmentations a training config can ask for; join names with "+" to combine them.
AUGMENTATIONS: dict[str, Augmentation] = {
    "none": _identity,
    "crop_flip": crop_flip,
    "color_jitter": color_jitter,
    "color_jitter_yiq": partial(color_jitter, hue_space="yiq"),
    "hue_jitter_full": partial(
        color_jitter, brightness=0.0, contrast=0.0, saturation=0.0, hue=0.5, hue_space="yiq"
    ),
    "cutout": cutout,
    "gaussian_noise": gaussian_noise,
    "jpeg_q50": partial(jpeg_squeeze, quality=50),
    "jpeg_q10": partial(jpeg_squeeze, quality=10),
}
for _name in ("color_jitter", "color_jitter_yiq", "cutout", "gaussian_noise", "hue_jitter_full"):
    AUGMENTATIONS[f"crop_flip+{_name}"] = compose(crop_flip, AUGMENTATIONS[_name])


def check_augmentation_name(name: str) -> list[str]:
    """The parts of an augmentation name (``"a+b"`` -> ``["a", "b"]``); ValueError naming the
    unknown part."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"augment must be a non-empty name such as 'crop_flip'; got {name!r}.")
    if name in AUGMENTATIONS:
        return [name]
    parts = name.split("+")
    base = [n for n in AUGMENTATIONS if "+" not in n]
    for part in parts:
        if part not in AUGMENTATIONS or "+" in part:
            raise ValueError(
                f"unknown augmentation {part!r} in {name!r}; expected one of {', '.join(base)}, "
                f"or several joined by '+' (e.g. 'crop_flip+color_jitter')."
            )
    return parts


def get_augmentation(name: str) -> Augmentation:
    """The augmentation called ``name``: one of ``AUGMENTATIONS``, or several joined by ``+``
    (applied left to right)."""
    parts = check_augmentation_name(name)
    if len(parts) == 1:
        return AUGMENTATIONS[parts[0]]
    return compose(*(AUGMENTATIONS[p] for p in parts))
