"""Pre-train every model the lessons of a profile load, so a class finds them cached (issue 14).

    python -m tools.pretrain --profile ci            # train what is missing, one line per model
    python -m tools.pretrain --profile ci --list     # only say which models are cached or missing
    python -m tools.pretrain --profile ci --share    # then make $ANW_CACHE usable by the group

Models are cached under ``$ANW_CACHE/models`` by their settings and the *canonical* CIFAR-10
selection (``ImageSet.identity``), not by pixels: a model trained here on the offline JPEG copy
loads for a student whose CIFAR-10 came from torchvision, and back. The list mirrors the lessons'
own calls to ``train_learner`` (lesson 03's learner, 05's fourteen users, capacity and
architectures, 06's defences, 07's many-user learners, 09's second learner). Not covered, because
the lessons build them in their own cells: 05's high-resolution model (gpu, paper), 06's
fine-tunings (not cached), 08's shadow models and subsampled models. docs/instructors.md gives the
recipe for a class.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import stat
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, TextIO

from anw_helpers.profiles import (
    DEFENCE_VARIANTS,
    Profile,
    get_profile,
    many_users_config,
    multi_user_config,
)
from anw_helpers.recipe import LearnerConfig

__all__ = ["LessonModel", "lesson_models", "pretrain", "share_cache", "main"]


@dataclass(frozen=True)
class LessonModel:
    """One model a lesson loads with ``train_learner(config)``: the first lesson that loads it."""

    lesson: str
    what: str
    config: LearnerConfig


def lesson_models(profile: Profile, with_dp: Optional[bool] = None) -> list[LessonModel]:
    """Every ``train_learner`` config lessons 03-09 load in ``profile``, once each.

    ``with_dp`` (default: whether Opacus is installed, as lesson 06 decides) keeps DP-SGD defences.
    """
    if with_dp is None:
        with_dp = importlib.util.find_spec("opacus") is not None
    cfg, plans = profile.config, profile.lessons
    rows = [
        LessonModel("03", "the learner (one user)", cfg),
        LessonModel("05", "fourteen users", multi_user_config(cfg)),
    ]
    width = cfg.recipe.width
    rows += [
        LessonModel("05", f"capacity: {m} width {w or width}", cfg.with_(model=m, width=w or width))
        for m, w in plans.capacity
    ]
    rows += [
        LessonModel("05", f"architecture: {name}", cfg.with_(model=name))
        for name in plans.architectures
    ]
    if plans.high_res is not None:  # Fig. 2i: CUB-200, explicit profiles only
        rows.append(LessonModel("05", "high resolution: CUB-200", plans.high_res))
    for name in plans.defences:
        changes = DEFENCE_VARIANTS[name][0]
        if with_dp or "dp_noise_multiplier" not in changes:
            rows.append(LessonModel("06", f"defence: {name}", cfg.with_(**changes)))
    many = plans.many_users
    base = cfg.with_(n_train=many.n_train, batch_size=many.batch_size)
    for fraction in many.fractions:
        for own in (False, True):
            rows.append(
                LessonModel(
                    "07",
                    f"f = {fraction}, {'own' if own else 'same'} LCT",
                    many_users_config(base, many.n_users, fraction, user_specific_color_space=own),
                )
            )
    if profile.lessons.extra_learners:  # lesson 09's RUN_SECOND_LEARNER
        rows.append(
            LessonModel("09", "second learner (seed 2, key 300)", cfg.with_(seed=2, keys=(300.0,)))
        )
    unique, seen = [], set()
    for row in rows:
        if row.config not in seen:
            seen.add(row.config)
            unique.append(row)
    return unique


def _is_cached(config: LearnerConfig) -> bool:
    from anw_helpers.paths import cache_dir
    from anw_helpers.train import learner_data, model_cache_key

    return (
        cache_dir("models")
        / f"{config.recipe.model}-{model_cache_key(config, learner_data(config))}.pt"
    ).exists()


def pretrain(
    models: Sequence[LessonModel],
    train: Optional[Callable[..., object]] = None,
    only_list: bool = False,
    out: Optional[TextIO] = None,
) -> dict[str, int]:
    """Load-or-train each model (``train``: default ``train_learner``), printing one line per model
    and a summary; returns the counts {"cached", "trained", "missing", "failed"}. A failing model is
    reported and
    the others still run. ``only_list`` trains nothing and counts what is missing."""
    out = out or sys.stdout
    if train is None:
        from anw_helpers.train import train_learner as train
    counts = {"cached": 0, "trained": 0, "missing": 0, "failed": 0}
    start = time.perf_counter()
    for i, row in enumerate(models, 1):
        head = f"[{i}/{len(models)}] lesson {row.lesson}: {row.what} ({row.config.recipe.model})"
        if only_list:
            state = "cached" if _is_cached(row.config) else "missing"
            counts[state] += 1
            print(f"{head}: {state}", file=out, flush=True)
            continue
        print(f"{head} ...", file=out, flush=True)
        t = time.perf_counter()
        try:
            learner = train(row.config, progress=True)
        except Exception as exc:  # noqa: BLE001 - report it and go on with the other models
            counts["failed"] += 1
            print(f"{head}: FAILED ({type(exc).__name__}: {exc})", file=out, flush=True)
            continue
        state = "cached" if learner.from_cache else "trained"
        counts[state] += 1
        print(
            f"{head}: {state} in {time.perf_counter() - t:.0f} s, "
            f"test acc {learner.record.test_accuracy:.3f}, "
            f"{Path(learner.cache_path).name}",
            file=out,
            flush=True,
        )
    done = ", ".join(f"{v} {k}" for k, v in counts.items() if v)
    print(
        f"{len(models)} models: {done or 'none'} ({(time.perf_counter() - start) / 60:.1f} min)",
        file=out,
        flush=True,
    )
    return counts


def share_cache(root: Path) -> int:
    """Make the cache folder ``root`` usable by its group: files group-readable (the cache writes
    them 0600), folders group-writable with the setgid bit (new files keep the group) and the sticky
    bit (no one removes or replaces another's files). Returns the number of paths changed."""
    changed = 0
    for path in [root, *root.rglob("*")]:
        mode = path.stat().st_mode
        extra = (stat.S_IRWXG | stat.S_ISGID | stat.S_ISVTX) if path.is_dir() else stat.S_IRGRP
        if mode | extra != mode:
            path.chmod(stat.S_IMODE(mode) | extra)
            changed += 1
    return changed


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command line: pre-train (or list) a profile's models; exit 1 when one failed."""
    parser = argparse.ArgumentParser(
        prog="python -m tools.pretrain",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--profile", default=None, help="ci, cpu, gpu or paper (default: $ANW_PROFILE or auto)"
    )
    parser.add_argument(
        "--list", action="store_true", help="say which models are cached; train nothing"
    )
    parser.add_argument(
        "--share", action="store_true", help="then make $ANW_CACHE usable by its group"
    )
    args = parser.parse_args(argv)
    try:
        profile = get_profile(args.profile)
    except ValueError as exc:
        parser.error(str(exc))
    from anw_helpers.paths import cache_dir

    root = cache_dir()
    print(
        f"profile {profile.name!r}, cache {root} (ANW_CACHE), "
        f"data {os.environ.get('ANW_DATA', 'default')}"
    )
    counts = pretrain(lesson_models(profile), only_list=args.list)
    if args.share:
        print(f"{share_cache(root)} paths in {root} made usable by group {root.group()}")
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
