"""The training work of every lesson in a profile, and its projected time on a given machine.

    python -m tools.work --profile ci                 # project for the slowest CPU CI must fit
    python -m tools.work --profile ci --w24-rate 190  # a machine training width 24 at 190 img/s
    python -m tools.work --profile colab --gpu-tflops 3  # a GPU, from FLOPs alone (no measuring)

Each row is one training a lesson runs (from scratch or a fine-tune): images x epochs =
presentations (one forward and backward pass of one image; adversarial training costs steps + 1 of
them), and the GFLOP of one presentation counted by ``FlopCounterMode``. Trainings a lesson loads
from lesson 03's cache are left out. The projection scales throughput measured on *this* machine,
model by model and in fp32, to the target machine's rate for the width-24 small ResNet
(``--w24-rate``): narrow networks use a CPU less efficiently than their FLOP count suggests, so a
FLOP-only projection would flatter them. The default target, :data:`DEFAULT_W24_RATE` img/s, is
an assumed fp32 rate for a slow 2-core AVX2 CPU without native bf16, not a measurement (the AMD EPYC
of docs/benchmarks.md trained one batch-64 step at 110.8 img/s and lesson 03's old learner at about
190 end to end); docs/benchmarks.md records this table. Measured lesson times on such kernels are in
``tools/measured_times.toml`` (what the docs quote, through ``python -m tools.docs_numbers``).

``--gpu-tflops`` projects for a GPU from FLOPs alone, measuring nothing here: each training takes
its FLOPs at that sustained rate, but never less than its presentations at ``--gpu-max-img-s``
(narrow networks are bound by per-step overheads, not FLOPs). The defaults are assumptions for a
free Colab T4, not measurements: 3 TFLOP/s sustained in mixed precision (under 5 % of the T4's
65 TFLOPS fp16 tensor peak and 37 % of its 8.1 TFLOPS fp32 peak, NVIDIA T4 product brief; kept low
because 32 x 32 CIFAR images and narrow layers use tensor cores poorly and a 70 W T4 throttles) and
at most 8,000 img/s. Replace them with measured rates once a GPU run gives them.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from functools import cache

from anw_helpers.memorisation import memorisation_plan
from anw_helpers.models import WIDTH_MODELS
from anw_helpers.profiles import (
    DEFENCE_VARIANTS,
    Profile,
    get_profile,
    multi_user_config,
)
from anw_helpers.recipe import LearnerConfig, TrainingRecipe
from anw_helpers.users import _resolve_size

__all__ = [
    "Training",
    "lesson_trainings",
    "gflop_per_image",
    "fp32_images_per_second",
    "work_table",
    "gpu_minutes",
    "gpu_work_table",
    "loaded_trainings",
    "DEFAULT_W24_RATE",
    "T4_TFLOPS",
    "T4_MAX_IMAGES_PER_SECOND",
    "main",
]

#: Assumed sustained training rates of a free Colab T4 (module docstring): not measured.
T4_TFLOPS = 3.0
T4_MAX_IMAGES_PER_SECOND = 8000.0
#: Assumed fp32 rate (img/s, width-24 small ResNet) of a slow 2-core AVX2 CPU (module docstring).
DEFAULT_W24_RATE = 130.0
#: CUB-200-2011's training photos (Welinder et al.), lesson 05's high-resolution run.
_CUB_TRAIN_IMAGES = 5994

#: Shadow models of lesson 08: one per watermarking user of lesson 05, on that user's photos only.
_SHADOW_USERS = 10


@dataclass(frozen=True)
class Training:
    """One training: ``images`` x ``epochs`` presentations, each ``passes`` forward-backward."""

    lesson: str
    what: str
    model: str
    width: int
    images: int
    epochs: int
    passes: int = 1
    image_size: int = 32

    @property
    def presentations(self) -> int:
        """Forward-and-backward passes of one image, in all."""
        return self.images * self.epochs * self.passes


def _of(
    lesson: str, what: str, config: LearnerConfig, images: int, epochs: int = 0, passes: int = 1
) -> Training:
    return _of_recipe(
        lesson, what, config.recipe, images, epochs, passes, config.data.image_size or 32
    )


def _of_recipe(
    lesson: str,
    what: str,
    recipe: TrainingRecipe,
    images: int,
    epochs: int = 0,
    passes: int = 1,
    image_size: int = 32,
) -> Training:
    epochs = epochs or recipe.epochs
    return Training(lesson, what, recipe.model, recipe.width, images, epochs, passes, image_size)


def lesson_trainings(profile: Profile) -> list[Training]:
    """Every training lessons 03-11 run in ``profile``, read from the settings the lessons read."""
    cfg, plans = profile.config, profile.lessons
    n = cfg.data.n_train or 50000
    rows = [
        _of("03", "the learner (one user)", cfg, n),
        _of("05", "fourteen users", multi_user_config(cfg), n),
    ]
    for model, width in plans.capacity:
        variant = cfg.with_(model=model, width=width or cfg.recipe.width)
        if variant != cfg:
            rows.append(_of("05", f"capacity: {model} width {variant.recipe.width}", variant, n))
    rows += [
        _of("05", f"architecture: {name}", cfg.with_(model=name), n) for name in plans.architectures
    ]
    if plans.high_res is not None:
        rows.append(_of("05", "high resolution: CUB-200", plans.high_res, _CUB_TRAIN_IMAGES))
    for name in plans.defences:
        variant = cfg.with_(**DEFENCE_VARIANTS[name][0])
        adversarial = variant.recipe.adversarial_eps > 0
        steps = variant.recipe.adversarial_steps + 1 if adversarial else 1
        rows.append(_of("06", f"defence: {name}", variant, n, passes=steps))
    user = _resolve_size(cfg.data.user_sizes[0], n)  # a count, or a fraction of the training set
    rows += [_of("06", f"fine-tune {e} epochs", cfg, n - user, e) for e, _ in plans.fine_tunes]
    many = plans.many_users
    for f in many.fractions:
        for condition in ("same LCT", "own LCT"):
            rows.append(_of("07", f"f = {f}, {condition}", cfg, many.n_train))
    shadow_photos = sum(multi_user_config(cfg).data.user_sizes[:_SHADOW_USERS])
    rows.append(_of("08", f"{_SHADOW_USERS} shadow models", cfg, int(shadow_photos)))
    plan = memorisation_plan(profile.name)
    models = 2 * plan.n_models  # clean and watermarked pools, 2 * n_pairs models each
    rows.append(
        _of_recipe(
            "08",
            f"memorisation: {models} fine-tunes",
            plan.recipe(cfg.recipe),
            models * (plan.pool_size // 2),
            plan.epochs,
            image_size=cfg.data.image_size or 32,
        )
    )
    if profile.lessons.extra_learners:  # lesson 11's one-subject and second learners
        rows.append(_of("11", "a one-subject learner (section f)", cfg, n))
        rows.append(_of("11", "a second learner (section g)", cfg, n))
    adaptive = profile.lessons.adaptive  # lesson 10: one learner per recipe, the same users
    for name in adaptive.recipes:
        learner = adaptive.config(cfg, name)
        rows.append(_of("10", f"adaptive: {name}", learner, n))
    return rows


#: Lessons that load lesson 03's learner with ``train_learner(profile.config)`` (opened alone, they
#: train it first); tests/test_docs_numbers.py checks the lessons' sources against it.
LOADS_LESSON03 = ("04", "06", "08", "09", "11")
#: Lessons that load lesson 05's fourteen-user learner (``multi_user_config(profile.config)``).
LOADS_LESSON05 = ("08",)


def loaded_trainings(profile: Profile) -> dict[str, list[Training]]:
    """Per lesson, the trainings it loads from an earlier lesson's cache (left out of
    :func:`lesson_trainings`): a lesson opened alone trains these first.

    Lesson 05 loads lesson 03's learner where a capacity or architecture entry is that learner.
    """
    rows = lesson_trainings(profile)
    lesson03 = next(t for t in rows if t.lesson == "03")
    lesson05 = next(t for t in rows if t.lesson == "05" and t.what == "fourteen users")
    cfg, plans = profile.config, profile.lessons
    variants = [cfg.with_(model=m, width=w or cfg.recipe.width) for m, w in plans.capacity]
    variants += [cfg.with_(model=name) for name in plans.architectures]
    loads: dict[str, list[Training]] = {}
    for lesson in sorted({*LOADS_LESSON03, *LOADS_LESSON05, "05"}):
        mine = []
        if lesson in LOADS_LESSON03 or (lesson == "05" and cfg in variants):
            mine.append(lesson03)
        if lesson in LOADS_LESSON05:
            mine.append(lesson05)
        if mine:
            loads[lesson] = mine
    return loads


@cache
def gflop_per_image(model: str, width: int, image_size: int = 32) -> float:
    """GFLOP of one training presentation (forward + backward) of ``model`` (batch of 4 at 32 x 32;
    one image of a larger ``image_size``, built without downloading weights)."""
    if image_size == 32:
        from tools.bench import train_step_gflop

        return train_step_gflop(model, width, batch=4) / 4
    import torch
    import torch.nn.functional as F
    from torch.utils.flop_counter import FlopCounterMode

    from anw_helpers.models import build_model

    net = build_model(model, num_classes=200, width=width, pretrained=False).train()
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(
            net(torch.rand(1, 3, image_size, image_size)), torch.zeros(1).long()
        ).backward()
    return counter.get_total_flops() / 1e9


@cache
def fp32_images_per_second(model: str, width: int, steps: int = 10, repeats: int = 2) -> float:
    """Training images/s of ``model`` in fp32 on this machine (the course's pipeline, batch 256),
    after 10 warm-up steps: the best of ``repeats`` runs, so a moment's contention won't skew it."""
    from anw_helpers.machinery.runtime import Precision
    from anw_helpers.machinery.throughput import training_images_per_second

    fp32 = Precision("fp32", "work table")
    return max(
        training_images_per_second(model, width, 256, steps, fp32, warmup=10)
        for _ in range(repeats)
    )


def work_table(profile: Profile, w24_rate: float) -> tuple[str, dict[str, float]]:
    """A Markdown table of every training with its projected minutes, and the minutes per lesson."""
    reference = fp32_images_per_second("small_resnet", 24)
    lines = [
        "| lesson | training | model | presentations | GFLOP each | projected min |",
        "|---|---|---|---:|---:|---:|",
    ]
    minutes: dict[str, float] = {}
    for t in lesson_trainings(profile):
        rate = fp32_images_per_second(t.model, t.width) * w24_rate / reference
        m = t.presentations / rate / 60
        minutes[t.lesson] = minutes.get(t.lesson, 0.0) + m
        model = f"{t.model} w{t.width}" if t.model in WIDTH_MODELS else t.model
        lines.append(
            f"| {t.lesson} | {t.what} | {model} | {t.presentations:,} | "
            f"{gflop_per_image(t.model, t.width):.3f} | {m:.1f} |"
        )
    return "\n".join(lines), minutes


def gpu_minutes(
    t: Training, tflops: float = T4_TFLOPS, max_images_per_second: float = T4_MAX_IMAGES_PER_SECOND
) -> float:
    """Projected minutes of one training on a GPU sustaining ``tflops`` TFLOP/s, but no more than
    ``max_images_per_second`` presentations a second (an assumption, not a measurement)."""
    gflop = t.presentations * gflop_per_image(t.model, t.width, t.image_size)
    return max(gflop / (tflops * 1e3), t.presentations / max_images_per_second) / 60


def gpu_work_table(
    profile: Profile,
    tflops: float = T4_TFLOPS,
    max_images_per_second: float = T4_MAX_IMAGES_PER_SECOND,
) -> tuple[str, dict[str, float]]:
    """Like :func:`work_table`, projected for a GPU from FLOPs (:func:`gpu_minutes`)."""
    lines = [
        "| lesson | training | model | presentations | GFLOP each | projected GPU min |",
        "|---|---|---|---:|---:|---:|",
    ]
    minutes: dict[str, float] = {}
    for t in lesson_trainings(profile):
        m = gpu_minutes(t, tflops, max_images_per_second)
        minutes[t.lesson] = minutes.get(t.lesson, 0.0) + m
        model = f"{t.model} w{t.width}" if t.model in WIDTH_MODELS else t.model
        size = "" if t.image_size == 32 else f" at {t.image_size} px"
        lines.append(
            f"| {t.lesson} | {t.what} | {model}{size} | {t.presentations:,} | "
            f"{gflop_per_image(t.model, t.width, t.image_size):.3f} | {m:.1f} |"
        )
    return "\n".join(lines), minutes


def main(argv: list[str] | None = None) -> None:
    """Command line: print the work table and the projected training minutes per lesson."""
    parser = argparse.ArgumentParser(
        prog="python -m tools.work",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--profile", default="ci")
    parser.add_argument(
        "--w24-rate",
        type=float,
        default=DEFAULT_W24_RATE,
        help="target machine's fp32 training img/s for the width-24 small ResNet",
    )
    parser.add_argument(
        "--gpu-tflops",
        type=float,
        help="project for a GPU sustaining this many TFLOP/s in training (T4 assumption: "
        f"{T4_TFLOPS:g})",
    )
    parser.add_argument(
        "--gpu-max-img-s",
        type=float,
        default=T4_MAX_IMAGES_PER_SECOND,
        help="with --gpu-tflops: the most training images/s assumed for any network",
    )
    args = parser.parse_args(argv)
    for flag, value in (
        ("--w24-rate", args.w24_rate),
        ("--gpu-tflops", args.gpu_tflops),
        ("--gpu-max-img-s", args.gpu_max_img_s),
    ):
        if value is not None and not (value > 0 and math.isfinite(value)):
            parser.error(f"{flag} must be a positive number; got {value}")
    profile = get_profile(args.profile)
    if args.gpu_tflops is not None:
        table, minutes = gpu_work_table(profile, args.gpu_tflops, args.gpu_max_img_s)
        print(
            f"profile {profile.name!r}; projected for a GPU at {args.gpu_tflops:g} TFLOP/s "
            f"sustained, at most {args.gpu_max_img_s:,.0f} img/s (assumed, not measured):\n"
        )
        _print_tables(table, minutes)
        return
    table, minutes = work_table(profile, args.w24_rate)
    here = fp32_images_per_second("small_resnet", 24)
    print(
        f"profile {profile.name!r}; this machine trains the width-24 small ResNet at {here:.0f} "
        f"img/s in fp32; projected for a machine at {args.w24_rate:.0f} img/s:\n"
    )
    _print_tables(table, minutes)


def _print_tables(table: str, minutes: dict[str, float]) -> None:
    print(table)
    print("\n| lesson | projected training min |\n|---|---:|")
    print("\n".join(f"| {k} | {v:.1f} |" for k, v in minutes.items()))
    print(f"| all | {sum(minutes.values()):.1f} |")


if __name__ == "__main__":
    main()
