"""Lesson 11 (lesson 09's appendix), section f, over seeds: which matching of the reference
rescues innocent dog owners (it was lesson 09's section 4f when the records were made).

A learner with lesson 03's recipe trains on a user whose photos all show one subject (dogs,
``calibration.one_subject_data``); innocent users of never-seen dog photos are then judged by eq. 6
(Sec. 4.2) and by the ownership test against all classes, the same class, and the same class and
similar colour (``calibration.one_subject_check``). One record per learner, for
``tools/grids/ci_lesson09_strata.toml``.
"""

from __future__ import annotations

import math
import time
from typing import Any, Optional

from anw_helpers import calibration, stats, verify
from anw_helpers.recipe import LearnerConfig
from tools import sweep

SUBJECT = "dog"
ALPHAS = (0.05, 0.01)


def _finite(values: Any) -> list[Optional[float]]:
    """JSON has no NaN: an inconclusive test is written as null."""
    return [None if math.isnan(float(v)) else float(v) for v in values]


def strata_record(check: calibration.OneSubjectCheck, key: float, owner_size: int) -> dict:
    """The measured part of one record: the owner's verdict, the innocents' k_hat, and per arm the
    false accusations at each level of :data:`ALPHAS` with their Clopper-Pearson intervals."""
    n = len(check.innocent_k_hat)
    first = float(check.innocent_k_hat[0])
    accused = {
        arm: {
            str(a): {"count": r.count, "low": r.low, "high": r.high}
            for a, r in ((a, check.rate(arm, a)) for a in ALPHAS)
        }
        for arm in calibration.ARMS
    }
    return {
        "subject": SUBJECT,
        "users": [f"{SUBJECT} owner"],
        "user_keys": [key],
        "user_sizes": [owner_size],
        "k_hat": [check.owner_k_hat],
        "match": [verify.match(check.owner_k_hat, key)],
        "gap": [check.owner_gap],
        "owner_p": check.owner_p,
        # the sweep's held-out fields: the first innocent dog owner (never seen, not marked)
        "held_out_key": None,
        "held_out_k_hat": first,
        "held_out_at_zero": verify.match(first, 0.0),
        "innocent_users": n,
        "innocent_k_hat": [float(k) for k in check.innocent_k_hat],
        "innocent_near_key": int((verify.circular_distance(check.innocent_k_hat, key) <= 30).sum()),
        "accused": accused,
        "allowed": {str(a): stats.allowed_rejections(n, a) for a in ALPHAS},
        "p_values": {arm: _finite(p) for arm, p in check.p_values.items()},
    }


def one_subject_job(
    config: LearnerConfig,
    results: str,
    profile: str = "",
    label: str = "",
    threads: Optional[int] = None,
    retrain: bool = False,
) -> dict:
    """Train (or load) the one-subject learner of ``config``, judge its innocent dog owners in every
    arm (``calibration.one_subject_check``) and append ONE record to ``results``."""
    import torch

    from anw_helpers.datasets import load_cifar10
    from anw_helpers.train import train_learner

    if threads:
        torch.set_num_threads(threads)
    start = time.perf_counter()
    test = load_cifar10("test")
    data, owner = calibration.one_subject_data(config, SUBJECT, load_cifar10("train"), test)
    learner = train_learner(config, data=data, progress=False, retrain=retrain)
    check = calibration.one_subject_check(learner.model, owner, test)
    r = learner.record
    record = {
        "config": config.flat(),
        **sweep.here_fields(profile, label),
        **strata_record(check, float(owner.key), len(owner)),
        "train_accuracy": r.train_accuracy,
        "test_accuracy": r.test_accuracy,
        "from_cache": learner.from_cache,
        "wall_seconds": time.perf_counter() - start,
    }
    sweep.append_record(results, record)
    return record
