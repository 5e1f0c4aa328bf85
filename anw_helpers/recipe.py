"""What a learner is made of: its data setting (which photos, which users) and its training recipe.

A :class:`TrainingRecipe` says how a network trains (Sec. 5.1: model, SGD, schedule; Sec. 5.3: the
learner-side defences) and nothing about the data, so the same recipe trains the learner, a user's
shadow model (Sec. 5.5), a subsampled model (Sec. 5.6) or a fine-tuning (Fig. 3h). A
:class:`DataSetting` says what the learner trains on (Sec. 5.1, 5.4: the training set, the users and
their keys, the held-out user, the test set). A :class:`LearnerConfig` is the two together: every
setting of a trained learner, and so its model-cache key.

The defaults below build a small learner by hand (a test, a quick try:
``LearnerConfig().with_(n_train=200, epochs=1)``). The course's profiles
(``anw_helpers/profiles.py``) give every setting and never rely on them, so changing a default
changes no profile.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field, fields
from typing import Any, Optional, Union

from .augment import check_augmentation_name
from .machinery.memory import MAX_IMAGE_SIZE
from .models import MODEL_NAMES

__all__ = ["DATASETS", "DataSetting", "TrainingRecipe", "LearnerConfig"]

Size = Union[int, float]

#: Data sets a learner can train on (``DataSetting.dataset``).
DATASETS: tuple[str, ...] = ("cifar10", "cub200")


@dataclass(frozen=True)
class DataSetting:
    """What a learner trains on, and who is checked afterwards (Sec. 5.1, 5.4).

    ``n_train`` training images of ``dataset`` (None: all 50,000 of CIFAR-10); users of
    ``user_sizes`` images (counts, or fractions of ``n_train``) with ``keys`` (degrees; None: no
    watermark) and colour spaces drawn from ``color_space_seeds`` (None: YIQ); a held-out user of
    ``held_out_size`` test images (default: the first user's size); test accuracy on ``n_test``
    test images (None: all). ``image_size``: CUB-200's photos are resized to it (None: 448, the
    paper's Fig. 2i); CIFAR-10's are 32 x 32. Which images are drawn is seeded by the recipe's
    ``seed`` (:attr:`LearnerConfig.recipe`).
    """

    n_train: Optional[int] = 2500
    user_sizes: tuple[Size, ...] = (50,)
    keys: tuple[Optional[float], ...] = (60.0,)
    color_space_seeds: tuple[Optional[int], ...] = (None,)
    held_out_size: Optional[int] = None
    n_test: Optional[int] = 2000
    dataset: str = "cifar10"
    image_size: Optional[int] = None

    def __post_init__(self) -> None:
        if not (len(self.user_sizes) == len(self.keys) == len(self.color_space_seeds)):
            raise ValueError(
                f"user_sizes, keys and color_space_seeds need one entry per user; got lengths "
                f"{len(self.user_sizes)}, {len(self.keys)}, {len(self.color_space_seeds)}."
            )
        if not self.user_sizes:
            raise ValueError("a learner's data needs at least one user; user_sizes is empty.")
        for name in ("n_train", "held_out_size", "n_test"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1 (or None: all); got {value}.")
        if self.dataset not in DATASETS:
            raise ValueError(
                f"unknown dataset {self.dataset!r}; expected one of {', '.join(DATASETS)}."
            )
        if self.image_size is not None and not 8 <= self.image_size <= MAX_IMAGE_SIZE:
            raise ValueError(
                f"image_size must be 8..{MAX_IMAGE_SIZE} pixels (or None: the dataset's own; "
                f"anw verify accepts no larger model); got {self.image_size}."
            )
        if self.dataset == "cifar10" and self.image_size not in (None, 32):
            raise ValueError(f"CIFAR-10 images are 32 x 32; got image_size={self.image_size}.")


@dataclass(frozen=True)
class TrainingRecipe:
    """How a network trains, whatever it trains on (Sec. 5.1, 5.3).

    Model: ``model`` (``models.MODEL_NAMES``; ``width`` only for ``small_resnet``), initialised
    with ``seed``. Optimisation (Sec. 5.1): ``epochs`` epochs of SGD with Nesterov ``momentum``,
    ``weight_decay`` and peak learning rate ``lr`` in batches of ``batch_size``; ``schedule`` is
    "onecycle" or "step" (the paper's x0.1 every 30 epochs). ``seed`` also fixes the order of the
    batches and the augmentation's random numbers (and, for a learner, which photos it trains on).
    Learner-side defences of Sec. 5.3 (Fig. 3), all off by default: ``augment`` names a batch-wise
    augmentation of ``anw_helpers.augment`` (e.g. "crop_flip+color_jitter"); ``label_smoothing``
    [34]; ``adversarial_eps`` > 0 trains on L-infinity adversarial examples [22] of that radius
    (pixels in [0, 1]) found by ``adversarial_steps`` signed-gradient steps (1: FGSM with a random
    start; more: PGD); ``dp_noise_multiplier`` set trains with DP-SGD [7] (Opacus: per-example
    gradients clipped to ``dp_max_grad_norm``, Gaussian noise of that many times the clip norm;
    BatchNorm becomes GroupNorm).
    """

    model: str = "small_resnet"
    width: int = 16
    epochs: int = 40
    batch_size: int = 256
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "onecycle"
    label_smoothing: float = 0.0
    augment: str = "crop_flip"
    seed: int = 0
    adversarial_eps: float = 0.0
    adversarial_steps: int = 1
    dp_noise_multiplier: Optional[float] = None
    dp_max_grad_norm: float = 1.0

    def __post_init__(self) -> None:
        if self.model not in MODEL_NAMES:
            raise ValueError(
                f"unknown model {self.model!r}; expected one of {', '.join(MODEL_NAMES)}."
            )
        if self.width < 1:
            raise ValueError(f"width must be >= 1; got {self.width}.")
        if self.schedule not in ("onecycle", "step"):
            raise ValueError(f"schedule must be 'onecycle' or 'step'; got {self.schedule!r}.")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(
                f"epochs and batch_size must be >= 1; got {self.epochs} and {self.batch_size}."
            )
        if not self.lr > 0 or not self.momentum > 0 or not self.weight_decay >= 0:
            raise ValueError(
                "lr and momentum must be > 0 (Nesterov SGD) and weight_decay >= 0; got "
                f"lr={self.lr}, momentum={self.momentum}, weight_decay={self.weight_decay}."
            )
        check_augmentation_name(self.augment)
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1); got {self.label_smoothing}.")
        if not 0.0 <= self.adversarial_eps <= 1.0:
            raise ValueError(
                "adversarial_eps is an L-infinity radius in [0, 1] pixel units (e.g. 8/255); got "
                f"{self.adversarial_eps}."
            )
        if self.adversarial_steps < 1:
            raise ValueError(
                "adversarial_steps must be >= 1 (1: FGSM, more: PGD); got "
                f"{self.adversarial_steps}."
            )
        if self.dp_noise_multiplier is not None and self.dp_noise_multiplier < 0:
            raise ValueError(
                "dp_noise_multiplier must be >= 0 (or None: no DP-SGD); got "
                f"{self.dp_noise_multiplier}."
            )
        if not self.dp_max_grad_norm > 0:
            raise ValueError(f"dp_max_grad_norm must be > 0; got {self.dp_max_grad_norm}.")
        if self.dp_noise_multiplier is not None and self.adversarial_eps > 0:
            raise ValueError(
                "DP-SGD (dp_noise_multiplier) and adversarial training (adversarial_eps > 0) "
                "cannot be combined here; set one of them to its default."
            )

    def with_(self, **changes: object) -> TrainingRecipe:
        """A copy with some settings changed (e.g. ``recipe.with_(epochs=5, lr=0.01)``)."""
        known = _names(TrainingRecipe)
        _check_names(changes, known, f"a training recipe; expected some of: {', '.join(known)}")
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class LearnerConfig:
    """Every setting that shapes a trained learner (and so its model-cache key): its ``data``
    setting and its training ``recipe``.

    Read a setting from the part that owns it (``config.data.n_train``, ``config.recipe.epochs``);
    change any of them by name with :meth:`with_`.
    """

    data: DataSetting = field(default_factory=DataSetting)
    recipe: TrainingRecipe = field(default_factory=TrainingRecipe)

    def __post_init__(self) -> None:
        if not isinstance(self.data, DataSetting) or not isinstance(self.recipe, TrainingRecipe):
            raise TypeError(
                "LearnerConfig(data, recipe) takes a DataSetting and a TrainingRecipe; got "
                f"{type(self.data).__name__} and {type(self.recipe).__name__} (to change single "
                "settings by name, use LearnerConfig().with_(n_train=..., epochs=...))."
            )

    def with_(self, **changes: object) -> LearnerConfig:
        """A copy with some settings changed by name, each in the part that owns it (e.g.
        ``cfg.with_(keys=(210.0,), epochs=5)`` changes the data's keys and the recipe's epochs)."""
        data_names, recipe_names = _names(DataSetting), _names(TrainingRecipe)
        _check_names(
            changes,
            data_names + recipe_names,
            f"a learner; its data setting has {', '.join(data_names)} and its training recipe "
            f"{', '.join(recipe_names)}",
        )
        data = {k: v for k, v in changes.items() if k in data_names}
        recipe = {k: v for k, v in changes.items() if k in recipe_names}
        return LearnerConfig(
            dataclasses.replace(self.data, **data) if data else self.data,
            dataclasses.replace(self.recipe, **recipe) if recipe else self.recipe,
        )

    def flat(self) -> dict[str, Any]:
        """Every setting by its name (the data setting's, then the recipe's): the names that
        :meth:`with_` and sweep grids take."""
        return {**dataclasses.asdict(self.data), **dataclasses.asdict(self.recipe)}

    @staticmethod
    def setting_types() -> dict[str, Any]:
        """The type of every setting by its name (the data setting's, then the recipe's)."""
        return {**typing.get_type_hints(DataSetting), **typing.get_type_hints(TrainingRecipe)}


def _names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


def _check_names(changes: dict, known: tuple[str, ...], what: str) -> None:
    unknown = [k for k in changes if k not in known]
    if unknown:
        raise ValueError(f"unknown setting(s) {', '.join(map(repr, unknown))} for {what}.")
