"""Lesson 08's sweep jobs (tools/jobs/membership.py: Fig. 5b/5c, Sec. 5.6), their grids and the
metrics that turn their records into docs/reproduction.md's rows fig-5b, fig-5c and sec-5-6.

Nothing here trains: the records are synthetic, in the format the jobs write (a sweep record from
``sweep.learner_fields`` plus the job's ``mia`` or ``memorisation`` block).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

from anw_helpers import membership
from anw_helpers.profiles import get_profile, multi_user_config
from tools import reproduction as rp
from tools import sweep
from tools.jobs import membership as jobs

ROOT = Path(__file__).resolve().parent.parent
MIA_GRID = "tools/grids/ci_fig5bc_mia.toml"
MEM_GRID = "tools/grids/ci_sec56_memorisation.toml"


# ------------------------------------------------------------------------------------ the grids
@pytest.mark.parametrize("grid, job", [(MIA_GRID, jobs.mia_job), (MEM_GRID, jobs.memorisation_job)])
def test_each_grid_parses_and_names_an_importable_job(grid, job):
    parsed = sweep.load_grid(ROOT / grid)
    assert parsed.profile == "ci" and sweep.job_function(parsed) is job
    assert [j.config.recipe.seed for j in parsed.jobs] == [0, 1, 2]


def test_the_grids_train_the_learners_lesson_08_uses():
    """Fig. 5b/5c on lesson 05's fourteen-user learner (ci_fig2_users.toml's seeds 0-2: cached);
    Sec. 5.6 on lesson 03's learner for the `ci` seed table's first three (seed, key) pairs."""
    ci = get_profile("ci").config
    mia = [j.config for j in sweep.load_grid(ROOT / MIA_GRID).jobs]
    assert mia == [multi_user_config(ci).with_(seed=s) for s in (0, 1, 2)]
    fig2 = [j.config for j in sweep.load_grid(ROOT / "tools/grids/ci_fig2_users.toml").jobs]
    assert mia == fig2[:3]
    mem = [j.config for j in sweep.load_grid(ROOT / MEM_GRID).jobs]
    assert mem == [ci.with_(seed=s, keys=(k,)) for s, k in ((0, 60.0), (1, 210.0), (2, 300.0))]
    assert mem[0] == ci  # seed 0 is lesson 08's learner


def test_seed_0_draws_lesson_08s_photos():
    """The jobs' seeds are lesson 08's (read from the lesson) plus 1000 per learner seed."""
    lesson = (ROOT / "notebooks" / "08_compared_with_membership_inference.py").read_text()
    ci = get_profile("ci").config
    assert f"N_USERS, N_KNOWN = {jobs.N_USERS}, {jobs.N_KNOWN}" in lesson
    members, outsiders = re.findall(r"seed=(\d+),\n    exclude=", lesson)
    assert (int(members), int(outsiders)) == (
        jobs.draw_seed(jobs.MEMBER_SEED, ci),
        jobs.draw_seed(jobs.OUTSIDER_SEED, ci),
    )
    mem = jobs.draw_seed(jobs.MEMORISATION_SEED, ci)
    assert f"[{jobs.MEMORISATION_USER_SIZE}, plan.pool_size - 50], [180.0, None], seed={mem}," in (
        lesson
    )
    assert f"complementary_splits(plan.pool_size, plan.n_pairs, seed={mem})" in lesson
    assert jobs.MEMORISATION_KEY == 180.0
    assert jobs.draw_seed(jobs.MEMBER_SEED, ci.with_(seed=2)) == 2080


# ----------------------------------------------------------------------------- one user's MIA
def test_user_mia_fields_count_her_decisions_and_eq_7():
    result = membership.evaluate_threshold(
        "MIA-std", 0.5, torch.tensor([0.1, 0.2, 0.9, 0.3]), torch.tensor([0.1, 0.8, 0.9, 0.7])
    )
    f = jobs.user_mia_fields(result)
    assert (f["n_members"], f["members_in"], f["n_nonmembers"], f["nonmembers_in"]) == (4, 3, 4, 1)
    assert f["member_accuracy"] == 0.75 and f["nonmember_accuracy"] == 0.75
    assert f["accuracy"] == pytest.approx(0.75) == result.accuracy
    assert f["decision"] and not f["decision_never_seen"]
    # eq. 7 over her 8 decisions, 6 right: (6 - 8 / 2) / 8
    assert f["advantage"] == pytest.approx(0.25)
    assert f["advantage"] == pytest.approx(membership.protection_advantage(result.correct))


# ------------------------------------------------------------------------- synthetic records
def _base(seed: int, profile: str = "ci") -> dict:
    """The fields ``sweep.learner_fields`` and ``sweep.here_fields`` write, for one user (key 60,
    matched) and a held-out user at k_hat = 0."""
    return {
        "config": get_profile(profile).config.with_(seed=seed).flat(),
        "profile": profile,
        "label": f"seed={seed}",
        "users": ["user0"],
        "user_keys": [60.0],
        "user_sizes": [50],
        "k_hat": [60.0],
        "match": [True],
        "gap": [0.2],
        "held_out_key": 60.0,
        "held_out_k_hat": 0.0,
        "held_out_at_zero": True,
        "precision": "bf16",
        "train_device": "cpu",
        "machine": {"cpu": "Test CPU", "threads": 2, "isa": "AVX512", "gpu": None},
    }


def _mia_block(matches, shadow_accuracy, advantage, normalised=None, false=0) -> dict:
    """A ``mia`` block: one user per entry of ``matches`` (each user's shadow MIA with its
    accuracy), the pooled accuracy and eq. 7 per method."""
    users = [
        {
            "name": f"user{i}",
            "match": m,
            "false_match": i < false,
            "mia_shadow": {"accuracy": a},
        }
        for i, (m, a) in enumerate(zip(matches, shadow_accuracy))
    ]
    return {
        "methods": jobs.METHODS,
        "users": users,
        "pooled": {
            "accuracy": {
                "mia_std": 0.7,
                "mia_pow": 0.72,
                "mia_shadow": sum(shadow_accuracy) / len(shadow_accuracy),
            },
            "gap_attack_accuracy": 0.66,
            "advantage": advantage,
            "normalised_advantage": normalised or advantage,
        },
    }


def _adv(anw: float, std: float = 0.2, pow_: float = 0.22, shadow: float = 0.05) -> dict:
    return {"anw": anw, "mia_std": std, "mia_pow": pow_, "mia_shadow": shadow}


def _mem_block(clean: float, marked: float, fitted: bool = True) -> dict:
    return {
        "label": "estimate from 2 + 2 models",
        "clean": {"mean": clean, "se": 0.05},
        "watermarked": {"mean": marked, "se": 0.05},
        "difference": {"mean": marked - clean, "se": 0.03},
        "all_fitted": fitted,
    }


def _records(blocks: list[dict], name: str) -> list[dict]:
    return [
        {**_base(seed), name: b, "_where": f"r.jsonl line {seed + 1}"}
        for seed, b in enumerate(blocks)
    ]


# ------------------------------------------------------------------------------- the metrics
def test_fig_5b_compares_anw_matching_with_the_shadow_mia():
    yes = _records([_mia_block([True] * 10, [0.55] * 10, _adv(0.8))] * 2, "mia")
    o = rp.anw_vs_shadow_mia(yes)
    assert o.verdict == "yes" and o.values == (0.55,) * 20
    assert o.number.startswith("ANW 20/20 users matched (100 %); MIA-std with the user's shadow")
    assert "55 % accurate" in o.number and "gap attack 66 %" in o.number
    # the shadow MIA well above a coin: ANW still ahead, so partly
    partly = _records([_mia_block([True] * 9 + [False], [0.7] * 10, _adv(0.7), false=1)], "mia")
    o = rp.anw_vs_shadow_mia(partly)
    assert o.verdict == "partly" and "9/10 users matched (90 %)" in o.number
    assert "falsely matched 1/10" in o.number
    no = _records([_mia_block([True] * 5 + [False] * 5, [0.6] * 10, _adv(0.4))], "mia")
    assert rp.anw_vs_shadow_mia(no).verdict == "no"
    assert rp.anw_vs_shadow_mia([]) is None


def test_fig_5c_ranks_adv_p_of_each_method_over_learners():
    ahead = _records([_mia_block([True], [0.6], _adv(a)) for a in (0.8, 0.9)], "mia")
    o = rp.advantage_over_mias(ahead)
    assert o.verdict == "yes" and o.values == pytest.approx((0.58, 0.68))
    assert "ANW (p = 1/12) +0.850 ± 0.071" in o.number and "MIA-std +0.200 ± 0.000" in o.number
    assert "above every MIA in 2/2 learners (normalised scale: 2/2)" in o.number
    # behind MIA-pow in one learner, ahead on the mean: partly
    mixed = _records([_mia_block([True], [0.6], _adv(a)) for a in (0.1, 0.9)], "mia")
    o = rp.advantage_over_mias(mixed)
    assert o.verdict == "partly" and "in 1/2 learners" in o.number
    behind = _records([_mia_block([False], [0.6], _adv(-1 / 12))], "mia")
    assert rp.advantage_over_mias(behind).verdict == "no"


def test_sec_5_6_counts_the_seeds_higher_with_the_mark():
    blocks = [_mem_block(0.2, 0.3), _mem_block(0.25, 0.2), _mem_block(0.1, 0.3)]
    records = _records(blocks, "memorisation")
    o = rp.memorisation_sign(records)
    assert o.verdict == "partly" and o.values == pytest.approx((0.1, -0.05, 0.2))
    assert o.number.startswith(
        "2 of 3 seeds higher with the mark; the user's mean mem +0.183 clean"
    )
    assert "estimate from 2 + 2 models" in o.number and "in 3/3)" in o.number
    assert rp.memorisation_sign(records[::2]).verdict == "yes"
    assert rp.memorisation_sign(records[1:2]).verdict == "no"


def test_a_record_without_the_jobs_block_names_its_line():
    with pytest.raises(rp.ReproductionError, match="r.jsonl line 1: no 'mia' block"):
        rp.anw_vs_shadow_mia([{**_base(0), "_where": "r.jsonl line 1"}])


# ------------------------------------------------------------------ the rows, end to end in tmp
def _root(tmp_path: Path) -> Path:
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "08_demo.py").write_text("# %% [markdown]\n# demo\n")
    grids = tmp_path / "tools" / "grids"
    grids.mkdir(parents=True)
    claims = ""
    for name, metric, job in (
        ("mia", "advantage_over_mias", "mia_job"),
        ("mem", "memorisation_sign", "memorisation_job"),
    ):
        (grids / f"{name}.toml").write_text(
            f'profile = "ci"\njob = "tools.jobs.membership:{job}"\n[zip]\nseed = [0]\n'
        )
        claims += (
            f'[[claim]]\nid = "{name}"\ntitle = "t"\nwhere = "Fig. 5"\nquote = "words"\n'
            f'paper_number = "n"\nlessons = ["08"]\ngrids = ["tools/grids/{name}.toml"]\n'
            f'metric = "{metric}"\n'
        )
    (tmp_path / "tools" / "claims.toml").write_text(claims)
    return tmp_path


def _measures(root: Path) -> dict:
    claims = rp.load_claims(root / "tools" / "claims.toml", root)
    sources = rp.read_sources(claims, root)
    return {c.id: rp.measure(c, sources.records(c)) for c in claims}


def test_no_records_keep_the_rows_not_yet_measured_and_records_fill_them(tmp_path, monkeypatch):
    # synthetic records under a toy grid: the check that records are the grid's jobs today has
    # its own tests (tests/test_reproduction.py)
    monkeypatch.setattr(rp, "check_current", lambda records, path, grid: records)
    root = _root(tmp_path)
    assert all(m is None for row in _measures(root).values() for m in row.values())
    text = rp.generate(root / "tools" / "claims.toml", root, root / "docs" / "reproduction.md")
    assert "tools/grids/mia.jsonl`: not run yet" in text and "**yes**" not in text
    for seed in (0, 1):
        record = {**_base(seed), "mia": _mia_block([True], [0.6], _adv(0.8))}
        sweep.append_record(root / "tools" / "grids" / "mia.jsonl", record)
    record = {**_base(0), "memorisation": _mem_block(0.2, 0.3)}
    sweep.append_record(root / "tools" / "grids" / "mem.jsonl", record)
    got = _measures(root)
    assert got["mia"]["ci"].outcome.verdict == "yes" and got["mia"]["ci"].seeds == 2
    assert got["mem"]["ci"].outcome.number.startswith("1 of 1 seeds higher with the mark")
    assert got["mia"]["cpu"] is None


def test_a_job_appends_one_record_the_sweep_skips_and_the_table_reads(tmp_path, monkeypatch):
    """The job's wiring, with the learner and the measurements stood in: config, eq. 6 fields,
    the job's block and sweep.here_fields in one line."""
    config = get_profile("ci").config
    base = {k: v for k, v in _base(0).items() if k not in ("config", "profile", "label")}
    base = {k: v for k, v in base.items() if k not in ("precision", "train_device", "machine")}
    monkeypatch.setattr(jobs, "train_learner", lambda *a, **k: "the learner")
    monkeypatch.setattr(sweep, "learner_fields", lambda learner: dict(base, from_cache=True))
    block = _mia_block([True], [0.6], _adv(0.8))
    monkeypatch.setattr(jobs, "mia_measures", lambda learner, config: block)
    results = tmp_path / "mia.jsonl"
    record = jobs.mia_job(config, str(results), "ci", "seed=0")
    assert record["mia"] == block and record["label"] == "seed=0"
    assert sweep.read_finished(results) == ({sweep.here_id(config)}, [])
    (back,) = rp.read_results(results, tmp_path, "ci")
    assert json.loads(json.dumps(back["mia"])) == json.loads(json.dumps(block))
