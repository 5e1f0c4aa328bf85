"""Input validation shared by every helper: clear errors, nothing silently changed."""

from __future__ import annotations

import math
import numbers
from typing import Union

import numpy as np
import torch
from torch import Tensor

Number = Union[float, int]


def check_float_shape(images: object, name: str = "images", batch: bool = False) -> Tensor:
    """Return ``images`` unchanged after checking it is a float tensor of shape (..., 3, H, W).

    ``batch=True`` asks for exactly (B, 3, H, W). Values are not checked: colour coordinates (YIQ)
    and augmented batches may leave [0, 1] (:func:`check_float_images` checks them too). Raises
    TypeError for non-tensors and integer tensors, ValueError for a wrong shape.
    """
    shape = "(B, 3, H, W)" if batch else "(..., 3, H, W)"
    if not isinstance(images, Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of floats in [0, 1] with shape {shape}; "
            f"got {type(images).__name__}."
        )
    if not torch.is_floating_point(images):
        hint = " Convert with `images.float() / 255`." if images.dtype == torch.uint8 else ""
        raise TypeError(
            f"{name} must be a float tensor with values in [0, 1]; got dtype {images.dtype}.{hint}"
        )
    if images.dim() < 3 or (batch and images.dim() != 4):
        rank = "4 dimensions" if batch else "at least 3 dimensions"
        raise ValueError(
            f"{name} must have shape {shape} ({rank}); got shape {tuple(images.shape)}."
        )
    if images.shape[-3] != 3:
        raise ValueError(
            f"{name} must have 3 colour channels (RGB) at dimension -3, shape {shape}; "
            f"got shape {tuple(images.shape)} with {images.shape[-3]} channels."
        )
    return images


def check_sample(values: object, name: str, min_size: int = 1, what: str = "value") -> Tensor:
    """``values`` (tensor, array or sequence) as a 1-D float64 tensor of finite numbers.

    Needs at least ``min_size`` entries; ``what`` names one entry in the messages ("score",
    "loss"). Raises TypeError for non-numbers, ValueError for a wrong shape, too few values, NaN
    or infinity: no NaN passes silently into a statistic.
    """
    if isinstance(values, Tensor):
        t = values.detach().cpu()
    else:
        try:
            t = torch.as_tensor(np.asarray(values, dtype=np.float64))
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"{name} must be a 1-D sequence of numbers; got {type(values).__name__}."
            ) from exc
    if t.dim() != 1:
        raise ValueError(f"{name} must be 1-D (one {what} per photo); got shape {tuple(t.shape)}.")
    if t.dtype == torch.bool or t.is_complex():
        raise TypeError(f"{name} must hold real numbers; got dtype {t.dtype}.")
    t = t.double()
    if len(t) < min_size:
        size = "is empty" if len(t) == 0 else f"has {len(t)} value(s)"
        raise ValueError(f"{name} {size}; need at least {min_size}.")
    bad = int((~torch.isfinite(t)).sum())
    if bad:
        raise ValueError(
            f"{name} contains {bad} NaN or infinite value(s); every {what} must be a finite number."
        )
    return t


def check_same_shape(a: Tensor, b: Tensor, a_name: str, b_name: str) -> None:
    """Refuse two tensors of different shapes (e.g. a photo and its marked version), naming both."""
    if a.shape != b.shape:
        raise ValueError(
            f"{a_name} and {b_name} must have the same shape; got {tuple(a.shape)} and "
            f"{tuple(b.shape)}."
        )


def check_float_images(images: object, name: str = "images") -> Tensor:
    """Return ``images`` unchanged after checking it is a float tensor (..., 3, H, W) in [0, 1].

    Raises TypeError for non-tensors and integer (e.g. uint8) tensors, ValueError for a wrong
    rank or channel count, NaN/inf values, or values outside [0, 1]. The message says what was
    given and what is expected.
    """
    check_float_shape(images, name)
    if images.numel() == 0:
        raise ValueError(
            f"{name} is empty (shape {tuple(images.shape)}); expected at least one pixel."
        )
    finite = torch.isfinite(images)
    if not bool(finite.all()):
        bad = int((~finite).sum())
        raise ValueError(
            f"{name} contains {bad} NaN or infinite values; expected finite values in [0, 1]."
        )
    lo, hi = float(images.min()), float(images.max())
    if lo < 0.0 or hi > 1.0:
        raise ValueError(
            f"{name} must have values in [0, 1]; got values in [{lo:.4g}, {hi:.4g}]. "
            "If these are 0-255 pixel values, divide by 255."
        )
    return images


def check_uint8_images(images: object, name: str = "images") -> Tensor:
    """Return ``images`` after checking it is a uint8 tensor of shape (N, 3, H, W)."""
    if not isinstance(images, Tensor) or images.dtype != torch.uint8:
        got = images.dtype if isinstance(images, Tensor) else type(images).__name__
        raise TypeError(f"{name} must be a uint8 tensor of shape (N, 3, H, W); got {got}.")
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"{name} must have shape (N, 3, H, W); got {tuple(images.shape)}.")
    return images


def check_color_space(
    matrix: object, name: str = "color_space", max_condition: float = 1e6
) -> Tensor:
    """Return ``matrix`` as a float tensor after checking it is a finite, invertible 3x3 matrix."""
    if not isinstance(matrix, Tensor):
        try:
            matrix = torch.as_tensor(matrix, dtype=torch.float64)
        except Exception as exc:  # noqa: BLE001 - re-raised with a clear message
            raise TypeError(
                f"{name} must be a 3x3 matrix (tensor or nested list); got {type(matrix).__name__}."
            ) from exc
    if not torch.is_floating_point(matrix):
        matrix = matrix.double()
    if tuple(matrix.shape) != (3, 3):
        raise ValueError(f"{name} must be a 3x3 matrix; got shape {tuple(matrix.shape)}.")
    if not bool(torch.isfinite(matrix).all()):
        raise ValueError(f"{name} contains NaN or infinite entries: {matrix.tolist()}.")
    cond = float(torch.linalg.cond(matrix.double()))
    if not math.isfinite(cond) or cond > max_condition:
        raise ValueError(
            f"{name} must be invertible (a colour space maps RGB one-to-one); got a singular or "
            f"near-singular matrix with condition number {cond:.3g} (limit {max_condition:.0e}): "
            f"{matrix.tolist()}."
        )
    return matrix


def check_signature(k: object, name: str = "k") -> Tensor:
    """Return the signature ``k`` (degrees) as a 0-d float tensor, keeping its autograd graph."""
    if isinstance(k, Tensor):
        if k.numel() != 1:
            raise ValueError(
                f"{name} must be a single angle in degrees (a number or 0-d tensor); got shape "
                f"{tuple(k.shape)}."
            )
        k = k.reshape(())
        if not torch.is_floating_point(k):
            k = k.double()
    elif isinstance(k, (int, float)) and not isinstance(k, bool):
        k = torch.tensor(float(k), dtype=torch.float64)
    else:
        raise TypeError(
            f"{name} must be an angle in degrees (int, float or 0-d tensor); got "
            f"{type(k).__name__}."
        )
    if not bool(torch.isfinite(k)):
        raise ValueError(f"{name} must be a finite angle in degrees; got {float(k)}.")
    return k


def check_labelled_batch(images: object, labels: object, name: str = "images") -> None:
    """Check a non-empty batch of float images (N, 3, H, W) in [0, 1] with one label per image."""
    check_float_images(images, name)
    if images.dim() != 4:
        raise ValueError(f"{name} must be a batch (N, 3, H, W); got shape {tuple(images.shape)}.")
    if not isinstance(labels, Tensor) or labels.shape != (len(images),):
        got = tuple(labels.shape) if isinstance(labels, Tensor) else type(labels).__name__
        raise ValueError(
            f"{name}: need one label per image, a tensor of shape ({len(images)},); got {got}."
        )


#: Half-width of a signature slot in degrees (Sec. 5.1: N = 12 slots of width 2 tau = 30).
SLOT_HALF_WIDTH = 15.0
#: The grid that verification searches (Sec. 5.1): 0, 30, ..., 330.
SLOT_STEP = 30.0


def check_user_key(key: object, name: str = "key", tau: float = SLOT_HALF_WIDTH) -> float:
    """A user's secret signature in degrees, refused when it cannot be told apart from "clean".

    The arbitrator's match (eq. 6 with Sec. 5.1's tolerance) accepts |k_hat - k*| <= tau, and an
    innocent model's k_hat is 0. A key within tau of 0 (mod 360) would therefore "match" every clean
    model: such a key proves nothing, so it is refused here for every user-facing entry point.
    """
    if isinstance(key, bool) or not isinstance(key, numbers.Real):
        raise ValueError(f"{name} must be an angle in degrees (a number); got {key!r}.")
    key = float(key)
    if not math.isfinite(key):
        raise ValueError(f"{name} must be a finite angle in degrees; got {key}.")
    distance_to_clean = min(key % 360.0, 360.0 - key % 360.0)
    if distance_to_clean <= tau:
        raise ValueError(
            f"{name} {key:g} lies within {tau:g} degrees of 0 (mod 360), which verification cannot "
            "tell apart from 'no watermark' (a clean model gives k_hat = 0). Pick a signature "
            f"such as 30, 60, ..., 330."
        )
    return key


def key_is_off_grid(key: float, step: float = SLOT_STEP) -> bool:
    """True when ``key`` is not one of the signatures 0, step, 2 step, ... that verification
    searches."""
    remainder = float(key) % step
    return min(remainder, step - remainder) > 1e-9


def check_matchable_key(
    key: float, name: str = "key", step: float = SLOT_STEP, tau: float = SLOT_HALF_WIDTH
) -> float:
    """``key`` unchanged when eq. 6's grid search can match it, else a one-line ValueError.

    The match rule (Sec. 4.2, Sec. 5.1) is strict, |k_hat - k*| < tau, and k_hat is one of the
    signatures 0, step, 2 step, ...; a key exactly between two of them (45, 75, ... for step 30 and
    tau 15) is tau from both and can never match: a mark with it can never be verified.
    """
    remainder = float(key) % step
    if min(remainder, step - remainder) >= tau - 1e-9:
        below = float(key) - remainder
        raise ValueError(
            f"{name} {key:g} lies exactly between the signatures {below % 360:g} and "
            f"{(below + step) % 360:g} that verification searches: k_hat can never be within "
            f"{tau:g} degrees of it (the match rule is strict), so a mark with it can never be "
            "verified. Pick one of 30, 60, ..., 330."
        )
    return key
