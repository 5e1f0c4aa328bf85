"""Many users, each in her own tilted rotation (lesson 07, beyond the paper): a sweep job.

    python -m tools.sweep tools/grids/ci_fig5a_tilted.toml

Fig. 5a's own-LCT condition (Sec. 5.4) gives each watermarking user a colour space
T_u ~ U(-1, 1), whose marks clip most of her pixels (lesson 07 prints the cost). Lesson 07 offers a
gentler user-specific space: YIQ with its luma axis tilted by ``TILT`` degrees (lesson 10's
``adaptive.tilted_color_space``) towards a direction of the I-Q plane that only the user knows
(``adaptive.tilt_azimuths``, the lesson's seeded draw). This job asks whether such spaces keep many
users' marks apart in one learner as the paper's do ("above 80 %" matched with all users
watermarking). A ``DataSetting`` can only name U(-1, 1) spaces (``color_space_seeds``), so the job
builds the data itself: the users, photos and keys that the grid's config draws (exactly what
``train.learner_data`` would build), each watermarking user marking in her tilted space. It trains
the learner (``train.train_learner`` with ``data=``), verifies every user in her own space (eq. 6,
``sweep.learner_fields``: the default job's verification) and appends one record per learner with
a ``tilted`` block: each user's azimuth, the median PSNR and clipped share of her marked photos
(``color.mark_cost``) and the held-out user's k_hat in her own tilted space.

The model cache cannot confuse this learner with a YIQ or U(-1, 1) one of the same config: its key
covers the training set's identity, which names each watermarking user's colour space
(``users.watermarked_training_set``); tests/test_jobs_tilted.py checks it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Optional

from anw_helpers import adaptive, verify
from anw_helpers.color import mark_cost
from anw_helpers.datasets import ImageSet
from anw_helpers.recipe import LearnerConfig
from anw_helpers.users import LearnerData, build_learner_data
from tools import sweep
from tools.jobs.marks import TILT

__all__ = ["TILT", "tilted_spaces", "tilted_learner_data", "tilted_block", "tilted_job"]


def tilted_spaces(
    keys: Sequence[Optional[float]], tilt: float, seed: int
) -> tuple[list, list[Optional[float]]]:
    """Each user's colour space and azimuth (degrees): ``adaptive.tilted_color_space(tilt, a_u)``
    for a watermarking user (key not None), None (no mark) otherwise; the azimuths are
    ``adaptive.tilt_azimuths(len(keys), seed)``, drawn for every user as lesson 07 draws them."""
    drawn = adaptive.tilt_azimuths(len(keys), seed).tolist()
    azimuths = [None if k is None else a for k, a in zip(keys, drawn)]
    spaces = [None if a is None else adaptive.tilted_color_space(tilt, a) for a in azimuths]
    return spaces, azimuths


def tilted_learner_data(
    config: LearnerConfig, train: ImageSet, test: ImageSet, tilt: float = TILT
) -> tuple[LearnerData, list[Optional[float]]]:
    """The learner's data of ``config`` (Sec. 5.1, 5.4: the same users, photos, keys, held-out user
    and test set as ``train.learner_data``) with each watermarking user marking in her own tilted
    space (:func:`tilted_spaces`, seeded by the recipe's seed); and the users' azimuths."""
    d = config.data
    if any(s is not None for s in d.color_space_seeds):
        raise ValueError(
            "the tilted job draws each user's colour space itself; set color_space_seeds to none "
            f"for every user (got {list(d.color_space_seeds)})."
        )
    if d.dataset != "cifar10":
        raise ValueError(f"the tilted job trains on CIFAR-10 only; got dataset {d.dataset!r}.")
    seed = config.recipe.seed
    spaces, azimuths = tilted_spaces(d.keys, tilt, seed)
    data = build_learner_data(
        train, test, d.n_train, d.user_sizes, d.keys, spaces, d.held_out_size, d.n_test, seed
    )
    return data, azimuths


def tilted_block(
    model: Any, data: LearnerData, azimuths: list[Optional[float]], tilt: float, seed: int
) -> dict[str, Any]:
    """The record's ``tilted`` block: the tilt, the azimuths' seed, per user her azimuth, the median
    PSNR of her marked photos against the originals and the share of her pixels clipped
    (``color.mark_cost``; None for a user who does not watermark), and the held-out user's k_hat
    when she is searched in her own tilted space (eq. 6; expected 0: photos never trained on)."""
    costs = [
        None if u.key is None else mark_cost(u.clean(), u.key, u.color_space) for u in data.users
    ]
    held = data.held_out
    held_k_hat = verify.grid_search(
        model, held.clean(), held.labels, color_space=held.color_space
    ).best
    return {
        "tilt": tilt,
        "azimuth_seed": seed,
        "azimuths": azimuths,
        "psnr": [None if c is None else c.psnr for c in costs],
        "clipped": [None if c is None else c.clipped for c in costs],
        "held_out_k_hat_own_space": held_k_hat,
        "held_out_at_zero_own_space": verify.match(held_k_hat, 0.0),
    }


def tilted_job(
    config: LearnerConfig,
    results: str,
    profile: str = "",
    label: str = "",
    threads: Optional[int] = None,
    retrain: bool = False,
) -> dict:
    """A sweep job (``job = "tools.jobs.tilted:tilted_job"``): train (or load) ``config``'s learner
    on :func:`tilted_learner_data`, verify every user in her own tilted space (eq. 6) and append
    one record (``sweep.append_job_record``: eq. 6's fields and the :func:`tilted_block`, with
    ``sweep.here_fields`` so that a rerun skips it); returns the record."""
    import torch

    from anw_helpers.datasets import load_cifar10
    from anw_helpers.train import train_learner

    if threads:
        torch.set_num_threads(threads)
    start = time.perf_counter()
    data, azimuths = tilted_learner_data(config, load_cifar10("train"), load_cifar10("test"))
    learner = train_learner(config, data=data, progress=False, retrain=retrain)
    block = tilted_block(learner.model, learner.data, azimuths, TILT, config.recipe.seed)
    return sweep.append_job_record(
        results, config, profile, label, learner, start, {"tilted": block}
    )
