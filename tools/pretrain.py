"""Pre-train every model the lessons of a profile load, so a class finds them cached (issue 14).

    python -m tools.pretrain --profile ci            # train what is missing, one line per model
    python -m tools.pretrain --profile ci --list     # only say which models are cached or missing
    python -m tools.pretrain --profile ci --share    # then make $ANW_CACHE usable by the group
    python -m tools.pretrain --profile ci --archive anw-ci.tar   # then write them into one archive

Models are cached under ``$ANW_CACHE/models`` by their settings and the *canonical* CIFAR-10
selection (``ImageSet.identity``), not by pixels: a model trained here on the offline JPEG copy
loads for a student whose CIFAR-10 came from torchvision, and back. The list mirrors the lessons'
own calls to ``train_learner`` (lesson 03's learner, 05's fourteen users, capacity and
architectures, 06's defences, 07's many-user learners, 11's one-subject and second learners, 10's
learners; 05's high-resolution model where the profile trains it) and to ``train_model`` (08's
shadow and subsampled models). Not covered: 06's fine-tunings (not cached). Lessons 08, 10 and 11
draw their own users: :func:`lesson_groups` and the ``_lesson*`` builders repeat those cells
(tests/test_pretrain.py checks the lessons still hold the lines they repeat). docs/instructors.md
gives the recipe for a class.

``--archive OUT.tar`` then writes every model file the run loaded or trained into one tar with a
``manifest.json`` (each file's name, sha256, size, device type and precision; the profile and torch
version): a lesson given ``ANW_PRETRAINED=OUT.tar`` (a path or an http(s) URL) installs it into its
model cache instead of training (``anw_helpers.machinery.pretrained``). The cache keys carry the
device type and precision, so an archive serves only runtimes that train like the one that built it.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import io
import json
import os
import stat
import sys
import tarfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, TextIO, Union

from anw_helpers.profiles import (
    DEFENCE_VARIANTS,
    Profile,
    get_profile,
    many_users_config,
    multi_user_config,
)
from anw_helpers.recipe import LearnerConfig

__all__ = [
    "LessonModel",
    "ModelGroup",
    "lesson_models",
    "lesson_groups",
    "pretrain",
    "share_cache",
    "write_archive",
    "main",
]


@dataclass(frozen=True)
class LessonModel:
    """One model a lesson loads with ``train_learner(config)``: the first lesson that loads it.

    ``data`` builds the lesson's own users where it does not train on ``config.data`` (lessons 10
    and 11: ``train_learner(config, data=...)``), named by ``data_name``."""

    lesson: str
    what: str
    config: LearnerConfig
    data_name: str = ""
    data: Optional[Callable[[], Any]] = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class ModelGroup:
    """Models a lesson trains with ``train_model`` (lesson 08): ``build()`` loads or trains them
    as the lesson does and returns them (each with ``from_cache`` and ``cache_path``)."""

    lesson: str
    what: str
    build: Callable[[], list] = field(compare=False, repr=False)


Row = Union[LessonModel, ModelGroup]


def lesson_models(profile: Profile, with_dp: Optional[bool] = None) -> list[LessonModel]:
    """Every ``train_learner`` config lessons 03-10 load in ``profile``, once each.

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
    if profile.lessons.extra_learners:  # lesson 11's RUN_ONE_SUBJECT_LEARNER, RUN_SECOND_LEARNER
        rows.append(
            LessonModel(
                "11",
                "one-subject learner (dogs)",
                cfg,
                "lesson 11: one subject",
                functools.partial(_lesson11_one_subject, cfg),
            )
        )
        rows.append(
            LessonModel("11", "second learner (seed 2, key 300)", cfg.with_(seed=2, keys=(300.0,)))
        )
    rows += [
        LessonModel(
            "10",
            f"{name!r} learner",
            plans.adaptive.config(cfg, name),
            "lesson 10: marked users",
            functools.partial(_lesson10_data, cfg),
        )
        for name in plans.adaptive.recipes
    ]
    unique, seen = [], set()
    for row in rows:
        if (row.config, row.data_name) not in seen:
            seen.add((row.config, row.data_name))
            unique.append(row)
    return unique


def lesson_groups(profile: Profile) -> list[ModelGroup]:
    """Lesson 08's models trained with ``train_model``: its users' shadow models and (where the
    profile has a memorisation plan) the subsampled models of both pools."""
    from anw_helpers.memorisation import MEMORISATION_PLANS

    groups = [ModelGroup("08", "shadow models", functools.partial(_lesson08_shadows, profile))]
    if profile.name in MEMORISATION_PLANS:
        groups.append(
            ModelGroup("08", "subsampled models", functools.partial(_lesson08_subsampled, profile))
        )
    return groups


# ------------------------------------------------------- the lessons' own data (cells repeated)
@functools.lru_cache(maxsize=2)
def _lesson10_data(config: LearnerConfig) -> Any:
    """Lesson 10's training data: ``marked_users_data`` as its first cell calls it."""
    from anw_helpers import adaptive
    from anw_helpers.datasets import load_cifar10

    key, tilt, pattern_seed = 60.0, 20.0, 7  # the lesson's KEY, TILT, PATTERN_SEED
    return adaptive.marked_users_data(
        load_cifar10("train"),
        load_cifar10("test"),
        n_train=config.data.n_train,
        user_size=int(config.data.user_sizes[0]),
        key=key,
        own_space=adaptive.tilted_color_space(tilt),
        pattern_seed=pattern_seed,
        n_test=config.data.n_test,
        seed=config.recipe.seed,
    ).data


def _lesson11_one_subject(config: LearnerConfig) -> Any:
    """Lesson 11's one-subject learner's data (section f, lesson 09's appendix): a user whose
    photos are all dogs, drawn by the lesson's own call (``calibration.one_subject_data``)."""
    from anw_helpers.calibration import one_subject_data
    from anw_helpers.datasets import load_cifar10

    return one_subject_data(config, "dog", load_cifar10("train"), load_cifar10("test"))[0]


def _lesson08_shadows(profile: Profile) -> list:
    """Lesson 08's shadow models (section 2): one per member user drawn beside lesson 05's
    learner's users, with the learner's recipe."""
    import torch

    from anw_helpers import membership
    from anw_helpers.train import train_learner
    from anw_helpers.users import make_users

    n_users, n_known = 10, 100  # the lesson's N_USERS, N_KNOWN
    multi = train_learner(multi_user_config(profile.config), progress=False)
    sizes = [len(u) for u in multi.data.users[:n_users]]
    in_a_user = torch.cat([u.indices for u in multi.data.users])
    members = make_users(
        multi.data.train,
        sizes + [n_known],
        [None] * (n_users + 1),
        seed=80,
        exclude=in_a_user,
        prefix="member",
    )[:-1]
    recipe, classes = profile.config.recipe, multi.data.train.classes
    return [
        membership.train_shadow_model(u.images, u.labels, recipe, classes, name=u.name)
        for u in members
    ]


def _lesson08_subsampled(profile: Profile) -> list:
    """Lesson 08's subsampled models (section 5, Sec. 5.6): complementary pairs on a clean and a
    watermarked pool, fine-tuned from lesson 03's learner or trained from scratch as planned."""
    import torch

    from anw_helpers import memorisation
    from anw_helpers.datasets import ImageSet, appears_in, load_cifar10
    from anw_helpers.train import train_learner
    from anw_helpers.users import make_users, watermark_uint8

    plan = memorisation.memorisation_plan(profile.name)
    learner = train_learner(profile.config, progress=False)
    data03, train_split = learner.data, load_cifar10("train")
    source, start_from = train_split, None
    if plan.fine_tune:
        seen = appears_in(
            train_split.images, torch.cat([data03.train.images, data03.users[0].images])
        )
        source, start_from = train_split.subset((~seen).nonzero().squeeze(1)), learner.model
    mem_user, rest = make_users(
        source, [50, plan.pool_size - 50], [180.0, None], seed=8, prefix="mem"
    )
    labels = torch.cat([mem_user.labels, rest.labels])
    pools = [
        ImageSet(torch.cat([first, rest.images]), labels, source.classes)
        for first in (mem_user.images, watermark_uint8(mem_user.images, mem_user.key))
    ]
    masks = memorisation.complementary_splits(plan.pool_size, plan.n_pairs, seed=8)
    recipe = plan.recipe(profile.config.recipe)
    return [
        model
        for pool in pools
        for model in memorisation.train_subsampled_models(
            pool, masks, recipe, data03.test, start_from=start_from
        )
    ]


# --------------------------------------------------------------------------------- pretraining
def _cache_file(row: LessonModel) -> Path:
    from anw_helpers.machinery.paths import cache_dir
    from anw_helpers.train import learner_data, model_cache_key

    data = row.data() if row.data is not None else learner_data(row.config)
    return cache_dir("models") / f"{row.config.recipe.model}-{model_cache_key(row.config, data)}.pt"


def _run(row: Row, train: Callable[..., Any]) -> list:
    """Load or train one row's models; each has ``from_cache``, ``cache_path`` and a record."""
    if isinstance(row, ModelGroup):
        return row.build()
    if row.data is not None:
        return [train(row.config, progress=True, data=row.data())]
    return [train(row.config, progress=True)]


def _done_line(models: list, seconds: float) -> str:
    """One report line's tail: cached or trained, time, test accuracy, file(s)."""
    new = sum(not m.from_cache for m in models)
    if len(models) == 1:
        m = models[0]
        return (
            f"{'trained' if new else 'cached'} in {seconds:.0f} s, test acc "
            f"{m.record.test_accuracy:.3f}, {Path(m.cache_path).name}"
        )
    return f"{len(models)} models ({len(models) - new} cached, {new} trained) in {seconds:.0f} s"


def pretrain(
    models: Sequence[Row],
    train: Optional[Callable[..., object]] = None,
    only_list: bool = False,
    out: Optional[TextIO] = None,
    files: Optional[list[Path]] = None,
) -> dict[str, int]:
    """Load-or-train each row (``train``: default ``train_learner``; a :class:`ModelGroup` builds
    its own), printing one line per row and a summary; returns the counts {"cached", "trained",
    "missing", "failed"} (of rows: a group counts as trained when it trained any model). A failing
    row is reported and the others still run. ``only_list`` trains nothing and counts what is
    missing (a group's files are known only once it is built: it is left out). ``files``, when
    given, receives the cache file of every model loaded or trained."""
    out = out or sys.stdout
    if train is None:
        from anw_helpers.train import train_learner as train
    counts = {"cached": 0, "trained": 0, "missing": 0, "failed": 0}
    start = time.perf_counter()
    for i, row in enumerate(models, 1):
        kind = f" ({row.config.recipe.model})" if isinstance(row, LessonModel) else ""
        head = f"[{i}/{len(models)}] lesson {row.lesson}: {row.what}{kind}"
        if only_list:
            if isinstance(row, ModelGroup):
                print(f"{head}: not listed (known once built)", file=out, flush=True)
                continue
            state = "cached" if _cache_file(row).exists() else "missing"
            counts[state] += 1
            print(f"{head}: {state}", file=out, flush=True)
            continue
        print(f"{head} ...", file=out, flush=True)
        t = time.perf_counter()
        try:
            done = _run(row, train)
        except Exception as exc:  # noqa: BLE001 - report it and go on with the other models
            counts["failed"] += 1
            print(f"{head}: FAILED ({type(exc).__name__}: {exc})", file=out, flush=True)
            continue
        counts["trained" if any(not m.from_cache for m in done) else "cached"] += 1
        if files is not None:
            files.extend(Path(m.cache_path) for m in done)
        print(f"{head}: {_done_line(done, time.perf_counter() - t)}", file=out, flush=True)
    summary = ", ".join(f"{v} {k}" for k, v in counts.items() if v)
    print(
        f"{len(models)} models: {summary or 'none'} ({(time.perf_counter() - start) / 60:.1f} min)",
        file=out,
        flush=True,
    )
    return counts


def write_archive(files: Sequence[Path], out: Path, profile: str) -> dict:
    """Write ``files`` (cache files, each once) into the tar ``out`` with a ``manifest.json``
    (per file: name, sha256, size, device, precision; the profile, torch version, CACHE_VERSION),
    atomically; returns the manifest. The device and precision are this runtime's
    (``train.trained_with``): the files' cache keys hold them, so they are the files'."""
    import torch

    from anw_helpers.machinery.checkpoint import CACHE_VERSION
    from anw_helpers.machinery.paths import atomic_write
    from anw_helpers.machinery.pretrained import MANIFEST, file_sha256
    from anw_helpers.train import trained_with

    unique = list(dict.fromkeys(Path(f) for f in files))
    with_ = trained_with()
    entries = [
        {"name": f.name, "sha256": file_sha256(f), "size": f.stat().st_size, **with_}
        for f in unique
    ]
    manifest = {
        "profile": profile,
        "torch": torch.__version__,
        "cache_version": CACHE_VERSION,
        **with_,
        "files": entries,
    }

    def write(handle: Any) -> None:
        with tarfile.open(fileobj=handle, mode="w") as tar:
            text = json.dumps(manifest, indent=1).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode, info.mtime = len(text), 0o644, int(time.time())
            tar.addfile(info, io.BytesIO(text))
            for path in unique:
                tar.add(path, arcname=path.name, recursive=False, filter=_plain)

    atomic_write(Path(out), write)
    return manifest


def _plain(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """A member with no owner's names or ids and mode 0644."""
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = 0o644
    return info


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
    parser.add_argument(
        "--archive",
        type=Path,
        metavar="OUT.tar",
        help="then write every model the run loaded or trained into OUT.tar, with a manifest",
    )
    args = parser.parse_args(argv)
    if args.archive is not None and args.list:
        parser.error("--archive needs the models themselves: leave out --list")
    try:
        profile = get_profile(args.profile)
    except ValueError as exc:
        parser.error(str(exc))
    from anw_helpers.machinery.paths import cache_dir

    root = cache_dir()
    print(
        f"profile {profile.name!r}, cache {root} (ANW_CACHE), "
        f"data {os.environ.get('ANW_DATA', 'default')}"
    )
    files: list[Path] = []
    rows: list[Row] = [*lesson_models(profile), *lesson_groups(profile)]
    counts = pretrain(rows, only_list=args.list, files=files)
    if args.share:
        print(f"{share_cache(root)} paths in {root} made usable by group {root.group()}")
    if args.archive is not None:
        manifest = write_archive(files, args.archive, profile.name)
        size = args.archive.stat().st_size / 2**20
        print(
            f"{args.archive}: {len(manifest['files'])} models, {size:.1f} MiB, for "
            f"{manifest['device']}/{manifest['precision']} runtimes"
            + (f"; {counts['failed']} row(s) FAILED and are not in it" if counts["failed"] else "")
        )
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
