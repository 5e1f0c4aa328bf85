"""Pruning and fine-tuning against the key (paper Sec. 5.3, Fig. 3g-h): a sweep job.

    python -m tools.sweep tools/grids/ci_fig3gh_prune_finetune.toml

The paper's claim: "We follow common settings [45] and find in Figure 3g and Figure 3h that LCT is
also resilient to these defense methods." Lesson 06 (sections 4 and 5) attacks lesson 03's trained
learner after training; this job does the same, with the same helper calls, on each learner of the
grid, so that docs/reproduction.md's row fig-3g-h rests on seeds rather than on one run.

For one learner (``train.train_learner``: the model cache, so the `ci` seeds' learners load), the
job measures eq. 6 (``verify.verify_users`` for every watermarking user, ``verify.grid_search`` for
the held-out user) and the test accuracy at each *stage*:

* ``trained``: the learner as trained, the reference for the accuracy a defence costs;
* ``pruned``: global L1 magnitude pruning (``defences.prune_global_l1``, Fig. 3g) at each amount of
  ``defences.PRUNE_AMOUNTS`` (lesson 06's 0.3, 0.5, 0.7, 0.9), forward passes only;
* ``fine-tuned``: ``defences.fine_tune`` (Fig. 3h) at each (epochs, lr) of the profile's
  ``lessons.fine_tunes`` (lesson 06's: 5 epochs at lr 0.01 in `ci`), on the learner's training set
  without any user's photos (lesson 06's generous learner), seeded with the learner's seed (seed 0
  is lesson 06's fine-tune).

Each stage records the test accuracy, the sparsity, each user's k_hat, match (|k_hat - k*| < tau)
and loss gap, and the held-out user's k_hat (does it match the key it never trained on: a false
match; is it at 0). One record per learner: :func:`tools.sweep.append_job_record` (the
trained learner's usual eq. 6 fields, so the sweep's report reads it like any learner's) plus the
``prune_finetune`` block; ``tools/reproduction.py`` (metric ``key_survives_pruning_fine_tuning``)
reads the block.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Optional

import torch
from torch import Tensor, nn

from anw_helpers import defences, verify
from anw_helpers.recipe import LearnerConfig
from anw_helpers.users import LearnerData
from tools import sweep

__all__ = ["JOB", "fine_tune_set", "stage_fields", "attack_stages", "prune_finetune_job"]

#: How a grid names this job.
JOB = "tools.jobs.prune_finetune:prune_finetune_job"


def fine_tune_set(data: LearnerData) -> tuple[Tensor, Tensor]:
    """The clean images a learner fine-tunes on (Fig. 3h; lesson 06, section 5): its training set
    without any watermarking user's photos, (uint8 images, labels)."""
    keep = torch.ones(len(data.train.labels), dtype=torch.bool)
    for user in data.users:
        keep[user.indices] = False
    if not keep.any():
        raise ValueError(
            "the training set holds only users' photos: no clean image to fine-tune on."
        )
    return data.train.images[keep], data.train.labels[keep]


def stage_fields(
    model: nn.Module,
    data: LearnerData,
    stage: str,
    amount: float = 0.0,
    fine_tune: Optional[tuple[int, float]] = None,
) -> dict:
    """One stage of the attack on ``model`` (Sec. 5.3, Fig. 3g-h): its test accuracy, sparsity
    (``defences.sparsity``), each user's eq. 6 k_hat, match and loss gap (None for a user without
    a key), and the held-out user's k_hat (matching its key: a false match; at 0: as expected)."""
    from anw_helpers.train import accuracy

    verdicts = verify.verify_users(model, data.users)
    keys = [u.key for u in data.users]
    k_hat = [float(k) for k in verdicts.k_hat]
    held = data.held_out
    held_k_hat = verify.grid_search(model, held.clean(), held.labels).best
    return {
        "stage": stage,
        "amount": float(amount),
        "epochs": None if fine_tune is None else int(fine_tune[0]),
        "lr": None if fine_tune is None else float(fine_tune[1]),
        "test_accuracy": accuracy(model, data.test.images, data.test.labels),
        "sparsity": defences.sparsity(model),
        "k_hat": k_hat,
        "match": [None if k is None else verify.match(h, k) for h, k in zip(k_hat, keys)],
        "gap": [None if k is None else verdicts.result(i).gap(k) for i, k in enumerate(keys)],
        "held_out_k_hat": held_k_hat,
        "held_out_match": None if held.key is None else verify.match(held_k_hat, held.key),
        "held_out_at_zero": verify.match(held_k_hat, 0.0),
    }


def attack_stages(
    model: nn.Module,
    data: LearnerData,
    amounts: Sequence[float],
    fine_tunes: Sequence[tuple[int, float]],
    seed: int,
) -> list[dict]:
    """:func:`stage_fields` of the trained ``model``, of it pruned at each of ``amounts`` (Fig. 3g)
    and fine-tuned at each (epochs, lr) of ``fine_tunes`` on :func:`fine_tune_set` (Fig. 3h,
    seeded with ``seed``), each with the seconds its attack and measures took. ``model`` is not
    changed (both defences return copies)."""

    def timed(attack: Callable[[], nn.Module], *args: Any, **kwargs: Any) -> dict:
        start = time.perf_counter()
        fields = stage_fields(attack(), data, *args, **kwargs)
        return {**fields, "seconds": time.perf_counter() - start}

    stages = [timed(lambda: model, "trained")]
    for amount in amounts:
        stages.append(timed(partial(defences.prune_global_l1, model, amount), "pruned", amount))
    if fine_tunes:
        images, labels = fine_tune_set(data)
    for epochs, lr in fine_tunes:
        tune = partial(defences.fine_tune, model, images, labels, epochs, lr, seed=seed)
        stages.append(timed(tune, "fine-tuned", fine_tune=(epochs, lr)))
    return stages


def prune_finetune_job(
    config: LearnerConfig,
    results: str,
    profile: str = "",
    label: str = "",
    threads: Optional[int] = None,
    retrain: bool = False,
) -> dict:
    """Train (or load) a learner, then prune it at lesson 06's amounts and fine-tune it on clean
    images as lesson 06 does, verifying every user (eq. 6) at each stage (Sec. 5.3, Fig. 3g-h);
    append one record.

    ``sweep.run_job``'s signature. The record: the trained learner's sweep fields
    (``sweep.append_job_record``) and the ``prune_finetune`` block: the amounts, the profile's
    fine-tunings, how many clean images the fine-tuning used and one entry per stage
    (:func:`attack_stages`).
    """
    from anw_helpers.profiles import get_profile
    from anw_helpers.train import train_learner

    if threads:
        torch.set_num_threads(threads)
    start = time.perf_counter()
    fine_tunes = [(int(e), float(lr)) for e, lr in get_profile(profile or None).lessons.fine_tunes]
    learner = train_learner(config, progress=False, retrain=retrain)
    amounts = [float(a) for a in defences.PRUNE_AMOUNTS]
    stages = attack_stages(learner.model, learner.data, amounts, fine_tunes, config.recipe.seed)
    block = {
        "job": JOB,
        "prune_finetune": {
            "amounts": amounts,
            "fine_tunes": [list(f) for f in fine_tunes],
            "fine_tune_images": len(fine_tune_set(learner.data)[1]),
            "fine_tune_seed": config.recipe.seed,
            "stages": stages,
        },
    }
    record = sweep.append_job_record(results, config, profile, label, learner, start, block)
    return sweep._jsonable(record)
