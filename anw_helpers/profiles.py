"""Compute profiles: one learner configuration per kind of machine (``ANW_PROFILE`` or auto-chosen).

The watermark is only recovered when the learner memorises its training images (Sec. 4.2, 5.6), so
even the smallest profile, ``ci``, trains until the training set is fitted: it is tuned to recover the
key on 2 CPU cores in a few minutes. Larger profiles move towards the paper's setting (Sec. 5.1).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Optional, Union

import torch

__all__ = ["LearnerConfig", "Profile", "PROFILES", "get_profile", "auto_profile_name", "profile_table",
           "MULTI_USER_SIZES", "MULTI_USER_KEYS", "multi_user_config"]

Size = Union[int, float]


@dataclass(frozen=True)
class LearnerConfig:
    """Every setting that shapes a trained learner (and so its model-cache key).

    Data: ``n_train`` CIFAR-10 training images (None: all 50,000); users of ``user_sizes`` images (counts,
    or fractions of ``n_train``) with ``keys`` (degrees; None: no watermark) and colour spaces drawn from
    ``color_space_seeds`` (None: YIQ); a held-out user of ``held_out_size`` test images (default: the
    first user's size); test accuracy on ``n_test`` test images (None: all).
    Model and optimisation: Sec. 5.1 (SGD, momentum 0.9, weight decay 5e-4, lr 0.1; ``schedule`` is
    "onecycle" or "step", the paper's x0.1 every 30 epochs).
    """

    n_train: Optional[int] = 2500
    user_sizes: tuple[Size, ...] = (50,)
    keys: tuple[Optional[float], ...] = (60.0,)
    color_space_seeds: tuple[Optional[int], ...] = (None,)
    held_out_size: Optional[int] = None
    n_test: Optional[int] = 2000
    model: str = "small_resnet"
    width: int = 24
    epochs: int = 50
    batch_size: int = 256
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "onecycle"
    label_smoothing: float = 0.0
    augment: str = "crop_flip"
    seed: int = 0

    def __post_init__(self) -> None:
        if not (len(self.user_sizes) == len(self.keys) == len(self.color_space_seeds)):
            raise ValueError(
                f"user_sizes, keys and color_space_seeds need one entry per user; got lengths "
                f"{len(self.user_sizes)}, {len(self.keys)}, {len(self.color_space_seeds)}."
            )
        if self.schedule not in ("onecycle", "step"):
            raise ValueError(f"schedule must be 'onecycle' or 'step'; got {self.schedule!r}.")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"epochs and batch_size must be >= 1; got {self.epochs} and {self.batch_size}.")

    def with_(self, **changes: object) -> "LearnerConfig":
        """A copy with some settings changed (e.g. ``cfg.with_(keys=(210.0,), seed=1)``)."""
        return replace(self, **changes)


@dataclass(frozen=True)
class Profile:
    """A named configuration with the machine it is meant for and its measured (or estimated) cost."""

    name: str
    machine: str
    purpose: str
    lesson03_time: str
    config: LearnerConfig = field(default_factory=LearnerConfig)


PROFILES: dict[str, Profile] = {
    "ci": Profile(
        "ci", "2 CPU cores (CI, Colab without GPU)", "smallest setting that still shows the effect",
        "about 6 min on 2 CPU cores (measured in CI)",
        LearnerConfig(),
    ),
    "cpu": Profile(
        "cpu", "a laptop CPU, 4+ cores", "twice the data, a wider network",
        "under 20 min on 4-8 cores (estimated, not yet measured)",
        LearnerConfig(n_train=10000, user_sizes=(100,), width=32, epochs=40),
    ),
    "gpu": Profile(
        "gpu", "one GPU (Colab T4 or better)", "full CIFAR-10, ResNet-18, 1 % user",
        "under 15 min on a T4 (estimated, not yet measured)",
        LearnerConfig(n_train=None, user_sizes=(500,), n_test=None, model="resnet18", epochs=30, batch_size=512),
    ),
    "paper": Profile(
        "paper", "a large GPU", "the paper's Sec. 5.1: ResNet-50, 90 epochs, lr x0.1 every 30",
        "hours (paper scale)",
        LearnerConfig(n_train=None, user_sizes=(500,), n_test=None, model="resnet50", epochs=90,
                      batch_size=128, schedule="step"),
    ),
}


def auto_profile_name() -> str:
    """``gpu`` with CUDA; ``cpu`` with 8 or more CPU threads; otherwise ``ci``."""
    if torch.cuda.is_available():
        return "gpu"
    return "cpu" if (os.cpu_count() or 1) >= 8 else "ci"


def get_profile(name: Optional[str] = None) -> Profile:
    """The profile called ``name``, else ``$ANW_PROFILE``, else the auto-chosen one."""
    chosen = name or os.environ.get("ANW_PROFILE") or auto_profile_name()
    if chosen not in PROFILES:
        raise ValueError(f"unknown profile {chosen!r}; expected one of {', '.join(PROFILES)} (set ANW_PROFILE or pass name=).")
    return PROFILES[chosen]


def profile_table(active: Optional[str] = None) -> str:
    """A Markdown table of every profile (the active one marked), for display in a lesson."""
    rows = ["| profile | for | training set | model | epochs | lesson 03 time |", "|---|---|---|---|---|---|"]
    for p in PROFILES.values():
        c = p.config
        n = "all 50,000" if c.n_train is None else f"{c.n_train:,}"
        model = f"{c.model} (width {c.width})" if c.model == "small_resnet" else c.model
        mark = " **(active)**" if p.name == active else ""
        rows.append(f"| `{p.name}`{mark} | {p.machine} | {n}, user {c.user_sizes[0]} | {model} | {c.epochs} ({c.schedule}) | {p.lesson03_time} |")
    return "\n".join(rows)


#: Lesson 05's users (Sec. 5.2, Fig. 2a-f): five of different sizes, then one user per remaining key, so
#: all eleven keys 30, ..., 330 and the sizes 2-50 are answered by one training. Users are disjoint.
MULTI_USER_SIZES: tuple[int, ...] = (50, 20, 10, 5, 2, 30, 30, 30, 30, 30, 30)
MULTI_USER_KEYS: tuple[float, ...] = (60.0, 150.0, 240.0, 330.0, 90.0, 30.0, 120.0, 180.0, 210.0, 270.0, 300.0)


def multi_user_config(config: LearnerConfig) -> LearnerConfig:
    """``config`` with lesson 05's eleven users (YIQ, one key each) instead of its single user (Fig. 2a-f).

    Sizes are absolute image counts (the paper's "fewer than about 5 images fail" is a count, not a
    fraction); the held-out user has the first user's size and key.
    """
    n = len(MULTI_USER_SIZES)
    return config.with_(user_sizes=MULTI_USER_SIZES, keys=MULTI_USER_KEYS, color_space_seeds=(None,) * n)
