"""Lesson 10's marks at equal cost over a grid of marking fractions (issue 27): one learner per
job, its four users of ``adaptive.marked_users_data`` each marking ``user_sizes[0]`` (a count or a
fraction of ``n_train``), every user judged by every test (``adaptive.mark_verdicts``: eq. 6, the
kept-twin test of Huang, Gong & Reiter, CCS 2024, its false positives over innocent users, and the
set-level membership test against the learner's test split), one record per learner.

    python -m tools.sweep tools/grids/ci_lesson10_fraction.toml

``tools.reproduction`` can then tabulate, per mark and fraction over the seeds, the twin test's
true-positive rate at the 1 % level and the innocent users' false-positive count, each with its
Clopper-Pearson interval (``twins.rejections``), and the unmarked user's membership p-value: the
regime (memorising or generalising) in which membership alone finds everyone.
"""

from __future__ import annotations

import time
from typing import Any, Optional

from anw_helpers import adaptive
from anw_helpers.color import psnr
from anw_helpers.recipe import LearnerConfig
from anw_helpers.users import _resolve_size
from tools import sweep

__all__ = ["KEY", "TILT", "PATTERN_SEED", "LEVEL", "mark_record", "fraction_job"]

#: Lesson 10's settings (notebooks/10_the_learner_fights_back.py): the LCT users' key k*, the own-T
#: user's tilt (degrees), the blend patterns' seed and the level every test is read at.
KEY, TILT, PATTERN_SEED, LEVEL = 60.0, 20.0, 7, 0.01


def _median_psnr(mu: adaptive.MarkedUsers, i: int) -> Optional[float]:
    """Median PSNR (Sec. 4.1) of user ``i``'s published photos against the clean ones; None for
    the unmarked user (no change: infinite)."""
    if mu.marks[i].mark == "none":
        return None
    published, _ = mu.twins(i)
    return float(psnr(mu.data.users[i].clean(), published).median())


def mark_record(mu: adaptive.MarkedUsers, verdicts: list[adaptive.MarkVerdict]) -> list[dict]:
    """One JSON-ready dict per user: mark, marked share of the training set, median PSNR, eq. 6
    (LCT users), the twin test (wins, n, p), the innocent users' rejections at ``LEVEL`` with their
    Clopper-Pearson interval, the membership p-value and the credit (``twins.credit``)."""
    share = len(mu.data.users[0]) / len(mu.data.train)
    rows = []
    for i, v in enumerate(verdicts):
        t, r = v.twin, v.innocent
        rows.append(
            {
                "user": v.user,
                "mark": v.mark,
                "user_size": len(mu.data.users[i]),
                "marked_share": share,
                "psnr_median": _median_psnr(mu, i),
                "k_hat": None if v.losses is None else v.k_hat,
                "match": v.match,
                "twin_wins": None if t is None else t.wins,
                "twin_n": None if t is None else t.n,
                "twin_p": None if t is None else t.p_value,
                "innocent_rejected": None if r is None else r.count,
                "innocent_users": None if r is None else r.n,
                "innocent_ci": None if r is None else [r.low, r.high],
                "membership_p": v.membership_p,
                "credit": v.credit.value,
            }
        )
    return rows


def fraction_job(
    config: LearnerConfig,
    results: str,
    profile: str = "",
    label: str = "",
    threads: Optional[int] = None,
    retrain: bool = False,
) -> dict[str, Any]:
    """Train (or load) lesson 10's standard learner with every user marking ``user_sizes[0]`` of
    ``config`` (count or fraction of ``n_train``), judge every user (forward passes only) and append
    one record to ``results`` (``sweep.append_job_record``: a rerun skips it). The record's eq. 6
    fields (``sweep.learner_fields``) read each user's clean photos at k* although the LCT users
    published half of them with the twin key; lesson 10's verdicts are its ``marks`` block.
    The sweep's job hook: (``job = "tools.jobs.marks:fraction_job"``)."""
    import torch

    from anw_helpers.datasets import load_cifar10
    from anw_helpers.train import train_learner

    if threads:
        torch.set_num_threads(threads)
    start = time.perf_counter()
    d = config.data
    train, test = load_cifar10("train"), load_cifar10("test")
    n_train = len(train) if d.n_train is None else int(d.n_train)
    mu = adaptive.marked_users_data(
        train,
        test,
        n_train=n_train,
        user_size=_resolve_size(d.user_sizes[0], n_train),
        key=KEY,
        own_space=adaptive.tilted_color_space(TILT),
        pattern_seed=PATTERN_SEED,
        n_test=d.n_test,
        seed=config.recipe.seed,
    )
    learner = train_learner(config, data=mu.data, progress=False, retrain=retrain)
    verdicts = adaptive.mark_verdicts(learner.model, mu, level=LEVEL)
    block = {"job": "lesson10_fraction", "level": LEVEL, "marks": mark_record(mu, verdicts)}
    return sweep.append_job_record(results, config, profile, label, learner, start, block)
