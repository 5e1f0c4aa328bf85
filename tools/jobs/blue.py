"""The blue-channel watermark in a trained learner (paper Sec. 5.3, Fig. 4): a sweep job.

    python -m tools.sweep tools/grids/ci_fig4_blue.toml

The paper's claim: "For tau = 0.1 and watermark signatures (the blue channel's intensity), 0.1,
0.3, 0.5, 0.12, 0.28, 0.44 are used in inference on selected pixels, matching the user's watermark
signature." Fig. 4's caption names 0.1, 0.3 and 0.5 as the intensities users mark with; the course
reads 0.12, 0.28 and 0.44 as what inference found for them (each within tau = 0.1 of its
signature, all multiples of 0.02), so the users here mark with :data:`INTENSITIES` = 0.1, 0.3, 0.5,
and the paper's inferred values are :data:`PAPER_S_HAT`, for comparison only.

One learner per grid row carries three users, one per intensity (like lesson 05's multi-user
learner): the grid's ``user_sizes`` gives their sizes and its ``keys`` must be ``"none"`` (no hue
mark; a LearnerConfig cannot express intensities, so the job fixes them and records them). The
users, the training set, the held-out user and the test set are drawn exactly as
``train.learner_data`` draws them for the config; then each user's photos in the training set get
the blue-channel mark (``color.blue_channel_watermark``, lesson 02's reading: the blue channel set
to s on one pixel in eight, 128 of CIFAR-10's 1,024) on the user's own seeded positions, and the
learner trains on that (``train.train_learner(config, data=...)``, cached by the marked pixels).

Verification is eq. 6 over intensities (``verify.intensity_search``): each user's clean photos get
the mark at every intensity of ``verify.BLUE_INTENSITIES`` (0 = the clean photos, then 0.02
steps) on the user's positions, s_hat is the lowest mean loss, and the user matches when
|s_hat - s*| < tau = 0.1 (the paper's rule; the 0.02 grid can land on the paper's 0.12, 0.28,
0.44). The held-out user (photos never trained on) is searched with each user's positions and
intensity: the negative, expected s_hat = 0 and no match. The record also carries the sweep's usual
fields (the hue search of eq. 6 on the same users: none of them rotated hues, so ``user_keys`` are
null and the learner's k_hat is expected at 0), so the sweep's report and tools/reproduction.py
read it as any record.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Optional

import torch
from torch import Tensor

from anw_helpers import verify
from anw_helpers.color import blue_channel_watermark, blue_pixel_count, blue_pixel_positions
from anw_helpers.datasets import ImageSet, to_uint8
from anw_helpers.recipe import LearnerConfig
from anw_helpers.users import LearnerData, User
from tools import sweep

__all__ = [
    "INTENSITIES",
    "PAPER_S_HAT",
    "JOB",
    "position_seed",
    "user_positions",
    "blue_marked_data",
    "blue_channel_job",
]

#: The intensities users mark with: Fig. 4's 0.1, 0.3 and 0.5, one user each.
INTENSITIES: tuple[float, ...] = (0.1, 0.3, 0.5)
#: What the paper inferred for them (Sec. 5.3): for comparison, never used to search.
PAPER_S_HAT: tuple[float, ...] = (0.12, 0.28, 0.44)
#: How a grid names this job.
JOB = "tools.jobs.blue:blue_channel_job"


def position_seed(seed: int, user: int) -> int:
    """The seed of user ``user``'s pixel positions in the learner of recipe seed ``seed``: each
    user their own positions (the secret of Sec. 5.3's watermark is positions + intensity)."""
    return 100 * int(seed) + int(user)


def user_positions(height: int, width: int, seed: int) -> Tensor:
    """A user's flat pixel positions: ``color.blue_pixel_count`` of them (one in eight, at most
    512; Sec. 5.3), drawn with ``seed`` (``color.blue_pixel_positions``)."""
    return blue_pixel_positions(height, width, blue_pixel_count(height, width), seed)


def _check_users(config: LearnerConfig, intensities: Sequence[float]) -> None:
    """The config must name one hue-unmarked user per intensity (what the job marks)."""
    keys = config.data.keys
    if len(keys) != len(intensities) or any(k is not None for k in keys):
        raise ValueError(
            f"the blue-channel job marks {len(intensities)} users with intensities "
            f"{list(intensities)}; the grid must give {len(intensities)} user_sizes and keys = "
            f"{['none'] * len(intensities)} (no hue mark); got keys {list(keys)}."
        )


def blue_marked_data(
    data: LearnerData, intensities: Sequence[float], seeds: Sequence[int]
) -> tuple[LearnerData, list[Tensor]]:
    """``data`` with user u's photos in the training set marked with the blue channel set to
    ``intensities[u]`` on positions drawn with ``seeds[u]`` (Sec. 5.3), rounded to uint8 as a
    shared photo is; returns the new data and each user's positions.

    The users' own (clean) photos, the held-out user and the test set are unchanged; the training
    set is a new ImageSet with no ``origin``, so the model cache knows it by its pixels.
    """
    if not (len(data.users) == len(intensities) == len(seeds)):
        raise ValueError(
            f"need one intensity and one position seed per user: {len(data.users)} users, "
            f"{len(intensities)} intensities, {len(seeds)} seeds."
        )
    h, w = data.train.images.shape[-2:]
    images = data.train.images.clone()
    positions = []
    for user, s, seed in zip(data.users, intensities, seeds):
        where = user_positions(h, w, seed)
        images[user.indices] = to_uint8(blue_channel_watermark(user.clean(), float(s), where))
        positions.append(where)
    train = ImageSet(images, data.train.labels.clone(), data.train.classes)
    return LearnerData(train, list(data.users), data.held_out, data.test), positions


def _search(model: torch.nn.Module, user: User, where: Tensor, s_star: float) -> dict:
    """Eq. 6 over intensities for one user's clean photos on ``where``: s_hat, match, gap."""
    result = verify.intensity_search(model, user.clean(), user.labels, where)
    return {"s_hat": result.best, "match": result.matches(s_star), "gap": result.gap(s_star)}


def _blue_fields(
    model: torch.nn.Module,
    data: LearnerData,
    intensities: Sequence[float],
    seeds: Sequence[int],
    positions: Sequence[Tensor],
) -> dict:
    """The record's blue-channel fields: each user's and the held-out user's eq. 6 search."""
    mine = [_search(model, u, p, s) for u, p, s in zip(data.users, positions, intensities)]
    held = [_search(model, data.held_out, p, s) for p, s in zip(positions, intensities)]
    return {
        "job": JOB,
        "blue_intensities": [float(s) for s in intensities],
        "blue_position_seeds": [int(s) for s in seeds],
        "blue_pixels": [len(p) for p in positions],
        "blue_tau": verify.BLUE_TAU,
        "blue_search": [float(s) for s in verify.BLUE_INTENSITIES],
        "blue_s_hat": [m["s_hat"] for m in mine],
        "blue_match": [m["match"] for m in mine],
        "blue_gap": [m["gap"] for m in mine],
        "held_out_blue_s_hat": [m["s_hat"] for m in held],
        "held_out_blue_match": [m["match"] for m in held],
        "paper_s_hat": list(PAPER_S_HAT),
    }


def _hue_fields(model: torch.nn.Module, data: LearnerData) -> dict:
    """The sweep's usual eq. 6 fields (hue slots) for users who rotated no hue: k_hat expected 0."""
    verdicts = verify.verify_users(model, data.users)
    held = data.held_out
    held_k_hat = verify.grid_search(model, held.clean(), held.labels).best
    return {
        "users": [u.name for u in data.users],
        "user_keys": [None] * len(data.users),
        "user_sizes": [len(u) for u in data.users],
        "k_hat": [float(k) for k in verdicts.k_hat],
        "match": [None] * len(data.users),
        "gap": [None] * len(data.users),
        "all_match": None,
        "min_gap": None,
        "held_out_key": None,
        "held_out_k_hat": held_k_hat,
        "held_out_at_zero": verify.match(held_k_hat, 0.0),
    }


def blue_channel_job(
    config: LearnerConfig,
    results: str,
    profile: str = "",
    label: str = "",
    threads: Optional[int] = None,
    retrain: bool = False,
) -> dict:
    """Train (or load) a learner whose users blue-channel watermark (Sec. 5.3, Fig. 4), verify each
    user by eq. 6 over intensities and the held-out user as the negative; append one record.

    ``sweep.run_job``'s signature. The record: ``config.flat()``, the blue fields (per user the
    intensity s*, s_hat, match |s_hat - s*| < 0.1 and loss gap; the held-out user's s_hat and match
    for each user's secret), the sweep's hue fields, accuracies, timings and
    ``sweep.here_fields`` (so a rerun skips the learner).
    """
    from anw_helpers.train import learner_data, train_learner

    if threads:
        torch.set_num_threads(threads)
    start = time.perf_counter()
    _check_users(config, INTENSITIES)
    seeds = [position_seed(config.recipe.seed, u) for u in range(len(INTENSITIES))]
    data, positions = blue_marked_data(learner_data(config), INTENSITIES, seeds)
    learner = train_learner(config, progress=False, retrain=retrain, data=data)
    r = learner.record
    record = {
        "config": config.flat(),
        **_hue_fields(learner.model, data),
        **_blue_fields(learner.model, data, INTENSITIES, seeds, positions),
        "train_accuracy": r.train_accuracy,
        "test_accuracy": r.test_accuracy,
        "user_accuracy": r.user_accuracy,
        "images_per_second": r.images_per_second,
        "train_seconds": sum(r.epoch_seconds),
        "from_cache": learner.from_cache,
        "wall_seconds": time.perf_counter() - start,
        **sweep.here_fields(profile, label),
    }
    sweep.append_record(results, record)
    return sweep._jsonable(record)
