"""Fig. 3g-h (Sec. 5.3; issue 26): the pruning and fine-tuning job (tools/jobs/prune_finetune.py)
on a tiny untrained model, its grid, and the metric that turns its records into docs/
reproduction.md's row fig-3g-h (synthetic records: nothing here trains beyond milliseconds)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from anw_helpers import defences
from anw_helpers.datasets import ImageSet
from anw_helpers.profiles import get_profile
from anw_helpers.users import build_learner_data
from tools import reproduction as rp
from tools import sweep
from tools.jobs import prune_finetune as job

ROOT = Path(__file__).resolve().parent.parent
GRID = ROOT / "tools" / "grids" / "ci_fig3gh_prune_finetune.toml"


# ------------------------------------------------------------------------- the job's pieces
def _data(keys=(60.0,), size: int = 6):
    g = torch.Generator().manual_seed(0)
    classes = tuple(f"c{i}" for i in range(10))

    def images(n: int) -> ImageSet:
        x = torch.randint(0, 256, (n, 3, 8, 8), dtype=torch.uint8, generator=g)
        return ImageSet(x, torch.randint(0, 10, (n,), generator=g), classes)

    return build_learner_data(images(60), images(40), 50, (size,) * len(keys), keys, n_test=20)


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 10),
    ).eval()


def test_the_fine_tuning_set_is_the_training_set_without_any_users_photos():
    data = _data(keys=(60.0, None))
    images, labels = job.fine_tune_set(data)
    assert len(images) == len(labels) == len(data.train) - 12
    users = torch.cat([u.indices for u in data.users])
    kept = torch.ones(len(data.train), dtype=torch.bool)
    kept[users] = False
    assert torch.equal(images, data.train.images[kept])


def test_each_stage_is_measured_and_the_trained_model_is_left_alone():
    data, model = _data(), _model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    stages = job.attack_stages(model, data, [0.5, 0.9], [(1, 0.01)], seed=0)
    assert [s["stage"] for s in stages] == ["trained", "pruned", "pruned", "fine-tuned"]
    assert [s["amount"] for s in stages] == [0.0, 0.5, 0.9, 0.0]
    assert stages[0]["sparsity"] == 0.0 and stages[3]["sparsity"] < 0.1  # fine-tuned: not pruned
    assert stages[1]["sparsity"] == pytest.approx(0.5, abs=0.01)
    assert stages[2]["sparsity"] == pytest.approx(0.9, abs=0.01)
    assert (stages[3]["epochs"], stages[3]["lr"]) == (1, 0.01) and stages[1]["epochs"] is None
    for s in stages:
        assert 0.0 <= s["test_accuracy"] <= 1.0 and s["seconds"] >= 0.0
        assert len(s["k_hat"]) == len(s["match"]) == len(s["gap"]) == 1
        assert s["match"][0] == (abs(s["k_hat"][0] - 60.0) < 15.0)
        assert s["held_out_at_zero"] == (s["held_out_k_hat"] == 0.0)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_a_user_without_a_key_has_no_match_or_gap():
    stages = job.attack_stages(_model(), _data(keys=(60.0, None)), [0.3], [], seed=0)
    assert [s["stage"] for s in stages] == ["trained", "pruned"]
    assert all(s["match"][1] is None and s["gap"][1] is None for s in stages)


def test_the_job_writes_a_record_the_table_reads(tmp_path, monkeypatch):
    data, model = _data(), _model()
    record = SimpleNamespace(
        train_accuracy=0.9,
        test_accuracy=0.5,
        user_accuracy=1.0,
        images_per_second=100.0,
        epoch_seconds=[1.0],
        device="cpu",
        precision="fp32",
    )
    learner = SimpleNamespace(model=model, data=data, record=record, from_cache=True)
    monkeypatch.setattr("anw_helpers.train.train_learner", lambda *a, **k: learner)
    monkeypatch.setattr(sweep, "lesson_checks", lambda *a: {})
    monkeypatch.setattr(defences, "PRUNE_AMOUNTS", (0.5,))
    results = tmp_path / "fig3gh.jsonl"
    config = get_profile("ci").config
    r = job.prune_finetune_job(config, str(results), "ci", "seed=0")
    block = r["prune_finetune"]
    assert r["job"] == job.JOB and block["amounts"] == [0.5]
    assert block["fine_tunes"] == [[5, 0.01]]  # the `ci` profile's fine-tune, lesson 06's
    assert block["fine_tune_images"] == len(data.train) - 6
    assert [s["stage"] for s in block["stages"]] == ["trained", "pruned", "fine-tuned"]
    assert sweep.record_id(json.loads(results.read_text())) == sweep.here_id(config)  # resumable
    (back,) = rp.read_results(results, tmp_path, "ci")
    outcome = rp.key_survives_pruning_fine_tuning([back])
    assert "pruned 50 %" in outcome.number and "fine-tuned 5 epochs at lr 0.01" in outcome.number


# ------------------------------------------------------------------------------------ the grid
def test_the_grid_attacks_the_plain_learners_of_the_fig_3_grid():
    grid = sweep.load_grid(GRID)
    assert grid.profile == "ci" and sweep.job_function(grid) is job.prune_finetune_job
    ci = get_profile("ci").config
    assert [j.config for j in grid.jobs] == [ci.with_(seed=s) for s in (0, 1, 2)]
    fig3 = {j.config for j in sweep.load_grid(ROOT / "tools/grids/ci_fig3_defences.toml").jobs}
    assert {j.config for j in grid.jobs} <= fig3  # the same learners: cache hits


def test_lesson_06_prunes_and_fine_tunes_as_the_job_does():
    lesson = (ROOT / "notebooks" / "06_augmentations_and_defences.py").read_text()
    assert "SPARSITIES = defences.PRUNE_AMOUNTS" in lesson
    assert "ACCURACY_KEPT = defences.ACCURACY_KEPT" in lesson
    assert "FINE_TUNES = profile.lessons.fine_tunes" in lesson
    assert "(../docs/reproduction.md#fig-3g-h)" in lesson
    claim = next(c for c in rp.load_claims(rp.DEFAULT_CLAIMS, ROOT) if c.id == "fig-3g-h")
    assert claim.options["max_accuracy_drop"] == defences.ACCURACY_KEPT and claim.seeds == 3
    assert "within 5 points" in rp.bar_text(claim)


# ---------------------------------------------------------------------------------- the metric
def _stage(stage, acc, k_hat, amount=0.0, held=0.0, key=60.0):
    fine = stage == "fine-tuned"
    return {
        "stage": stage,
        "amount": amount,
        "epochs": 5 if fine else None,
        "lr": 0.01 if fine else None,
        "test_accuracy": acc,
        "k_hat": [k_hat],
        "match": [abs(k_hat - key) < 15.0],
        "gap": [0.1 if abs(k_hat - key) < 15.0 else -0.1],
        "held_out_k_hat": held,
        "held_out_match": abs(held - key) < 15.0,
    }


def _record(seed=0, pruned=((0.3, 0.60, 60.0), (0.9, 0.20, 0.0)), tuned=(0.61, 60.0), held=0.0):
    """A learner of test accuracy 0.62: pruned at each (amount, accuracy, k_hat), then
    fine-tuned to (accuracy, k_hat); the held-out user's k_hat after every attack is ``held``."""
    stages = [_stage("trained", 0.62, 60.0)]
    stages += [_stage("pruned", acc, k, amount=a, held=held) for a, acc, k in pruned]
    stages.append(_stage("fine-tuned", tuned[0], tuned[1], held=held))
    return {
        "_where": f"r.jsonl line {seed + 1}",
        "config": {"seed": seed},
        "user_keys": [60.0],
        "prune_finetune": {"stages": stages},
    }


def test_the_key_kept_by_every_useful_model_reads_yes_and_broken_models_are_quoted():
    """Pruning 90 % broke the model (accuracy 0.62 -> 0.20) and the match: quoted, not counted
    (a model the learner would not use: lesson 06's reading of the claim)."""
    out = rp.key_survives_pruning_fine_tuning([_record(0), _record(1)])
    assert out.verdict == "yes" and out.number.startswith("4/4 matched")
    assert "pruned 90 %: 0/2 matched (accuracy -0.420, kept in 0/2 learners)" in out.number
    assert "pruned 30 %: 2/2 matched" in out.number and out.values == (0.1,) * 4


def test_pruning_that_removes_the_key_from_a_useful_model_is_not_a_yes():
    destroyed = _record(1, pruned=((0.3, 0.61, 0.0), (0.9, 0.20, 0.0)))  # accuracy kept, key gone
    out = rp.key_survives_pruning_fine_tuning([_record(0), destroyed])
    assert out.verdict == "partly" and out.number.startswith("3/4 matched")
    all_gone = _record(0, pruned=((0.3, 0.61, 0.0),), tuned=(0.61, 330.0))
    assert rp.key_survives_pruning_fine_tuning([all_gone]).verdict == "no"


def test_fine_tuning_that_removes_the_key_is_not_a_yes():
    forgot = _record(0, tuned=(0.60, 0.0))
    out = rp.key_survives_pruning_fine_tuning([forgot])
    assert out.verdict == "partly" and "fine-tuned 5 epochs at lr 0.01: 0/1 matched" in out.number


def test_a_held_out_user_matching_the_key_makes_the_match_no_evidence():
    out = rp.key_survives_pruning_fine_tuning([_record(0, held=60.0)])
    assert out.verdict == "partly" and "held-out users matched their key after those 2/2" in (
        out.number
    )


def test_no_defence_that_kept_accuracy_reads_no():
    broken = _record(0, pruned=((0.3, 0.3, 60.0),), tuned=(0.4, 60.0))
    out = rp.key_survives_pruning_fine_tuning([broken])
    assert out.verdict == "no" and "nothing the claim covers" in out.number
    assert rp.key_survives_pruning_fine_tuning([]) is None


def test_records_that_are_not_the_jobs_or_lie_about_a_match_are_refused():
    with pytest.raises(rp.ReproductionError, match="r.jsonl line 1: not a record of the pruning"):
        rp.key_survives_pruning_fine_tuning([{**_record(0), "prune_finetune": {"stages": []}}])
    lying = _record(0)
    lying["prune_finetune"]["stages"][1]["match"] = [False]  # k_hat 60 for k* 60 is a match
    with pytest.raises(rp.ReproductionError, match=re.escape("stage pruned 30 %")):
        rp.key_survives_pruning_fine_tuning([lying])
    short = _record(0)
    short["prune_finetune"]["stages"][2]["gap"] = []
    with pytest.raises(rp.ReproductionError, match="one k_hat, match and gap per user"):
        rp.key_survives_pruning_fine_tuning([short])
