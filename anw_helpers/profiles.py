"""Compute profiles: one learner configuration per kind of machine (``ANW_PROFILE`` or auto-chosen).

The watermark is only recovered when the learner memorises its training images (Sec. 4.2, 5.6), so
even the smallest profile, ``ci``, trains until the training set is fitted: it is tuned to recover
the key on 2 CPU cores. Larger profiles move towards the paper's setting (Sec. 5.1). Each profile is
written out once below, every setting given. What their sizes rest on (measured runs) and how long
each takes are in ``tools/measured_times.toml`` and the docs ``python -m tools.docs_numbers`` writes
from it and the work table (the README's profile table and lesson times).
"""

from __future__ import annotations

import dataclasses
import functools
import os
from dataclasses import dataclass
from typing import Optional

import torch

from .recipe import DataSetting, LearnerConfig, TrainingRecipe

__all__ = [
    "Profile",
    "PROFILES",
    "LessonSettings",
    "ManyUsersSetting",
    "HIGH_RES",
    "DEFENCE_VARIANTS",
    "ADAPTIVE_RECIPES",
    "AdaptiveSetting",
    "get_profile",
    "auto_profile_name",
    "profile_table",
    "MULTI_USER_SIZES",
    "MULTI_USER_KEYS",
    "multi_user_config",
    "many_users_config",
]


@dataclass(frozen=True)
class ManyUsersSetting:
    """Lesson 07's data setting (Fig. 5a): ``n_train`` images shared equally by ``n_users`` users,
    one training per watermarking fraction in ``fractions`` and condition, in batches of
    ``batch_size``."""

    n_train: int
    n_users: int
    fractions: tuple[float, ...]
    batch_size: int


@dataclass(frozen=True)
class MemorisationPlan:
    """How many subsampled models a profile affords, and how they train (Sec. 5.6's estimate, scaled
    down).

    ``pool_size`` photos (the user's among them) are split ``n_pairs`` times into two halves; each
    half trains one model for ``epochs`` epochs (``batch_size``, ``lr``, ``augment``; the rest of
    the learner's recipe: :meth:`recipe`). With ``fine_tune`` every model starts from a public
    network that never saw the pool (on 2 CPU cores a from-scratch model does not fit a few hundred
    photos in an affordable number of steps); otherwise from scratch, with ``width``.
    ``min_train_accuracy`` is the fit every model must reach on its half: a model that has not
    fitted its training photos cannot show that it memorised them.
    """

    pool_size: int
    n_pairs: int
    epochs: int
    batch_size: int
    lr: float
    fine_tune: bool = True
    width: Optional[int] = None
    augment: str = "crop_flip"
    min_train_accuracy: float = 0.95

    def __post_init__(self) -> None:
        if (
            self.pool_size < 4
            or self.n_pairs < 1
            or self.epochs < 1
            or self.batch_size < 1
            or not self.lr > 0
        ):
            raise ValueError(
                "a memorisation plan needs pool_size >= 4 and positive n_pairs, epochs, "
                f"batch_size, lr; got {self}."
            )
        if not self.fine_tune and (self.width is None or self.width < 1):
            raise ValueError(f"a from-scratch plan needs a width >= 1; got {self.width!r}.")

    @property
    def n_models(self) -> int:
        """Models per condition (clean or watermarked): two per pair."""
        return 2 * self.n_pairs

    def label(self) -> str:
        """How to quote an estimate made with this plan, e.g. "estimate from 2 + 2 models"."""
        return f"estimate from {self.n_pairs} + {self.n_pairs} models"

    def recipe(self, base: TrainingRecipe) -> TrainingRecipe:
        """The learner's recipe ``base`` with this plan's training length, batch, lr and
        augmentation (and width when training from scratch; a fine-tuned model keeps its base's
        width)."""
        changes = dict(
            epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, augment=self.augment
        )
        if not self.fine_tune:
            changes["width"] = self.width
        return base.with_(**changes)


#: Lesson 10's learners (beyond the paper): name -> (LearnerConfig changes, what it is). Each trains
#: on the same four users (``adaptive.marked_users_data``).
ADAPTIVE_RECIPES: dict[str, tuple[dict, str]] = {
    "standard": ({}, "lesson 03's recipe"),
    "luma only": (
        dict(model="small_resnet_luma"),
        "sees only luma Y (grayscale squeezing, Liu et al. 2023)",
    ),
    "full-circle hue jitter": (
        dict(augment="crop_flip+hue_jitter_full"),
        "a random YIQ hue rotation of 0-360 degrees per image and step",
    ),
    "JPEG q50": (dict(augment="jpeg_q50+crop_flip"), "trains on JPEG at quality 50"),
    "JPEG q10": (dict(augment="jpeg_q10+crop_flip"), "trains on JPEG at quality 10"),
}


@dataclass(frozen=True)
class AdaptiveSetting:
    """Lesson 10's learners in one profile: the entries of :data:`ADAPTIVE_RECIPES` trained, each
    with the profile learner's data setting and recipe otherwise."""

    recipes: tuple[str, ...] = tuple(ADAPTIVE_RECIPES)

    def __post_init__(self) -> None:
        unknown = [r for r in self.recipes if r not in ADAPTIVE_RECIPES]
        if unknown:
            raise ValueError(
                f"unknown lesson 10 recipe(s) {unknown}; expected names of ADAPTIVE_RECIPES: "
                f"{', '.join(ADAPTIVE_RECIPES)}."
            )

    def config(self, base: LearnerConfig, recipe: str) -> LearnerConfig:
        """``base`` with ``recipe``'s changes (e.g. the luma-only model)."""
        return base.with_(**ADAPTIVE_RECIPES[recipe][0])


@dataclass(frozen=True)
class LessonSettings:
    """What lessons 05-07 train beyond lesson 03's learner, in one profile (instructors: edit here).

    Lesson 05: ``capacity`` (model, width; width 0: the profile's) and ``architectures`` (Fig.
    2g-h). Lesson 06: ``defences`` names the entries of :data:`DEFENCE_VARIANTS` trained (Fig. 3)
    and ``fine_tunes`` the (epochs, lr) fine-tunings on clean images. Lesson 07: ``many_users``.
    Lesson 05's high-resolution run (Fig. 2i, :data:`HIGH_RES`: downloads 1.1 GB of CUB-200):
    ``high_res``, None where the lesson only trains it when switched on (``TRAIN_HIGH_RES``).
    Lesson 08: ``memorisation``, the subsampled-model plan of Sec. 5.6. Lesson 11:
    ``extra_learners`` trains its one-subject learner (section f) and its second learner
    (section g), each of lesson 03's size. Lesson 10: ``adaptive``, its learners
    (:class:`AdaptiveSetting`).
    """

    capacity: tuple[tuple[str, int], ...]
    architectures: tuple[str, ...]
    defences: tuple[str, ...]
    fine_tunes: tuple[tuple[int, float], ...]
    many_users: ManyUsersSetting
    high_res: Optional[LearnerConfig] = None
    memorisation: Optional[MemorisationPlan] = None
    extra_learners: bool = False
    adaptive: AdaptiveSetting = AdaptiveSetting()


#: Lesson 06's learner-side defences (Sec. 5.3, Fig. 3): name -> (changes to the learner's
#: TrainingRecipe, what the paper cites).
DEFENCE_VARIANTS: dict[str, tuple[dict, str]] = {
    "colour jitter": (
        dict(augment="crop_flip+color_jitter"),
        "[18] as torchvision runs it (HSV hue)",
    ),
    "colour jitter, YIQ hue": (
        dict(augment="crop_flip+color_jitter_yiq"),
        "[18], Fig. 3: 'the same hue transformation we used for watermarking'",
    ),
    "cutout + noise + label smoothing": (
        dict(augment="crop_flip+cutout+gaussian_noise", label_smoothing=0.1),
        "[6], [4], [34] together",
    ),
    "cutout": (dict(augment="crop_flip+cutout"), "[6]"),
    "Gaussian noise (std 0.1)": (dict(augment="crop_flip+gaussian_noise"), "[4]"),
    "label smoothing 0.1": (dict(label_smoothing=0.1), "[34]"),
    "adversarial, FGSM 2/255": (dict(adversarial_eps=2 / 255), "[22]"),
    "adversarial, PGD-3 4/255": (dict(adversarial_eps=4 / 255, adversarial_steps=3), "[22]"),
    "DP-SGD, noise 1.0, clip 1.0": (dict(dp_noise_multiplier=1.0), "[7]"),
    "full-circle hue jitter": (dict(augment="crop_flip+hue_jitter_full"), "beyond the paper"),
}
#: Lesson 05's Fig. 2i: CUB-200 at 448 x 448 (1.1 GB download), an ImageNet-pretrained ResNet-50
#: fine-tuned with strong augmentation, a 60-photo user with key 60.
HIGH_RES = LearnerConfig(
    data=DataSetting(
        n_train=None,
        user_sizes=(60,),
        keys=(60.0,),
        color_space_seeds=(None,),
        held_out_size=None,
        n_test=None,
        dataset="cub200",
        image_size=448,
    ),
    recipe=TrainingRecipe(
        model="resnet50_imagenet",
        width=16,  # unused: only small_resnet has a width
        epochs=20,
        batch_size=32,
        lr=0.01,
        momentum=0.9,
        weight_decay=5e-4,
        schedule="onecycle",
        label_smoothing=0.0,
        augment="crop_flip+color_jitter",
        seed=0,
        adversarial_eps=0.0,
        adversarial_steps=1,
        dp_noise_multiplier=None,
        dp_max_grad_norm=1.0,
    ),
)


@dataclass(frozen=True)
class Profile:
    """A named configuration with the machine it is meant for, the learner's data setting and recipe
    (``config``) and what each lesson trains beyond it (``lessons``).

    Every profile below gives every setting (no dataclass default; tests/test_profiles_explicit.py
    checks). Times are not kept here: each lesson's introduction, the README and docs/instructors.md
    quote them, written by ``python -m tools.docs_numbers`` from the work table and measured runs
    (``tools/measured_times.toml``).
    """

    name: str
    machine: str
    purpose: str
    config: LearnerConfig
    lessons: LessonSettings

    @property
    def learner_size(self) -> str:
        """Lesson 03's learner in a few words, for a lesson that announces it trains it first,
        e.g. "2,500 images x 40 epochs, small_resnet width 16; its time: the lesson's intro"."""
        d, r = self.config.data, self.config.recipe
        images = "all 50,000" if d.n_train is None else f"{d.n_train:,}"
        model = f"{r.model} width {r.width}" if r.model.startswith("small_resnet") else r.model
        return f"{images} images x {r.epochs} epochs, {model}; its time: the lesson's introduction"


# The profiles, each written out once (issue 29 item 3). To change one, edit its line here, then
# follow CONTRIBUTING.md, "Changing a profile" (docs, records, snapshot).

#: ``ci``: the smallest setting that still shows the effect, on 2 CPU cores (why these sizes:
#: docs/benchmarks.md, "The `ci` recipe").
CI = Profile(
    name="ci",
    machine="2 CPU cores (CI, Colab without GPU)",
    purpose="smallest setting that still shows the effect",
    config=LearnerConfig(
        data=DataSetting(
            n_train=2500,
            user_sizes=(50,),
            keys=(60.0,),
            color_space_seeds=(None,),
            held_out_size=None,
            n_test=2000,
            dataset="cifar10",
            image_size=None,
        ),
        recipe=TrainingRecipe(
            model="small_resnet",
            width=16,
            epochs=40,
            batch_size=256,
            lr=0.1,
            momentum=0.9,
            weight_decay=5e-4,
            schedule="onecycle",
            label_smoothing=0.0,
            augment="crop_flip",
            seed=0,
            adversarial_eps=0.0,
            adversarial_steps=1,
            dp_noise_multiplier=None,
            dp_max_grad_norm=1.0,
        ),
    ),
    lessons=LessonSettings(
        capacity=(("small_resnet", 4), ("small_resnet", 0)),
        architectures=(),
        defences=("colour jitter",),
        fine_tunes=((5, 0.01),),
        many_users=ManyUsersSetting(n_train=1250, n_users=25, fractions=(0.4,), batch_size=128),
        high_res=None,
        memorisation=MemorisationPlan(
            pool_size=600,
            n_pairs=2,
            epochs=10,
            batch_size=32,
            lr=0.02,
            fine_tune=True,
            width=None,
            augment="crop_flip",
            min_train_accuracy=0.9,
        ),
        extra_learners=False,
        adaptive=AdaptiveSetting(recipes=("standard", "luma only")),  # at lesson 03's size
    ),
)

#: ``cpu``: ``ci``'s learner (larger ones missed the bar: docs/benchmarks.md, "The `cpu` recipe")
#: and more variants in lessons 05-10.
CPU = Profile(
    name="cpu",
    machine="a laptop CPU, 4+ cores",
    purpose="ci's learner (the larger recipes tried missed the bar: docs/benchmarks.md) and more "
    "variants in lessons 05-10",
    config=CI.config,
    lessons=LessonSettings(
        capacity=(("small_resnet", 8), ("small_resnet", 0), ("small_resnet", 32)),
        architectures=("alexnet",),
        defences=(
            "colour jitter",
            "colour jitter, YIQ hue",
            "cutout + noise + label smoothing",
            "cutout",
            "Gaussian noise (std 0.1)",
            "label smoothing 0.1",
            "adversarial, FGSM 2/255",
            "full-circle hue jitter",
        ),
        fine_tunes=((5, 0.01), (10, 0.05)),
        many_users=ManyUsersSetting(
            n_train=10000, n_users=100, fractions=(0.2, 0.6, 1.0), batch_size=256
        ),
        high_res=None,
        memorisation=MemorisationPlan(
            pool_size=1000,
            n_pairs=4,
            epochs=10,
            batch_size=64,
            lr=0.02,
            fine_tune=True,
            width=None,
            augment="crop_flip",
            min_train_accuracy=0.9,
        ),
        extra_learners=True,
        adaptive=AdaptiveSetting(recipes=tuple(ADAPTIVE_RECIPES)),
    ),
)

#: ``colab``: the profile a CUDA GPU gets by itself; ``ci``'s learner (larger ones missed the bar:
#: docs/benchmarks.md, "The `cpu` recipe") and more variants in lessons 05-10, no CUB-200.
COLAB = Profile(
    name="colab",
    machine="any CUDA GPU (chosen automatically; sized for a free Colab T4)",
    purpose="ci's learner (larger ones memorised too little to be reliable) and more variants in "
    "lessons 05-10; no CUB-200",
    config=CI.config,
    lessons=LessonSettings(
        capacity=(("small_resnet", 8), ("small_resnet", 0), ("small_resnet", 32)),
        architectures=("alexnet",),
        defences=(
            "colour jitter",
            "colour jitter, YIQ hue",
            "cutout + noise + label smoothing",
            "adversarial, FGSM 2/255",
        ),
        fine_tunes=((5, 0.01), (10, 0.05)),
        many_users=ManyUsersSetting(
            n_train=5000, n_users=50, fractions=(0.2, 0.6, 1.0), batch_size=256
        ),
        high_res=None,
        memorisation=MemorisationPlan(
            pool_size=1000,
            n_pairs=4,
            epochs=10,
            batch_size=64,
            lr=0.02,
            fine_tune=True,
            width=None,
            augment="crop_flip",
            min_train_accuracy=0.9,
        ),
        extra_learners=True,
        adaptive=AdaptiveSetting(recipes=tuple(ADAPTIVE_RECIPES)),
    ),
)

#: ``gpu``: the paper's CIFAR-10 setting with ResNet-18 (Sec. 5.1), every variant, CUB-200.
GPU = Profile(
    name="gpu",
    machine="a fast GPU (A100 class), chosen explicitly",
    purpose="full CIFAR-10, ResNet-18, 1 % user, every variant, CUB-200 (1.1 GB)",
    config=LearnerConfig(
        data=DataSetting(
            n_train=None,
            user_sizes=(500,),
            keys=(60.0,),
            color_space_seeds=(None,),
            held_out_size=None,
            n_test=None,
            dataset="cifar10",
            image_size=None,
        ),
        recipe=TrainingRecipe(
            model="resnet18",
            width=16,  # unused: only small_resnet has a width
            epochs=30,
            batch_size=512,
            lr=0.1,
            momentum=0.9,
            weight_decay=5e-4,
            schedule="onecycle",
            label_smoothing=0.0,
            augment="crop_flip",
            seed=0,
            adversarial_eps=0.0,
            adversarial_steps=1,
            dp_noise_multiplier=None,
            dp_max_grad_norm=1.0,
        ),
    ),
    lessons=LessonSettings(
        capacity=(("resnet18", 0), ("resnet34", 0), ("resnet50", 0)),
        architectures=("alexnet", "vgg16_bn", "wide_resnet50_2", "densenet121"),
        defences=tuple(DEFENCE_VARIANTS),
        fine_tunes=((5, 0.01), (10, 0.05)),
        many_users=ManyUsersSetting(
            n_train=50000, n_users=500, fractions=(0.2, 0.6, 1.0), batch_size=512
        ),
        high_res=HIGH_RES,
        memorisation=MemorisationPlan(
            pool_size=5000,
            n_pairs=8,
            epochs=60,
            batch_size=128,
            lr=0.1,
            fine_tune=False,
            width=32,
            augment="crop_flip",
            min_train_accuracy=0.95,
        ),
        extra_learners=True,
        adaptive=AdaptiveSetting(recipes=tuple(ADAPTIVE_RECIPES)),
    ),
)

#: ``paper``: the paper's Sec. 5.1 (ResNet-50, 90 epochs, lr x0.1 every 30) and Fig. 5a's 1,000
#: users.
PAPER = Profile(
    name="paper",
    machine="a large GPU",
    purpose="the paper's Sec. 5.1: ResNet-50, 90 epochs, lr x0.1 every 30",
    config=LearnerConfig(
        data=DataSetting(
            n_train=None,
            user_sizes=(500,),
            keys=(60.0,),
            color_space_seeds=(None,),
            held_out_size=None,
            n_test=None,
            dataset="cifar10",
            image_size=None,
        ),
        recipe=TrainingRecipe(
            model="resnet50",
            width=16,  # unused: only small_resnet has a width
            epochs=90,
            batch_size=128,
            lr=0.1,
            momentum=0.9,
            weight_decay=5e-4,
            schedule="step",
            label_smoothing=0.0,
            augment="crop_flip",
            seed=0,
            adversarial_eps=0.0,
            adversarial_steps=1,
            dp_noise_multiplier=None,
            dp_max_grad_norm=1.0,
        ),
    ),
    lessons=LessonSettings(
        capacity=(("resnet18", 0), ("resnet34", 0), ("resnet50", 0)),
        architectures=("alexnet", "vgg16_bn", "wide_resnet50_2", "densenet121"),
        defences=tuple(DEFENCE_VARIANTS),
        fine_tunes=((5, 0.01), (10, 0.05)),
        many_users=ManyUsersSetting(
            n_train=50000, n_users=1000, fractions=(0.2, 0.4, 0.6, 0.8, 1.0), batch_size=128
        ),
        high_res=HIGH_RES.with_(epochs=40),
        memorisation=MemorisationPlan(
            pool_size=10000,
            n_pairs=16,
            epochs=90,
            batch_size=128,
            lr=0.1,
            fine_tune=False,
            width=64,
            augment="crop_flip",
            min_train_accuracy=0.95,
        ),
        extra_learners=True,
        adaptive=AdaptiveSetting(recipes=tuple(ADAPTIVE_RECIPES)),
    ),
)

PROFILES: dict[str, Profile] = {p.name: p for p in (CI, CPU, COLAB, GPU, PAPER)}


#: A tiny profile that runs every lesson's code paths quickly, for ``python -m tools.smoke`` (a
#: GPU smoke test): not meant to show the effect, so lessons' scientific checks may fail under it.
#: Not in ``PROFILES`` (lessons do not offer it); ``ANW_PROFILE=smoke`` selects it. The one
#: profile derived from another: ``ci`` with the differences below and nothing else, so a change
#: to ``ci``'s other settings changes it too (tests/test_profiles_explicit.py allows only this).
SMOKE = dataclasses.replace(
    CI,
    name="smoke",
    machine="any machine (smoke test)",
    purpose="every code path at tiny size; results mean nothing",
    config=CI.config.with_(n_train=1024, n_test=256, width=8, epochs=2, batch_size=128),
    lessons=dataclasses.replace(
        CI.lessons,
        architectures=("resnet18",),
        defences=tuple(DEFENCE_VARIANTS),
        fine_tunes=((1, 0.01),),
        many_users=dataclasses.replace(CI.lessons.many_users, n_train=500, n_users=10),
        memorisation=dataclasses.replace(
            CI.lessons.memorisation, pool_size=100, n_pairs=1, epochs=1, min_train_accuracy=0.0
        ),
        adaptive=AdaptiveSetting(recipes=tuple(ADAPTIVE_RECIPES)),
    ),
)


#: Profiles whose learner has been run with several (seed, key) pairs and met its bar
#: (docs/benchmarks.md: the `ci` seed table; `cpu`, which keeps `ci`'s learner, in fp32 through
#: tools/grids/cpu_seeds.toml). The others are sized by projection only.
MEASURED_PROFILES: tuple[str, ...] = ("ci", "cpu")
#: Measured profiles whose lessons train variants (defences, capacity, many users, lesson 10's
#: learners) beyond what `ci` runs, not yet run themselves.
_VARIANTS_NOT_RUN: tuple[str, ...] = ("cpu",)


def auto_profile_name() -> str:
    """``colab`` with CUDA (bounded for a free Colab T4; ``gpu`` and ``paper`` only when asked for),
    else ``ci`` on any CPU.

    ``cpu`` has ``ci``'s measured learner and trains more variants in lessons 05-10, which have not
    been run yet and take longer: a laptop asks for it with ``ANW_PROFILE=cpu``. Larger ``cpu``
    learners missed the bar (docs/benchmarks.md), so a bigger CPU recipe is not offered.
    """
    if torch.cuda.is_available():
        return "colab"
    return "ci"


def unmeasured_note(name: str) -> Optional[str]:
    """A one-line warning for a profile that has not been run with several seeds, or whose lessons'
    extra variants have not (None if everything it trains has been run)."""
    if name in _VARIANTS_NOT_RUN:
        return (
            f"Profile {name!r}: its learner is measured (six seeds, docs/benchmarks.md); the extra "
            "variants lessons 05-10 train in it have not been run yet: their results are expected, "
            "not known."
        )
    if name in MEASURED_PROFILES or name == SMOKE.name:
        return None
    return (
        f"Profile {name!r} has not yet been run with several seeds (only "
        f"{', '.join(MEASURED_PROFILES)} has; docs/benchmarks.md): its learners are expected, not "
        f"known, to carry the watermark. ANW_PROFILE=ci selects the measured one."
    )


def get_profile(name: Optional[str] = None) -> Profile:
    """The profile called ``name``, else ``$ANW_PROFILE``, else the auto-chosen one."""
    chosen = name or os.environ.get("ANW_PROFILE") or auto_profile_name()
    if chosen == SMOKE.name:
        return SMOKE
    if chosen not in PROFILES:
        raise ValueError(
            f"unknown profile {chosen!r}; expected one of {', '.join(PROFILES)} (set ANW_PROFILE "
            "or pass name=)."
        )
    note = unmeasured_note(chosen)
    if note is not None:
        _say_once(note)
    return PROFILES[chosen]


@functools.cache
def _say_once(message: str) -> None:
    print(message, flush=True)


def profile_table(active: Optional[str] = None) -> str:
    """A Markdown table of every profile (the active one marked), for display in a lesson."""
    rows = [
        "| profile | for | training set | model | epochs |",
        "|---|---|---|---|---|",
    ]
    for p in PROFILES.values():
        d, r = p.config.data, p.config.recipe
        n = "all 50,000" if d.n_train is None else f"{d.n_train:,}"
        model = f"{r.model} (width {r.width})" if r.model == "small_resnet" else r.model
        mark = " **(active)**" if p.name == active else ""
        rows.append(
            f"| `{p.name}`{mark} | {p.machine} | {n}, user {d.user_sizes[0]} | {model} | "
            f"{r.epochs} ({r.schedule}) |"
        )
    return "\n".join(rows)


#: Lesson 05's users (Sec. 5.2, Fig. 2a-f), all disjoint and in YIQ, in one training: five users of
#: 50, 20, 10, 5 and 2 photos (how many photos are needed), then nine users of 30 photos whose keys,
#: with the first two users', cover all eleven keys 30, ..., 330 (does every key work). The three
#: smallest users share a key with a 30-photo user: sound, because memorising other photos at a key
#: does not lower the loss of one's own photos at that key (the held-out user, same key, gets 0).
MULTI_USER_SIZES: tuple[int, ...] = (50, 20, 10, 5, 2) + (30,) * 9
MULTI_USER_KEYS: tuple[float, ...] = (
    60.0,
    150.0,
    240.0,
    330.0,
    90.0,
    30.0,
    90.0,
    120.0,
    180.0,
    210.0,
    240.0,
    270.0,
    300.0,
    330.0,
)


def multi_user_config(config: LearnerConfig) -> LearnerConfig:
    """``config`` with lesson 05's fourteen users (YIQ) instead of its single user (Fig. 2a-f).

    Sizes are absolute image counts (the paper's "fewer than about 5 images fail" is a count, not a
    fraction); the held-out user has the first user's size and key.
    """
    n = len(MULTI_USER_SIZES)
    return config.with_(
        user_sizes=MULTI_USER_SIZES, keys=MULTI_USER_KEYS, color_space_seeds=(None,) * n
    )


def many_users_config(
    config: LearnerConfig,
    n_users: int,
    watermark_fraction: float,
    user_specific_color_space: bool = False,
) -> LearnerConfig:
    """``config``'s training set divided equally among ``n_users`` users, a fraction of whom
    watermark (Fig. 5a).

    Keys (30, ..., 330) and colour spaces (YIQ, or each user's own U(-1, 1) space) come from
    ``data.many_users_plan`` seeded by ``config.recipe.seed``; every training image belongs to one
    user.
    """
    from .users import many_users_plan

    n_train = config.data.n_train
    if n_train is None or n_train < n_users:
        raise ValueError(
            f"many_users_config needs n_train >= n_users; got n_train={n_train}, n_users={n_users}."
        )
    keys, seeds = many_users_plan(
        n_users, watermark_fraction, config.recipe.seed, user_specific_color_space
    )
    return config.with_(
        user_sizes=(n_train // n_users,) * n_users, keys=keys, color_space_seeds=seeds
    )
