"""tools.jobs.marks (issue 27's marking-fraction grid): the grid parses, and one job writes one
record per learner with every user's tests, on fake data and an untrained model (no training)."""

from __future__ import annotations

import json
import statistics
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from anw_helpers.datasets import ImageSet
from anw_helpers.models import build_model
from tools import reproduction, sweep
from tools.jobs import marks

ROOT = Path(__file__).resolve().parents[1]


def _image_set(n: int, seed: int) -> ImageSet:
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
    return ImageSet(images, torch.arange(n) % 10, tuple(str(c) for c in range(10)), f"fake{seed}")


def test_the_fraction_grids_name_the_job_and_both_regimes() -> None:
    grid = sweep.load_grid(ROOT / "tools" / "grids" / "ci_lesson10_fraction.toml")
    assert sweep.job_function(grid) is marks.fraction_job
    assert len(grid.jobs) == 12 and {j.config.data.n_train for j in grid.jobs} == {2500}
    assert {j.config.data.user_sizes[0] for j in grid.jobs} == {0.005, 0.01, 0.02, 0.04}
    larger = sweep.load_grid(ROOT / "tools" / "grids" / "ci_lesson10_generalising.toml")
    assert sweep.job_function(larger) is marks.fraction_job
    assert {j.config.data.n_train for j in larger.jobs} == {10000} and len(larger.jobs) == 6
    assert {j.config.data.user_sizes[0] for j in larger.jobs} == {0.005, 0.04}


def test_one_job_appends_one_record_with_every_user_under_every_test(tmp_path, monkeypatch) -> None:
    sets = {"train": _image_set(400, 0), "test": _image_set(900, 1)}
    monkeypatch.setattr("anw_helpers.datasets.load_cifar10", lambda split: sets[split])
    torch.manual_seed(0)
    model = build_model("small_resnet", 10, 4).eval()
    record = SimpleNamespace(
        train_accuracy=0.9,
        test_accuracy=0.5,
        user_accuracy=0.9,
        images_per_second=1.0,
        epoch_seconds=[1.0],
        device="cpu",
        precision="fp32",
    )

    def fake_train(config, data, progress, retrain):
        assert len(data.users) == 4 and len(data.users[0]) == 12  # 0.04 of 300
        return SimpleNamespace(model=model, record=record, from_cache=False, data=data)

    monkeypatch.setattr("anw_helpers.train.train_learner", fake_train)
    monkeypatch.setattr(sweep, "GRADIENT_STARTS", 1)  # lesson 04's search: one start is enough here
    full = marks.adaptive.mark_verdicts
    monkeypatch.setattr(marks.adaptive, "mark_verdicts", partial(full, n_permutations=199))
    config = sweep.load_grid(ROOT / "tools" / "grids" / "ci_lesson10_fraction.toml").jobs[0].config
    config = config.with_(n_train=300, user_sizes=(0.04,), n_test=100)
    results = tmp_path / "out.jsonl"
    marks.fraction_job(config, str(results), "ci", "demo")
    lines = results.read_text().splitlines()
    assert len(lines) == 1
    written = json.loads(lines[0])
    assert sweep.record_id(written) == sweep.here_id(config)  # a rerun skips it
    assert reproduction.record_problem(written, "ci") is None  # eq. 6 fields for the table
    assert written["users"] == ["YIQ user", "own-T user", "blend user", "unmarked user"]
    users = written["marks"]
    assert [u["mark"] for u in users] == ["YIQ", "own T", "blend", "none"]
    assert users[3]["twin_p"] is None and users[3]["credit"] != "the mark"
    assert users[3]["psnr_median"] is None and users[0]["psnr_median"] > 10
    assert all(u["innocent_users"] == 1000 and len(u["innocent_ci"]) == 2 for u in users[:3])
    assert users[0]["marked_share"] == 12 / 300


def _mark(mark: str, twin_p, rejected, membership_p: float) -> dict:
    none = mark == "none"
    return {
        "mark": mark,
        "twin_p": None if none else twin_p,
        "innocent_rejected": None if none else rejected,
        "innocent_users": None if none else 1000,
        "membership_p": membership_p,
    }


def _fraction_record(n_train: int, fraction: float, seed: int, p: dict, member: float) -> dict:
    """A record of the marks job, reduced to what the metrics read; ``p``: twin p per mark."""
    marks_ = [_mark(m, p.get(m), 10, 1e-4) for m in ("YIQ", "own T", "blend")]
    return {
        "config": {"n_train": n_train, "user_sizes": [fraction], "seed": seed},
        "marks": marks_ + [_mark("none", None, None, member)],
        "train_accuracy": 0.96,
        "test_accuracy": 0.62,
        "_where": f"demo:{seed}",
    }


def _records(p: dict, member_large: float = 0.5) -> list[dict]:
    return [
        _fraction_record(n, f, s, p, 1e-4 if n == 2500 else member_large)
        for n in (2500, 10000)
        for f in (0.005, 0.04)
        for s in (0, 1, 2)
    ]


def test_twin_power_reads_yes_only_when_every_hue_mark_is_found() -> None:
    found = reproduction.twin_test_power(_records({"YIQ": 0.001, "own T": 0.001, "blend": 0.9}))
    assert found.verdict == "yes" and "blend 0/6" in found.number and "YIQ 6/6" in found.number
    lost = reproduction.twin_test_power(_records({"YIQ": 0.5, "own T": 0.001, "blend": 0.001}))
    assert lost.verdict == "partly" and statistics.fmean(lost.values) == 0.5
    none = reproduction.twin_test_power(_records({"YIQ": 0.5, "own T": 0.2, "blend": 0.001}))
    assert none.verdict == "no"  # the blend mark's success does not count for the hue marks


def test_innocent_fpr_reads_no_when_the_test_exceeds_its_level() -> None:
    fine = _records({"YIQ": 0.5, "own T": 0.5, "blend": 0.5})  # 10 of 1,000 per mark: 1 %
    assert reproduction.twin_innocent_fpr(fine).verdict == "yes"
    broken = [
        {
            **r,
            "marks": [
                {**m, "innocent_rejected": 50} if m["innocent_users"] else m for m in r["marks"]
            ],
        }
        for r in fine
    ]  # 5 %: a test that does not hold its level
    assert reproduction.twin_innocent_fpr(broken).verdict == "no"


def test_membership_regimes_need_the_larger_learner_to_escape() -> None:
    p = {"YIQ": 0.5, "own T": 0.5, "blend": 0.5}
    assert reproduction.membership_alone_by_regime(_records(p, member_large=0.5)).verdict == "yes"
    everyone = reproduction.membership_alone_by_regime(_records(p, member_large=1e-4))
    assert everyone.verdict == "no" and "n_train 10000: 6/6" in everyone.number
    one_regime = [r for r in _records(p) if r["config"]["n_train"] == 2500]
    assert reproduction.membership_alone_by_regime(one_regime) is None


def test_a_record_of_another_job_is_refused_with_its_line() -> None:
    with pytest.raises(reproduction.ReproductionError, match="demo:3.*marks.py"):
        reproduction.twin_test_power([{"config": {"n_train": 10}, "_where": "demo:3"}])
