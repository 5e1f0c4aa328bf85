"""The blue-channel watermark in a learner (Sec. 5.3, Fig. 4; issue 26): eq. 6 over intensities
on a model whose loss minimum is known by construction, the sweep job's data and record, its grid
and the reproduction metric."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from toy_models import HueMatcher, Remembers

from anw_helpers import verify
from anw_helpers.color import blue_channel_watermark, blue_pixel_positions
from anw_helpers.datasets import ImageSet, to_float, to_uint8
from anw_helpers.profiles import get_profile
from anw_helpers.users import build_learner_data
from tools import reproduction as rp
from tools import sweep
from tools.jobs import blue

ROOT = Path(__file__).resolve().parent.parent
GRID = ROOT / "tools" / "grids" / "ci_fig4_blue.toml"


def _user(n: int = 6, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    image = to_float(to_uint8(torch.rand(3, 8, 8, generator=g)))
    return image, image.expand(n, 3, 8, 8).clone(), torch.zeros(n, dtype=torch.int64)


# ------------------------------------------------------------------- eq. 6 over intensities
@pytest.mark.parametrize("s_star", [0.1, 0.3, 0.5, 0.12, 0.28, 0.44])
def test_the_intensity_search_finds_the_users_intensity_on_their_positions(s_star):
    image, images, labels = _user()
    where = blue_pixel_positions(8, 8, 8, seed=3)
    model = HueMatcher(blue_channel_watermark(image, s_star, where))  # remembers the marked photo
    result = verify.intensity_search(model, images, labels, where)
    assert result.signatures.tolist() == list(verify.BLUE_INTENSITIES)
    assert result.best == pytest.approx(s_star) and result.matches(s_star)
    assert result.gap(s_star) > 0
    other = blue_pixel_positions(8, 8, 8, seed=4)  # the wrong secret: another user's positions
    assert not verify.intensity_search(model, images, labels, other).matches(s_star)


def test_an_innocent_model_reads_unmarked_and_matches_no_intensity():
    image, images, labels = _user()
    where = blue_pixel_positions(8, 8, 8, seed=3)
    result = verify.intensity_search(HueMatcher(image), images, labels, where)  # saw it clean
    assert result.best == 0.0  # 0 = the clean photos, as k = 0 for the hue
    assert not any(result.matches(s) for s in blue.INTENSITIES)
    assert result.gap(0.3) < 0


def test_intensity_matches_follow_the_strict_tau_exactly_on_the_grid():
    assert verify.intensity_match(0.22, 0.3) and verify.intensity_match(0.38, 0.3)
    assert not verify.intensity_match(0.2, 0.3) and not verify.intensity_match(0.4, 0.3)
    assert verify.intensity_match(0.12, 0.1) and verify.intensity_match(0.44, 0.5)
    losses = torch.ones(len(verify.BLUE_INTENSITIES))
    losses[verify.BLUE_INTENSITIES.index(0.2)] = 0.0  # exactly tau from 0.3: outside
    result = verify.IntensitySearchResult(torch.tensor(verify.BLUE_INTENSITIES), losses)
    assert result.gap(0.3) == pytest.approx(-1.0) and not result.matches(0.3)


def test_the_intensity_search_rejects_bad_intensities():
    _, images, labels = _user()
    where = blue_pixel_positions(8, 8, 8)
    model = HueMatcher(images[0])
    for bad in ([], [0.2, 1.5], [-0.1]):
        with pytest.raises(ValueError, match="intensit"):
            verify.intensity_losses(model, images, labels, where, bad)


# --------------------------------------------------------------------- the job's data and record
def _data(n_users: int = 3, size: int = 5):
    g = torch.Generator().manual_seed(0)
    classes = tuple(f"c{i}" for i in range(10))

    def images(n: int) -> ImageSet:
        x = torch.randint(0, 256, (n, 3, 8, 8), dtype=torch.uint8, generator=g)
        return ImageSet(x, torch.zeros(n, dtype=torch.int64), classes)

    return build_learner_data(
        images(120), images(60), 100, (size,) * n_users, (None,) * n_users, n_test=20
    )


def test_the_job_marks_each_users_training_photos_on_their_own_positions():
    data = _data()
    seeds = [blue.position_seed(0, u) for u in range(3)]
    marked, positions = blue.blue_marked_data(data, blue.INTENSITIES, seeds)
    assert [len(p) for p in positions] == [8, 8, 8]
    assert len({tuple(p.tolist()) for p in positions}) == 3  # each user their own positions
    others = torch.ones(len(data.train), dtype=torch.bool)
    for user, s, where in zip(data.users, blue.INTENSITIES, positions):
        others[user.indices] = False
        blue_values = marked.train.images[user.indices, 2].reshape(len(user), -1)[:, where]
        assert torch.all(blue_values == round(s * 255))  # the mark, as a shared uint8 photo
        expected = to_uint8(blue_channel_watermark(user.clean(), s, where))
        assert torch.equal(marked.train.images[user.indices], expected)
        assert torch.equal(user.images, data.train.images[user.indices])  # the users keep theirs
    assert torch.equal(marked.train.images[others], data.train.images[others])
    assert marked.held_out is data.held_out and marked.test is data.test
    assert marked.train.origin is None  # cached by its pixels, never as the unmarked set
    with pytest.raises(ValueError, match="one intensity"):
        blue.blue_marked_data(data, blue.INTENSITIES[:2], seeds)


def _config(**changes):
    three = dict(user_sizes=(5, 5, 5), keys=(None,) * 3, color_space_seeds=(None,) * 3)
    return get_profile("ci").config.with_(**{**three, **changes})


def _run_job(monkeypatch, results: Path, seed: int = 0) -> dict:
    """The job with the training replaced: the 'learner' remembers its marked training photos."""
    data = _data()
    monkeypatch.setattr("anw_helpers.train.learner_data", lambda config: data)

    def train_learner(config, progress, retrain, data):
        users = torch.cat([u.indices for u in data.users])
        model = Remembers(to_float(data.train.images[users]), margin=3.0, scale=200.0)
        record = SimpleNamespace(
            train_accuracy=0.9,
            test_accuracy=0.5,
            user_accuracy=1.0,
            images_per_second=100.0,
            epoch_seconds=[1.0],
        )
        return SimpleNamespace(model=model, record=record, from_cache=False)

    monkeypatch.setattr("anw_helpers.train.train_learner", train_learner)
    return blue.blue_channel_job(_config(seed=seed), str(results), "ci", f"seed={seed}")


def test_the_job_verifies_every_user_and_writes_a_record_the_table_reads(tmp_path, monkeypatch):
    results = tmp_path / "fig4.jsonl"
    r = _run_job(monkeypatch, results)
    assert r["blue_intensities"] == list(blue.INTENSITIES) and r["job"] == blue.JOB
    assert r["blue_s_hat"] == pytest.approx(list(blue.INTENSITIES)) and all(r["blue_match"])
    assert all(g > 0 for g in r["blue_gap"]) and len(r["held_out_blue_s_hat"]) == 3
    assert r["user_keys"] == [None] * 3 and r["match"] == [None] * 3  # no hue mark
    assert sweep.record_id(json.loads(results.read_text())) == sweep.here_id(_config(seed=0))
    (back,) = rp.read_results(results, tmp_path, "ci")
    outcome = rp.blue_intensities_matched([back])
    assert outcome.number.startswith("3/3 matched (intensities 0.1, 0.3, 0.5)")
    with pytest.raises(ValueError, match="keys"):
        blue.blue_channel_job(_config(keys=(60.0, None, None)), str(results), "ci", "x")


# ---------------------------------------------------------------------- the grid and the metric
def test_the_grid_parses_and_names_the_blue_job():
    grid = sweep.load_grid(GRID)
    assert sweep.job_function(grid) is blue.blue_channel_job and grid.job == blue.JOB
    ci = get_profile("ci").config
    three = dict(user_sizes=(50, 50, 50), keys=(None,) * 3, color_space_seeds=(None,) * 3)
    assert [j.config for j in grid.jobs] == [ci.with_(seed=s, **three) for s in (0, 1, 2)]


def _record(s_hat, held=(0.0, 0.0, 0.0), seed=0, where="r.jsonl line 1") -> dict:
    return {
        "_where": where,
        "config": {"seed": seed},
        "blue_intensities": list(blue.INTENSITIES),
        "blue_s_hat": list(s_hat),
        "blue_match": [verify.intensity_match(h, s) for h, s in zip(s_hat, blue.INTENSITIES)],
        "held_out_blue_s_hat": list(held),
        "held_out_blue_match": [
            verify.intensity_match(h, s) for h, s in zip(held, blue.INTENSITIES)
        ],
    }


def test_the_blue_metric_gives_the_share_the_spread_and_the_verdict():
    paper = _record(blue.PAPER_S_HAT)
    o = rp.blue_intensities_matched([paper, _record((0.1, 0.3, 0.5), seed=1)])
    assert o.verdict == "yes" and o.number == (
        "6/6 matched (intensities 0.1, 0.3, 0.5); held-out users matched 0/6"
    )
    assert o.values == pytest.approx((0.02, 0.02, 0.06, 0.0, 0.0, 0.0)) and o.quantity == "|ŝ − s*|"
    assert rp.blue_intensities_matched([_record((0.1, 0.0, 0.7))]).verdict == "no"  # 1/3
    held_matches = rp.blue_intensities_matched([_record((0.1, 0.3, 0.5), held=(0.1, 0.0, 0.0))])
    assert held_matches.verdict == "partly" and held_matches.number.endswith("matched 1/3")
    assert rp.blue_intensities_matched([]) is None
    lying = {**paper, "blue_match": [True, True, False]}
    with pytest.raises(rp.ReproductionError, match="r.jsonl line 1: user 2"):
        rp.blue_intensities_matched([lying])
    with pytest.raises(rp.ReproductionError, match="blue-channel job"):
        rp.blue_intensities_matched([{"_where": "x", "config": {"seed": 0}}])
    assert "no held-out user matched" in rp.bar_text(
        next(c for c in rp.load_claims(rp.DEFAULT_CLAIMS, ROOT) if c.id == "fig-4")
    )


def test_lesson_02_links_its_blue_channel_section_to_the_fig_4_row():
    lesson = (ROOT / "notebooks" / "02_the_lct_watermark.py").read_text(encoding="utf-8")
    section = lesson.split("## 4. The less noticeable watermark", 1)[1].split("\n# ## 5.", 1)[0]
    assert "(../docs/reproduction.md#fig-4)" in section
    assert '<a id="fig-4"></a>' in rp.DEFAULT_OUT.read_text(encoding="utf-8")
