"""Lesson 08's measurements as sweep jobs: Fig. 5b/5c (MIAs against the watermark, eq. 7's adv^P)
and Sec. 5.6 (memorisation with and without the watermark).

A grid names one of them (``tools.sweep``: ``job = "module:function"``)::

    job = "tools.jobs.membership:mia_job"             # tools/grids/ci_fig5bc_mia.toml
    job = "tools.jobs.membership:memorisation_job"    # tools/grids/ci_sec56_memorisation.toml

Each job loads or trains the grid's learner (``train.train_learner``: the model cache), does what
notebooks/08_compared_with_membership_inference.py does with it, with the same helper calls, and
appends one record: :func:`tools.sweep.learner_fields` (eq. 6 of every user, the held-out
user, the training record), its own block (``mia`` or ``memorisation``) and
:func:`tools.sweep.here_fields`, so that a rerun skips it. ``tools/reproduction.py`` turns the
records into docs/reproduction.md's rows fig-5b, fig-5c and sec-5-6.

Lesson 08 draws its photos with fixed seeds (80 and 81 for the MIA users, 8 for the memorisation
pool and splits); a job adds 1000 x the learner's seed (:func:`draw_seed`), so the learner of
seed 0 gets lesson 08's photos exactly and every other seed other photos as well as another
learner.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any, Optional

import torch
from torch import Tensor

from anw_helpers import membership, memorisation, verify
from anw_helpers.color import SIGNATURE_SLOTS
from anw_helpers.datasets import ImageSet, appears_in, load_cifar10
from anw_helpers.profiles import MemorisationPlan
from anw_helpers.recipe import LearnerConfig, TrainingRecipe
from anw_helpers.train import TrainedLearner, predict_logits, train_learner
from anw_helpers.users import User, make_users, watermark_uint8
from tools import sweep

__all__ = [
    "N_USERS",
    "N_KNOWN",
    "METHODS",
    "draw_seed",
    "user_mia_fields",
    "mia_measures",
    "mia_job",
    "memorisation_measures",
    "memorisation_job",
]

#: Lesson 08, section 1: the watermarking users compared (the learner's first ten) and how many
#: known members and known non-members calibrate MIA-std and MIA-pow.
N_USERS, N_KNOWN = 10, 100
#: Lesson 08's seeds: the MIA users' photos (members, never-seen photos) and the memorisation
#: user's photos and splits.
MEMBER_SEED, OUTSIDER_SEED, MEMORISATION_SEED = 80, 81, 8
#: Lesson 08, section 5: the memorisation user's photos and key (a key lesson 03's learners never
#: saw: theirs are 60, 210, 300, ...).
MEMORISATION_USER_SIZE, MEMORISATION_KEY = 50, 180.0
#: Eq. 7's methods as the record names them, and lesson 08's names for them.
METHODS: dict[str, str] = {
    "anw": "ANW (p = 1/12)",
    "mia_std": "MIA-std",
    "mia_pow": "MIA-pow",
    "mia_shadow": "MIA, user's shadow",
}
_STRIDE = 1000


def draw_seed(base: int, config: LearnerConfig) -> int:
    """Lesson 08's seed ``base`` for the photos it draws, moved by the learner's seed (1000 per
    seed): seed 0 draws exactly lesson 08's photos (Sec. 5.5-5.6 over seeds)."""
    return base + _STRIDE * config.recipe.seed


# -------------------------------------------------------------------------- Fig. 5b/5c (Sec. 5.5)
def _populations(learner: TrainedLearner, config: LearnerConfig) -> dict[str, Any]:
    """Lesson 08, section 1: the watermarking users, the MIA users (clean members of the same
    sizes), the never-seen users (test photos, same sizes and keys: the innocent users of Sec. 5.5
    and the MIAs' non-members) and the known members and non-members."""
    watermarkers = [u for u in learner.data.users if u.key is not None][:N_USERS]
    sizes = [len(u) for u in watermarkers]
    n = len(watermarkers)
    in_a_user = torch.cat([u.indices for u in learner.data.users])
    members = make_users(
        learner.data.train,
        sizes + [N_KNOWN],
        [None] * (n + 1),
        seed=draw_seed(MEMBER_SEED, config),
        exclude=in_a_user,
        prefix="member",
    )
    outsiders = make_users(
        load_cifar10("test"),
        sizes + [N_KNOWN],
        [u.key for u in watermarkers] + [None],
        seed=draw_seed(OUTSIDER_SEED, config),
        exclude=learner.data.held_out.indices,
        prefix="never-seen",
    )
    return {
        "watermarkers": watermarkers,
        "known_members": members.pop(),
        "members": members,
        "known_nonmembers": outsiders.pop(),
        "outsiders": outsiders,
    }


def _losses(model: torch.nn.Module, users: list[User]) -> list[Tensor]:
    """Each user's per-photo losses (``membership.sample_losses``, Sec. 5.5)."""
    return [membership.sample_losses(model, u.clean(), u.labels) for u in users]


def _correct(model: torch.nn.Module, users: list[User]) -> Tensor:
    """Whether the learner classifies each photo of ``users`` correctly (the gap attack's input)."""
    return torch.cat([predict_logits(model, u.clean()).argmax(1) == u.labels for u in users])


def user_mia_fields(result: membership.MIAResult) -> dict[str, Any]:
    """One threshold MIA on one user (Sec. 5.5): her photos (members) and as many never-seen photos
    (non-members), counted; each side's accuracy; the balanced accuracy; eq. 7's adv^P over her
    decisions; and a user-level decision, the course's reading: "her photos were used" when most of
    her photos are called in (``decision``), and the same rule on the never-seen photos
    (``decision_never_seen``: True is a false accusation)."""
    n_members, n_nonmembers = len(result.member_in), len(result.nonmember_in)
    members_in, nonmembers_in = int(result.member_in.sum()), int(result.nonmember_in.sum())
    return {
        "threshold": result.threshold,
        "n_members": n_members,
        "members_in": members_in,
        "n_nonmembers": n_nonmembers,
        "nonmembers_in": nonmembers_in,
        "member_accuracy": members_in / n_members,
        "nonmember_accuracy": 1.0 - nonmembers_in / n_nonmembers,
        "accuracy": result.accuracy,
        "decision": members_in > n_members / 2,
        "decision_never_seen": nonmembers_in > n_nonmembers / 2,
        "advantage": result.advantage(),
    }


def _thresholds(
    model: torch.nn.Module, recipe: TrainingRecipe, p: dict[str, Any], classes: tuple
) -> dict[str, Any]:
    """Lesson 08's thresholds: MIA-std's and MIA-pow's from the known photos, and each MIA user's
    own shadow model's (trained with the learner's public recipe on her photos only)."""
    known_members = membership.sample_losses(
        model, p["known_members"].clean(), p["known_members"].labels
    )
    known_nonmembers = membership.sample_losses(
        model, p["known_nonmembers"].clean(), p["known_nonmembers"].labels
    )
    start = time.perf_counter()
    shadows = [
        membership.train_shadow_model(u.images, u.labels, recipe, classes, name=u.name)
        for u in p["members"]
    ]
    shadow = [
        membership.shadow_threshold(s.model, u.clean(), u.labels)
        for s, u in zip(shadows, p["members"])
    ]
    return {
        "mia_std": membership.threshold_std(known_members),
        "mia_pow": membership.threshold_pow(known_members, known_nonmembers),
        "mia_shadow": shadow,
        "shadow_seconds": time.perf_counter() - start,
        "shadows_from_cache": all(s.from_cache for s in shadows),
    }


def _per_user(
    p: dict[str, Any],
    anw: list[verify.SearchResult],
    innocent: list[verify.SearchResult],
    mias: dict[str, list[membership.MIAResult]],
) -> list[dict[str, Any]]:
    """One entry per watermarking user: her eq. 6 verdict and adv^P (one trial, p = 1/12), her
    never-seen twin's (the negative: same key and size, photos the learner never saw) and each MIA
    on her MIA twin's photos (:func:`user_mia_fields`)."""
    p_slot = 1 / len(SIGNATURE_SLOTS)
    rows = []
    for i, (u, r, o, q) in enumerate(zip(p["watermarkers"], anw, p["outsiders"], innocent)):
        match = verify.match(r.best, u.key)
        rows.append(
            {
                "name": u.name,
                "size": len(u),
                "key": u.key,
                "k_hat": r.best,
                "match": match,
                "anw_advantage": membership.protection_advantage([match], p_random=p_slot),
                "never_seen": o.name,
                "never_seen_k_hat": q.best,
                "false_match": verify.match(q.best, o.key),
                "mia_user": p["members"][i].name,
                **{name: user_mia_fields(results[i]) for name, results in mias.items()},
            }
        )
    return rows


def mia_measures(learner: TrainedLearner, config: LearnerConfig) -> dict[str, Any]:
    """Lesson 08's sections 1-3 on one learner (Sec. 5.5, Fig. 5b/5c, eq. 7): ANW's grid-search
    verdict (eq. 6) for each watermarking user and her never-seen twin; MIA-std (known members),
    MIA-pow (known members and non-members) and MIA-std with each user's own shadow model, per user
    (``users``) and pooled as the lesson pools them (``pooled``: accuracy, eq. 7's adv^P, its
    normalised form, the gap attack)."""
    model, p = learner.model, _populations(learner, config)
    member_losses, nonmember_losses = _losses(model, p["members"]), _losses(model, p["outsiders"])
    eps = _thresholds(model, config.recipe, p, learner.data.train.classes)
    mias = {
        "mia_std": [eps["mia_std"]] * len(member_losses),
        "mia_pow": [eps["mia_pow"]] * len(member_losses),
        "mia_shadow": eps["mia_shadow"],
    }
    per_user = {
        name: [
            membership.evaluate_threshold(f"{METHODS[name]}, {u.name}", e, m, n)
            for u, e, m, n in zip(p["members"], thresholds, member_losses, nonmember_losses)
        ]
        for name, thresholds in mias.items()
    }
    pooled = {name: membership.combine(METHODS[name], r) for name, r in per_user.items()}
    anw = [verify.grid_search(model, u.clean(), u.labels) for u in p["watermarkers"]]
    innocent = [verify.grid_search(model, u.clean(), u.labels) for u in p["outsiders"]]
    matches = torch.tensor([verify.match(r.best, u.key) for r, u in zip(anw, p["watermarkers"])])
    p_slot = 1 / len(SIGNATURE_SLOTS)
    advantage = {"anw": membership.protection_advantage(matches, p_random=p_slot)}
    normalised = {"anw": membership.normalised_advantage(matches, p_random=p_slot)}
    for name, result in pooled.items():
        advantage[name], normalised[name] = result.advantage(), result.normalised_advantage()
    return {
        "n_users": len(anw),
        "n_known": N_KNOWN,
        "seeds": {
            "members": draw_seed(MEMBER_SEED, config),
            "never_seen": draw_seed(OUTSIDER_SEED, config),
        },
        "methods": METHODS,
        "users": _per_user(p, anw, innocent, per_user),
        "pooled": {
            "anw_matches": int(matches.sum()),
            "false_matches": sum(
                verify.match(r.best, u.key) for r, u in zip(innocent, p["outsiders"])
            ),
            "accuracy": {name: r.accuracy for name, r in pooled.items()},
            "members_in": {name: float(r.member_in.double().mean()) for name, r in pooled.items()},
            "nonmembers_in": {
                name: float(r.nonmember_in.double().mean()) for name, r in pooled.items()
            },
            "thresholds": {name: pooled[name].threshold for name in pooled},
            "advantage": advantage,
            "normalised_advantage": normalised,
            "gap_attack_accuracy": membership.gap_attack_accuracy(
                _correct(model, p["members"]), _correct(model, p["outsiders"])
            ),
        },
        "shadow_seconds": eps["shadow_seconds"],
        "shadows_from_cache": eps["shadows_from_cache"],
    }


def mia_job(
    config: LearnerConfig,
    results: str,
    profile: str = "",
    label: str = "",
    threads: Optional[int] = None,
    retrain: bool = False,
) -> dict:
    """A sweep job (``job = "tools.jobs.membership:mia_job"``): load or train the learner of
    ``config`` and append its record with :func:`mia_measures` as ``mia`` (Sec. 5.5, Fig. 5b/5c,
    eq. 7); returns the record."""
    if threads:
        torch.set_num_threads(threads)
    start = time.perf_counter()
    learner = train_learner(config, progress=False, retrain=retrain)
    block = {"mia": mia_measures(learner, config)}
    return sweep.append_job_record(results, config, profile, label, learner, start, block)


# -------------------------------------------------------------------------- Sec. 5.6: memorisation
def _pools(
    learner: TrainedLearner, plan: MemorisationPlan, config: LearnerConfig
) -> tuple[dict[str, ImageSet], User, Optional[torch.nn.Module]]:
    """Lesson 08, section 5: the memorisation user (50 photos, key 180) and the rest of the pool,
    from photos the learner never saw when the plan fine-tunes it; the pool with her photos clean
    and with them watermarked (her photos first), and the network the subsampled models start
    from (None: from scratch)."""
    train_split = load_cifar10("train")
    if plan.fine_tune:  # photos the learner never saw, clean or watermarked
        trained = torch.cat([learner.data.train.images] + [u.images for u in learner.data.users])
        seen = appears_in(train_split.images, trained)
        source, start_from = train_split.subset((~seen).nonzero().squeeze(1)), learner.model
    else:
        source, start_from = train_split, None
    user, rest = make_users(
        source,
        [MEMORISATION_USER_SIZE, plan.pool_size - MEMORISATION_USER_SIZE],
        [MEMORISATION_KEY, None],
        seed=draw_seed(MEMORISATION_SEED, config),
        prefix="mem",
    )
    labels = torch.cat([user.labels, rest.labels])
    pools = {
        "clean": ImageSet(torch.cat([user.images, rest.images]), labels, source.classes),
        "watermarked": ImageSet(
            torch.cat([watermark_uint8(user.images, user.key), rest.images]), labels, source.classes
        ),
    }
    return pools, user, start_from


def _mean_se(x: Tensor) -> dict[str, float]:
    """Mean and standard error over photos (lesson 08's ``mean_se``)."""
    x = x.double()
    return {"mean": float(x.mean()), "se": float(x.std() / math.sqrt(len(x)))}


def memorisation_measures(
    learner: TrainedLearner, config: LearnerConfig, plan: MemorisationPlan
) -> dict[str, Any]:
    """Lesson 08's section 5 on one learner (Sec. 5.6, Feldman & Zhang's estimate): the same splits
    (``memorisation.complementary_splits``) train subsampled models on the pool with the user's
    photos clean and watermarked; the estimate of her photos' memorisation in each condition, the
    paired difference (watermarked - clean: the claim is its sign), the other photos' estimate and
    every model's fit."""
    pools, user, start_from = _pools(learner, plan, config)
    masks = memorisation.complementary_splits(
        plan.pool_size, plan.n_pairs, seed=draw_seed(MEMORISATION_SEED, config)
    )
    mine = torch.arange(len(user))  # the user's photos come first in the pool
    start, out = time.perf_counter(), {}
    estimates = {}
    for condition, pool in pools.items():
        models = memorisation.train_subsampled_models(
            pool, masks, plan.recipe(config.recipe), learner.data.test, start_from=start_from
        )
        correct = memorisation.correctness(models, pool.images, pool.labels)
        e = estimates[condition] = memorisation.memorisation_estimate(correct, masks)
        fits = [m.record.train_accuracy for m in models]
        out[condition] = {
            **_mean_se(e.mem[mine]),
            "in_accuracy": float(e.in_accuracy[mine].double().mean()),
            "out_accuracy": float(e.out_accuracy[mine].double().mean()),
            "per_photo": e.mem[mine].tolist(),
            "train_accuracy": fits,
            "test_accuracy": [m.record.test_accuracy for m in models],
        }
    difference = estimates["watermarked"].mem[mine] - estimates["clean"].mem[mine]
    worst_fit = min(min(out[c]["train_accuracy"]) for c in pools)
    return {
        "plan": dataclasses.asdict(plan),
        "label": estimates["clean"].label(),
        "user_size": len(user),
        "user_key": user.key,
        "seed": draw_seed(MEMORISATION_SEED, config),
        "fine_tuned": start_from is not None,
        **out,
        "difference": _mean_se(difference),
        "higher_with_mark": float(difference.double().mean()) > 0,
        "other_photos": _mean_se(estimates["clean"].mem[len(user) :]),
        "worst_fit": worst_fit,
        "all_fitted": worst_fit >= plan.min_train_accuracy,
        "seconds": time.perf_counter() - start,
    }


def memorisation_job(
    config: LearnerConfig,
    results: str,
    profile: str = "",
    label: str = "",
    threads: Optional[int] = None,
    retrain: bool = False,
) -> dict:
    """A sweep job (``job = "tools.jobs.membership:memorisation_job"``): load or train the learner
    of ``config`` (the network the subsampled models fine-tune, in the small profiles) and append
    its record with :func:`memorisation_measures` as ``memorisation``, by the profile's plan
    (``memorisation.memorisation_plan``; Sec. 5.6); returns the record."""
    plan = memorisation.memorisation_plan(profile)
    if threads:
        torch.set_num_threads(threads)
    start = time.perf_counter()
    learner = train_learner(config, progress=False, retrain=retrain)
    block = {"memorisation": memorisation_measures(learner, config, plan)}
    return sweep.append_job_record(results, config, profile, label, learner, start, block)
