"""Lesson 07's tilted-rotation users (tools/jobs/tilted.py, issue 26): the grid, the data the job
builds (the grid config's users, each in her own tilted space), the model-cache key that keeps it
apart from a YIQ learner of the same config, one record per learner, and its metric in
tools/reproduction.py. Fake data and an untrained model: nothing trains."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from anw_helpers import adaptive
from anw_helpers.datasets import ImageSet
from anw_helpers.profiles import get_profile, many_users_config
from anw_helpers.train import learner_data, model_cache_key
from tools import reproduction as rp
from tools import sweep
from tools.jobs import tilted

ROOT = Path(__file__).resolve().parents[1]
GRID = ROOT / "tools" / "grids" / "ci_fig5a_tilted.toml"


def _image_set(n: int, seed: int) -> ImageSet:
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
    return ImageSet(images, torch.arange(n) % 10, tuple(str(c) for c in range(10)), f"fake{seed}")


SETS = {"train": _image_set(400, 0), "test": _image_set(300, 1)}


def _small(config, keys=(90.0, 210.0, None, 330.0)):
    """``config`` shrunk to four users of 10 photos on 200 images (fast on fake data)."""
    n = len(keys)
    return config.with_(
        n_train=200, n_test=50, user_sizes=(10,) * n, keys=keys, color_space_seeds=(None,) * n
    )


def test_the_grid_is_fig_5a_at_f_1_with_its_keys_and_names_the_job() -> None:
    grid = sweep.load_grid(GRID)
    assert sweep.job_function(grid) is tilted.tilted_job
    ci = get_profile("ci")
    setting = ci.lessons.many_users
    base = ci.config.with_(n_train=setting.n_train, batch_size=setting.batch_size)
    configs = [j.config for j in grid.jobs]
    assert configs == [
        many_users_config(base.with_(seed=s), setting.n_users, 1.0) for s in (0, 1, 2)
    ]
    many = sweep.load_grid(ROOT / "tools" / "grids" / "ci_fig5a_many_users.toml")
    own_f1 = [
        j.config for j in many.jobs if all(s is not None for s in j.config.data.color_space_seeds)
    ]
    assert [c.data.keys for c in configs] == [c.data.keys for c in own_f1]
    assert all(k is not None for c in configs for k in c.data.keys)  # every user watermarks


def test_the_job_builds_the_configs_users_each_in_her_own_tilted_space(monkeypatch) -> None:
    monkeypatch.setattr("anw_helpers.train.load_cifar10", lambda split: SETS[split])
    config = _small(sweep.load_grid(GRID).jobs[1].config)
    data, azimuths = tilted.tilted_learner_data(config, SETS["train"], SETS["test"])
    yiq = learner_data(config)  # what the default job trains for the same config
    for mine, theirs in zip(data.users + [data.held_out], yiq.users + [yiq.held_out]):
        assert torch.equal(mine.indices, theirs.indices) and mine.key == theirs.key
    drawn = adaptive.tilt_azimuths(4, seed=1).tolist()  # the recipe's seed, lesson 07's draw
    assert azimuths == [drawn[0], drawn[1], None, drawn[3]]
    for user, a in zip(data.users, azimuths):
        if a is None:
            assert user.color_space is None
        else:
            wanted = adaptive.tilted_color_space(tilted.TILT, a)
            torch.testing.assert_close(user.color_space, wanted)
    assert torch.equal(data.held_out.color_space, data.users[0].color_space)


def test_the_cache_key_keeps_tilted_users_apart_from_yiq_users_of_the_same_config(
    monkeypatch,
) -> None:
    """A wrong cache hit would record a YIQ learner as a tilted one: the key must differ for the
    same config, stay the same for the same draw (a rerun loads it) and change with the draw."""
    monkeypatch.setattr("anw_helpers.train.load_cifar10", lambda split: SETS[split])
    config = _small(sweep.load_grid(GRID).jobs[0].config)
    data, _ = tilted.tilted_learner_data(config, SETS["train"], SETS["test"])
    again, _ = tilted.tilted_learner_data(config, SETS["train"], SETS["test"])
    other, _ = tilted.tilted_learner_data(config, SETS["train"], SETS["test"], tilt=10.0)
    key = model_cache_key(config, data)
    assert key == model_cache_key(config, again)
    assert key != model_cache_key(config, learner_data(config))
    assert key != model_cache_key(config, other)


def test_a_config_with_u11_colour_spaces_is_refused() -> None:
    config = _small(sweep.load_grid(GRID).jobs[0].config)
    config = config.with_(color_space_seeds=(1, None, None, None))
    with pytest.raises(ValueError, match="color_space_seeds"):
        tilted.tilted_learner_data(config, SETS["train"], SETS["test"])


def test_one_job_appends_one_record_that_the_reproduction_table_reads(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr("anw_helpers.datasets.load_cifar10", lambda split: SETS[split])
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 10)).eval()
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
        return SimpleNamespace(model=model, data=data, record=record, from_cache=False)

    monkeypatch.setattr("anw_helpers.train.train_learner", fake_train)
    # lessons 03-04's checks (a gradient search: seconds) are the sweep's, tested in test_sweep.py
    monkeypatch.setattr(sweep, "lesson_checks", lambda model, user, held: None)
    config = _small(sweep.load_grid(GRID).jobs[0].config)
    results = tmp_path / "out.jsonl"
    tilted.tilted_job(config, str(results), "ci", "demo")
    (line,) = results.read_text().splitlines()
    written = json.loads(line)
    assert sweep.record_id(written) == sweep.here_id(config)  # a rerun skips it
    block = written["tilted"]
    assert block["tilt"] == tilted.TILT and block["azimuth_seed"] == 0
    assert block["azimuths"][2] is None and block["psnr"][2] is None
    assert all(0 <= c <= 1 for c in block["clipped"] if c is not None)
    assert all(p > 5 for p in block["psnr"] if p is not None)
    assert rp.record_problem(written, "ci") is None
    out = rp.tilted_keys_matched([{**written, "_where": "out.jsonl line 1"}])
    assert out is not None and "of 3 users matched" in out.number


def _record(matches: list[bool], seed: int = 0) -> dict:
    n = len(matches)
    keys = [90.0] * n
    return {
        "config": {"seed": seed},
        "user_keys": keys,
        "k_hat": [90.0 if m else 270.0 for m in matches],
        "match": matches,
        "gap": [0.1 if m else -0.1 for m in matches],
        "tilted": {
            "azimuths": [10.0] * n,
            "psnr": [11.0] * n,
            "clipped": [0.4] * n,
            "held_out_k_hat_own_space": 0.0,
            "held_out_at_zero_own_space": True,
        },
        "_where": "test line 1",
    }


def test_the_metric_reads_most_users_matched_as_yes_and_few_as_no() -> None:
    most = [_record([True] * 20 + [False] * 5, s) for s in range(3)]
    out = rp.tilted_keys_matched(most)
    assert out.verdict == "yes" and "60 of 75 users matched" in out.number
    assert "median PSNR 11.0 dB" in out.number and "40 %" in out.number
    assert "3 of 3" in out.number
    few = [_record([True] * 5 + [False] * 20, s) for s in range(3)]  # 20 %: must not read yes
    assert rp.tilted_keys_matched(few).verdict == "no"
    assert rp.tilted_keys_matched([]) is None


def test_the_metric_refuses_records_of_another_job() -> None:
    plain = _record([True] * 4)
    del plain["tilted"]  # e.g. a U(-1, 1) learner of ci_fig5a_many_users.jsonl
    with pytest.raises(rp.ReproductionError, match="tilted-rotation job"):
        rp.tilted_keys_matched([plain])
    wrong = _record([True] * 4)
    wrong["tilted"]["held_out_at_zero_own_space"] = False  # disagrees with k̂ = 0
    with pytest.raises(rp.ReproductionError, match="held-out"):
        rp.tilted_keys_matched([wrong])
