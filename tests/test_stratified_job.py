"""tools/jobs/stratified.py: lesson 11's section f as a sweep job (one record per learner)."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import torch

from anw_helpers import calibration
from anw_helpers.datasets import ImageSet
from anw_helpers.recipe import LearnerConfig
from tools import sweep
from tools.jobs import stratified
from tools.reproduction import record_problem


def _photos() -> ImageSet:
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (300, 3, 4, 4), generator=g, dtype=torch.uint8)
    classes = ("cat", "dog", "ship")
    return ImageSet(images, torch.arange(300) % 3, classes)


def test_the_job_appends_one_sweep_record_with_every_arm(tmp_path, monkeypatch):
    photos, trained = _photos(), []
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(48, 3)).eval()

    def fake_train(config, data, progress, retrain):
        trained.append(data)
        record = SimpleNamespace(train_accuracy=0.5, test_accuracy=0.4)
        return SimpleNamespace(model=model, record=record, from_cache=True)

    monkeypatch.setattr("anw_helpers.datasets.load_cifar10", lambda split: photos)
    monkeypatch.setattr("anw_helpers.train.train_learner", fake_train)
    monkeypatch.setattr(calibration, "one_subject_check", _quick_check)
    config = LearnerConfig().with_(n_train=200, user_sizes=(12,), keys=(60.0,))
    results = tmp_path / "strata.jsonl"
    stratified.one_subject_job(config, str(results), "ci", "seed=0 keys=60")
    (line,) = results.read_text().splitlines()
    record = json.loads(line)
    assert record_problem(record, "ci") is None  # tools.reproduction can read it
    assert sweep.record_id(record) in sweep.read_finished(results)[0]  # a rerun skips it
    assert (
        record["config"] == json.loads(json.dumps(config.flat()))
        and record["label"] == "seed=0 keys=60"
    )
    assert set(record["accused"]) == set(calibration.ARMS)
    assert record["innocent_users"] == 100 // 12 and len(trained) == 1
    assert bool((trained[0].users[0].labels == 1).all())  # the owner photographs dogs only


_CHECK = calibration.one_subject_check


def _quick_check(model, owner, test):
    return _CHECK(model, owner, test, 19, 19)


def test_strata_record_counts_accusations_and_writes_inconclusive_tests_as_null():
    p = torch.tensor([0.001, 0.2, math.nan, 0.04], dtype=torch.float64)
    check = calibration.OneSubjectCheck(
        60.0, 0.1, 0.07, torch.tensor([60.0, 90.0, 0.0, 60.0]), {a: p for a in calibration.ARMS}
    )
    record = stratified.strata_record(check, 60.0, 50)
    assert record["accused"]["same class"]["0.05"]["count"] == 2
    assert record["accused"]["same class"]["0.01"]["count"] == 1
    assert record["p_values"]["same class"][2] is None
    assert record["innocent_near_key"] == 3 and record["match"] == [True]
    assert record["held_out_k_hat"] == 60.0 and record["held_out_at_zero"] is False
