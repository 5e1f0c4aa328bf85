"""Datasets and users in one namespace, for ``from anw_helpers import data`` in the lessons and in
your own scripts.

The code lives in two modules, one per idea: :mod:`anw_helpers.datasets` (CIFAR-10, CUB-200 and your
own photos, decoded and cached) and :mod:`anw_helpers.users` (the paper's users, Sec. 3, 5.1, 5.4:
who watermarks which photos, and the learner's training set). This module only re-exports them.
"""

from __future__ import annotations

from .datasets import (
    CIFAR10_CLASSES,
    CUB200_URL,
    IMAGE_SUFFIXES,
    ImageSet,
    SkippedFilesWarning,
    _decode,
    _decode_all,
    cifar10_canonical_order,
    load_cifar10,
    load_cub200,
    load_image_folder,
    to_float,
    to_uint8,
)
from .users import (
    LearnerData,
    User,
    build_learner_data,
    make_users,
    many_users_plan,
    watermark_uint8,
    watermarked_training_set,
)

__all__ = [
    "CIFAR10_CLASSES",
    "IMAGE_SUFFIXES",
    "SkippedFilesWarning",
    "ImageSet",
    "User",
    "LearnerData",
    "load_cifar10",
    "cifar10_canonical_order",
    "load_image_folder",
    "to_float",
    "to_uint8",
    "watermark_uint8",
    "make_users",
    "load_cub200",
    "CUB200_URL",
    "many_users_plan",
    "watermarked_training_set",
    "build_learner_data",
    "_decode",
    "_decode_all",
]
