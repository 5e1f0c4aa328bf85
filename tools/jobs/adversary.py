"""An adversary who verifies in a guessed colour space (paper Sec. 5.4, Fig. 5a): a sweep job.

    python -m tools.sweep tools/grids/ci_fig5a_adversary.toml

The paper: "The arbitrary LCTs (T_u' ~ U(-1, 1)) only achieve 10% matching accuracy, which is 70%
less when LCTs are given." For a learner whose users each watermark in their own colour space
(lesson 07's own-LCT condition), every watermarking user is verified again ``GUESSES`` times, each
time in a fresh random colour space T_u' ~ U(-1, 1) (``color.random_color_space``) instead of her
own, as lesson 07's ``adversary_accuracy`` does; the record holds the matches in the user's own
space (the sweep's usual fields) and the adversary's matches per user. Chance is 1/12 per guess.
The guesses on one user share her photos, so the independent trials are the users, not the guesses.
Forward passes only: the learner comes from the model cache (ci_fig5a_many_users.toml trains it).
"""

from __future__ import annotations

import time
from typing import Optional

import torch

from anw_helpers import verify
from anw_helpers.color import random_color_space
from anw_helpers.recipe import LearnerConfig
from anw_helpers.train import train_learner
from tools import sweep

__all__ = ["GUESSES", "adversary_matches", "adversary_job"]

#: Random colour spaces tried per watermarking user (lesson 07's ``adversary_accuracy``).
GUESSES = 8


def adversary_matches(model: torch.nn.Module, users: list, guesses: int, seed: int) -> list[int]:
    """For each user with a key: in how many of ``guesses`` random U(-1, 1) colour spaces eq. 6
    still matches her key (|k_hat - k*| < tau), the spaces drawn with ``seed``."""
    marking = [u for u in users if u.key is not None]
    g = torch.Generator().manual_seed(seed)
    hits = torch.zeros(len(marking), dtype=torch.long)
    for _ in range(guesses):
        wrong = [random_color_space(g) for _ in marking]
        hits += verify.verify_users(model, marking, color_spaces=wrong).matches().long()
    return hits.tolist()


def adversary_job(
    config: LearnerConfig,
    results: str,
    profile: str = "",
    label: str = "",
    threads: Optional[int] = None,
    retrain: bool = False,
) -> dict:
    """A sweep job (``job = "tools.jobs.adversary:adversary_job"``): load or train the learner of
    ``config``, append its record with ``adversary`` = the guesses per user, each user's matches
    in guessed colour spaces, and the seed they were drawn with; returns the record."""
    if threads:
        torch.set_num_threads(threads)
    start = time.perf_counter()
    learner = train_learner(config, progress=False, retrain=retrain)
    seed = 1000 + config.recipe.seed
    hits = adversary_matches(learner.model, list(learner.data.users), GUESSES, seed)
    block = {"adversary": {"guesses": GUESSES, "matches": hits, "seed": seed}}
    return sweep.append_job_record(results, config, profile, label, learner, start, block)
