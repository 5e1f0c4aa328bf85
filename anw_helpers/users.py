"""Users (Sec. 3, 5.1, 5.4): who owns which photos, who watermarks them with which key and colour
space, and the learner's training set with the watermarked photos in place of the originals.

The paper's setting: a user owns a small set D_u of images, watermarks them with a secret signature
k*, and a learner builds a training set D that contains the watermarked D_u* in place of the
originals. A held-out user, drawn from images the learner never sees, is the innocent control
(Sec. 5.4). The images themselves come from :mod:`anw_helpers.datasets`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Optional, Union

import numpy as np
import torch
from torch import Tensor

from .color import SIGNATURE_SLOTS, watermark
from .datasets import ImageSet, _digest, to_float, to_uint8
from .machinery._checks import check_uint8_images

__all__ = [
    "User",
    "LearnerData",
    "watermark_uint8",
    "make_users",
    "many_users_plan",
    "watermarked_training_set",
    "build_learner_data",
]


@dataclass
class User:
    """One user: their clean images and labels, their secret key (None: does not watermark), colour
    space.

    ``indices`` are the positions of the user's images in the set they were drawn from.
    """

    name: str
    images: Tensor
    labels: Tensor
    key: Optional[float]
    color_space: Optional[Tensor] = None
    indices: Tensor = field(default_factory=lambda: torch.empty(0, dtype=torch.int64))

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def clean(self) -> Tensor:
        """The user's clean images as floats in [0, 1] (what the arbitrator receives)."""
        return to_float(self.images)


@dataclass
class LearnerData:
    """What a learner trains on, and who is checked afterwards (Sec. 5.1, 5.4)."""

    train: ImageSet
    users: list[User]
    held_out: User
    test: ImageSet


def watermark_uint8(images: Tensor, key: float, color_space: Optional[Tensor] = None) -> Tensor:
    """Watermark uint8 images with ``key`` (eq. 5, clipped) and round back to uint8, as a shared
    photo is."""
    return to_uint8(watermark(to_float(check_uint8_images(images)), key, color_space))


# -------------------------------------------------------------------------------------------- users
def _resolve_size(size: Union[int, float], available: int) -> int:
    if isinstance(size, float) and 0 < size < 1:
        n = max(1, round(size * available))
    elif isinstance(size, (int, np.integer)) or (isinstance(size, float) and size.is_integer()):
        n = int(size)
    else:
        raise ValueError(
            f"a user's size must be a count >= 1 or a fraction in (0, 1); got {size!r}."
        )
    if n < 1:
        raise ValueError(f"a user needs at least one image; got size {size!r}.")
    return n


def make_users(
    source: ImageSet,
    sizes: Sequence[Union[int, float]],
    keys: Sequence[Optional[float]],
    color_spaces: Optional[Sequence[Optional[Tensor]]] = None,
    seed: int = 0,
    exclude: Optional[Tensor] = None,
    prefix: str = "user",
) -> list[User]:
    """Draw disjoint users from ``source`` (any classes, seeded): sizes are counts or fractions of
    ``source``.

    User u gets ``keys[u]`` (None: does not watermark) and ``color_spaces[u]`` (None: YIQ). Indices
    in ``exclude`` are never drawn.
    """
    if len(sizes) == 0:
        raise ValueError("make_users needs at least one user size; got an empty list.")
    if len(keys) != len(sizes):
        raise ValueError(f"need one key per user: got {len(sizes)} sizes and {len(keys)} keys.")
    color_spaces = list(color_spaces) if color_spaces is not None else [None] * len(sizes)
    if len(color_spaces) != len(sizes):
        raise ValueError(
            f"need one colour space per user: got {len(sizes)} sizes and {len(color_spaces)}."
        )
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(source), generator=g)
    if exclude is not None and len(exclude):
        keep = torch.ones(len(source), dtype=torch.bool)
        keep[exclude] = False
        order = order[keep[order]]
    counts = [_resolve_size(s, len(source)) for s in sizes]
    if sum(counts) > len(order):
        raise ValueError(f"users need {sum(counts)} images but only {len(order)} are available.")
    users, start = [], 0
    for u, (n, key, cs) in enumerate(zip(counts, keys, color_spaces)):
        idx = order[start : start + n].sort().values
        start += n
        users.append(
            User(
                f"{prefix}{u}",
                source.images[idx].clone(),
                source.labels[idx].clone(),
                None if key is None else float(key),
                cs,
                idx,
            )
        )
    return users


def many_users_plan(
    n_users: int,
    watermark_fraction: float,
    seed: int = 0,
    user_specific_color_space: bool = False,
    slots: Sequence[float] = SIGNATURE_SLOTS[1:],
) -> tuple[tuple[Optional[float], ...], tuple[Optional[int], ...]]:
    """Who watermarks, with which key and colour space, when a fraction of ``n_users`` users
    watermark (Sec. 5.4).

    Returns one key per user (None: does not watermark; else drawn uniformly from ``slots``, default
    30, ..., 330) and one colour-space seed per user (None: YIQ; with ``user_specific_color_space``,
    each watermarking user's own U(-1, 1) colour space, ``color.color_space_from_seed``). Seeded.
    """
    if n_users < 1:
        raise ValueError(f"n_users must be >= 1; got {n_users}.")
    if not 0.0 <= watermark_fraction <= 1.0:
        raise ValueError(f"watermark_fraction must be in [0, 1]; got {watermark_fraction}.")
    if len(slots) == 0:
        raise ValueError("slots is empty; give at least one signature to draw keys from.")
    g = torch.Generator().manual_seed(seed + 7919)
    marking = set(
        torch.randperm(n_users, generator=g)[: round(watermark_fraction * n_users)].tolist()
    )
    keys = tuple(
        float(slots[int(torch.randint(len(slots), (1,), generator=g))]) if u in marking else None
        for u in range(n_users)
    )
    seeds = tuple(
        (seed * 100_003 + 1_000 + u) if (user_specific_color_space and u in marking) else None
        for u in range(n_users)
    )
    return keys, seeds


def watermarked_training_set(base: ImageSet, users: Sequence[User]) -> ImageSet:
    """``base`` with each watermarking user's images replaced by their marked ones (D with D_u*).

    A named ``base`` (``ImageSet.origin``) gives a set named by it and each watermarking user's
    positions, key and colour space.
    """
    images = base.images.clone()
    marks = []
    for user in users:
        if user.key is not None:
            images[user.indices] = watermark_uint8(user.images, user.key, user.color_space)
            space = "yiq" if user.color_space is None else _digest(user.color_space)
            marks.append(f"{_digest(user.indices.long())}@{float(user.key)!r}/{space}")
    origin = None
    if base.origin is not None:
        digest = hashlib.sha1(";".join(marks).encode()).hexdigest()[:12]
        origin = f"{base.origin}+watermarked[{digest}]"
    return ImageSet(images, base.labels.clone(), base.classes, origin)


def build_learner_data(
    train: ImageSet,
    test: ImageSet,
    n_train: Optional[int],
    user_sizes: Sequence[Union[int, float]],
    keys: Sequence[Optional[float]],
    color_spaces: Optional[Sequence[Optional[Tensor]]] = None,
    held_out_size: Optional[int] = None,
    n_test: Optional[int] = None,
    seed: int = 0,
) -> LearnerData:
    """The paper's single- or few-user setting (Sec. 5.1): a learner's training set with users
    inside it.

    ``n_train`` images are drawn from ``train`` (all when None); the users are drawn from those and
    watermarked in place. A held-out user of ``held_out_size`` images (default: the first user's
    size), carrying the first user's key, is drawn from ``test``; the test set (``n_test`` images,
    default all) excludes them.
    """
    g = torch.Generator().manual_seed(seed)
    if n_train is not None and not 0 < n_train <= len(train):
        raise ValueError(f"n_train must be in 1..{len(train)}; got {n_train}.")
    base = (
        train
        if n_train is None
        else train.subset(torch.randperm(len(train), generator=g)[:n_train].sort().values)
    )
    users = make_users(base, user_sizes, keys, color_spaces, seed=seed + 1)
    held_size = held_out_size if held_out_size is not None else len(users[0])
    held = make_users(
        test, [held_size], [users[0].key], [users[0].color_space], seed=seed + 2, prefix="held-out"
    )[0]
    rest = torch.ones(len(test), dtype=torch.bool)
    rest[held.indices] = False
    test_idx = rest.nonzero().squeeze(1)
    if n_test is not None:
        test_idx = test_idx[torch.randperm(len(test_idx), generator=g)[:n_test].sort().values]
    return LearnerData(watermarked_training_set(base, users), users, held, test.subset(test_idx))
