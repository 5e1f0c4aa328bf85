"""tools.jobs.marks (issue 27's marking-fraction grid): the grid parses, and one job writes one
record per learner with every user's tests, on fake data and an untrained model (no training)."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import torch

from anw_helpers.datasets import ImageSet
from anw_helpers.models import build_model
from tools import sweep
from tools.jobs import marks

ROOT = Path(__file__).resolve().parents[1]


def _image_set(n: int, seed: int) -> ImageSet:
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
    return ImageSet(images, torch.arange(n) % 10, tuple(str(c) for c in range(10)), f"fake{seed}")


def test_the_fraction_grid_names_the_job_and_both_regimes() -> None:
    grid = sweep.load_grid(ROOT / "tools" / "grids" / "ci_lesson10_fraction.toml")
    assert sweep.job_function(grid) is marks.fraction_job
    assert len(grid.jobs) == 24
    assert {j.config.data.n_train for j in grid.jobs} == {2500, 10000}
    assert {j.config.data.user_sizes[0] for j in grid.jobs} == {0.005, 0.01, 0.02, 0.04}


def test_one_job_appends_one_record_with_every_user_under_every_test(tmp_path, monkeypatch) -> None:
    sets = {"train": _image_set(400, 0), "test": _image_set(900, 1)}
    monkeypatch.setattr("anw_helpers.datasets.load_cifar10", lambda split: sets[split])
    torch.manual_seed(0)
    model = build_model("small_resnet", 10, 4).eval()
    record = SimpleNamespace(train_accuracy=0.9, test_accuracy=0.5)

    def fake_train(config, data, progress, retrain):
        assert len(data.users) == 4 and len(data.users[0]) == 12  # 0.04 of 300
        return SimpleNamespace(model=model, record=record, from_cache=False)

    monkeypatch.setattr("anw_helpers.train.train_learner", fake_train)
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
    users = written["users"]
    assert [u["mark"] for u in users] == ["YIQ", "own T", "blend", "none"]
    assert users[3]["twin_p"] is None and users[3]["credit"] != "the mark"
    assert users[3]["psnr_median"] is None and users[0]["psnr_median"] > 10
    assert all(u["innocent_users"] == 1000 and len(u["innocent_ci"]) == 2 for u in users[:3])
    assert users[0]["marked_share"] == 12 / 300
