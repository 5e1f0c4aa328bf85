"""The instructors' pre-train command (issue 14): the models it covers, its report, sharing.

Training is replaced by a fake: nothing here trains a model.
"""

from __future__ import annotations

import io
import stat
from types import SimpleNamespace

import pytest
import torch

from anw_helpers.profiles import PROFILES, LessonSettings, ManyUsersSetting, Profile
from anw_helpers.recipe import LearnerConfig
from tools import pretrain as tool
from tools.work import lesson_trainings

TINY = Profile(
    "tiny",
    "tests",
    "no training",
    "none",
    LearnerConfig().with_(n_train=200, epochs=1),
    LessonSettings(
        capacity=(("small_resnet", 4), ("small_resnet", 0)),
        architectures=(),
        defences=("colour jitter", "DP-SGD, noise 1.0, clip 1.0"),
        fine_tunes=((1, 0.01),),
        many_users=ManyUsersSetting(100, 10, (0.4,), 64),
    ),
)


def test_lesson_models_are_each_trained_once_and_follow_the_profile():
    rows = tool.lesson_models(TINY, with_dp=False)
    assert rows[0].config == TINY.config and len({r.config for r in rows}) == len(rows)
    whats = [r.what for r in rows]
    assert "capacity: small_resnet width 16" not in whats  # that is lesson 03's learner
    assert [r.lesson for r in rows].count("07") == 2  # one fraction, two conditions
    assert not any("DP-SGD" in w for w in whats)
    assert any("DP-SGD" in r.what for r in tool.lesson_models(TINY, with_dp=True))


@pytest.mark.parametrize("name", list(PROFILES))
def test_lesson_models_agree_with_the_work_table(name):
    """The work table (tools/work.py) counts the same trainings for lessons 03-07's learners."""
    profile = PROFILES[name]
    ours = [
        r for r in tool.lesson_models(profile, with_dp=True) if r.lesson in ("03", "05", "06", "07")
    ]
    theirs = [
        t
        for t in lesson_trainings(profile)
        if t.lesson in ("03", "05", "06", "07") and not t.what.startswith("fine-tune")
    ]
    assert len(ours) == len(theirs)
    recipes = [r.config.recipe for r in ours]
    assert [(r.model, r.width) for r in recipes] == [(t.model, t.width) for t in theirs]


def _fake_train(cached=(), failing=()):
    calls = []

    def train(config, progress=True):
        calls.append(config)
        if config in failing:
            raise RuntimeError("out of memory")
        record = SimpleNamespace(test_accuracy=0.5)
        return SimpleNamespace(
            from_cache=config in cached, record=record, cache_path=f"/c/m{len(calls)}.pt"
        )

    return train, calls


def test_pretrain_reports_each_model_and_a_summary_and_goes_on_after_a_failure():
    rows = tool.lesson_models(TINY, with_dp=False)
    train, calls = _fake_train(cached={rows[0].config}, failing={rows[1].config})
    out = io.StringIO()
    counts = tool.pretrain(rows, train=train, out=out)
    assert calls == [r.config for r in rows]
    assert counts == {"cached": 1, "trained": len(rows) - 2, "missing": 0, "failed": 1}
    lines = out.getvalue().splitlines()
    assert (
        lines[1].startswith(f"[1/{len(rows)}] lesson 03: the learner (one user)")
        and ": cached in" in lines[1]
    )
    assert any("FAILED (RuntimeError: out of memory)" in line for line in lines)
    assert lines[-1].startswith(f"{len(rows)} models: 1 cached, {len(rows) - 2} trained, 1 failed")


def test_main_trains_the_profile_and_shares_the_cache(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ANW_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(tool, "get_profile", lambda name: TINY)
    train, calls = _fake_train()
    monkeypatch.setattr("anw_helpers.train.train_learner", train)
    model = tmp_path / "cache" / "models" / "m.pt"
    model.parent.mkdir(parents=True)
    model.write_bytes(b"x")
    model.chmod(0o600)  # as atomic_write leaves it
    assert tool.main(["--profile", "tiny", "--share"]) == 0
    assert len(calls) == len(tool.lesson_models(TINY))
    assert model.stat().st_mode & stat.S_IRGRP
    folder = model.parent.stat().st_mode
    assert folder & stat.S_ISGID and folder & stat.S_ISVTX and folder & stat.S_IWGRP
    assert "models: " in capsys.readouterr().out


def test_main_exits_1_when_a_model_fails(tmp_path, monkeypatch):
    monkeypatch.setenv("ANW_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(tool, "get_profile", lambda name: TINY)
    train, _ = _fake_train(failing={TINY.config})
    monkeypatch.setattr("anw_helpers.train.train_learner", train)
    assert tool.main(["--profile", "tiny"]) == 1


def test_unknown_profile_is_one_line(capsys):
    with pytest.raises(SystemExit):
        tool.main(["--profile", "nope"])
    assert "unknown profile 'nope'" in capsys.readouterr().err


def test_source_shift_compares_verdicts_on_a_second_jpeg_copy(monkeypatch, capsys):
    """tools.source_shift: a toy model that remembers one watermarked photo (no training)."""
    from anw_helpers.datasets import to_float
    from anw_helpers.users import User, watermark_uint8
    from tests.toy_models import HueMatcher
    from tools import source_shift

    ramp = torch.linspace(40, 215, 32)
    photo = (
        torch.stack(
            [
                ramp[None, :].expand(32, 32),
                ramp[:, None].expand(32, 32),
                torch.full((32, 32), 120.0),
            ]
        )
        .round()
        .to(torch.uint8)[None]
    )
    again = source_shift.jpeg_roundtrip(photo)
    assert again.dtype == torch.uint8 and again.shape == photo.shape
    assert 0 < (again.float() - photo.float()).abs().mean() < 4  # a small lossy change
    model = HueMatcher(to_float(watermark_uint8(photo, 60.0))[0]).eval()
    label = torch.zeros(1, dtype=torch.int64)
    who = [User(name, photo, label, 60.0) for name in ("user0", "held-out")]
    fake = SimpleNamespace(model=model, data=SimpleNamespace(users=[who[0]], held_out=who[1]))
    monkeypatch.setattr("anw_helpers.train.train_learner", lambda config: fake)
    assert source_shift.main(["--profile", "ci"]) == 0
    out = capsys.readouterr().out
    assert out.count("k_hat    60") == 4 and "verdicts agree" in out
    monkeypatch.setattr(
        source_shift, "jpeg_roundtrip", lambda images: watermark_uint8(images, 180.0)
    )
    assert (
        source_shift.main(["--profile", "ci"]) == 1
    )  # a copy that changes the verdict is reported
    assert "VERDICTS DIFFER" in capsys.readouterr().out
