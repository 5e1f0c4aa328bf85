"""The instructors' pre-train command (issue 14): the models it covers, its report, sharing.

Training is replaced by a fake: nothing here trains a model.
"""

from __future__ import annotations

import io
import stat
from types import SimpleNamespace

import pytest
import torch

from anw_helpers.profiles import (
    PROFILES,
    AdaptiveSetting,
    LessonSettings,
    ManyUsersSetting,
    Profile,
)
from anw_helpers.recipe import LearnerConfig
from tools import pretrain as tool
from tools.work import lesson_trainings

TINY = Profile(
    "tiny",
    "tests",
    "no training",
    LearnerConfig().with_(n_train=200, epochs=1),
    LessonSettings(
        capacity=(("small_resnet", 4), ("small_resnet", 0)),
        architectures=(),
        defences=("colour jitter", "DP-SGD, noise 1.0, clip 1.0"),
        fine_tunes=((1, 0.01),),
        many_users=ManyUsersSetting(100, 10, (0.4,), 64),
        adaptive=AdaptiveSetting(()),  # lesson 10's rows build its users from CIFAR-10
    ),
)


def test_lesson_models_are_each_trained_once_and_follow_the_profile():
    rows = tool.lesson_models(TINY, with_dp=False)
    assert rows[0].config == TINY.config and len({r.config for r in rows}) == len(rows)
    assert not any(r.lesson == "10" for r in rows)
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

    def train(config, progress=True, data=None):
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
    monkeypatch.setattr(tool, "lesson_groups", lambda profile: [])
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
    monkeypatch.setattr(tool, "lesson_groups", lambda profile: [])
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


def test_lessons_08_10_and_11_are_covered_where_the_profile_trains_them():
    ci = tool.lesson_models(PROFILES["ci"], with_dp=False)
    tens = [r for r in ci if r.lesson == "10"]
    assert [r.what for r in tens] == ["'standard' learner", "'luma only' learner"]
    assert all(r.data is not None and r.data_name for r in tens)
    assert tens[0].config == PROFILES["ci"].config  # lesson 03's settings, lesson 10's own users
    assert not any(r.lesson == "11" for r in ci)  # extra learners are off in ci
    colab = tool.lesson_models(PROFILES["colab"], with_dp=False)
    assert sum(r.lesson == "10" for r in colab) == len(PROFILES["colab"].lessons.adaptive.recipes)
    assert [r.what for r in colab if r.lesson == "11"][0] == "one-subject learner (dogs)"
    for name in ("ci", "colab"):
        groups = tool.lesson_groups(PROFILES[name])
        assert [g.what for g in groups] == ["shadow models", "subsampled models"]


def _squeezed(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize(
    "lesson, lines",
    [
        (
            "08_compared_with_membership_inference",
            [
                "N_USERS, N_KNOWN = 10, 100",
                '[None] * (N_USERS + 1), seed=80, exclude=in_a_user, prefix="member",',
                "u.images, u.labels, profile.config.recipe, train_set.classes, name=u.name",
                "plan = memorisation.memorisation_plan(profile.name)",
                "make_users(source, [50, plan.pool_size - 50], [180.0, None], seed=8, "
                'prefix="mem")',
                "masks = memorisation.complementary_splits(plan.pool_size, plan.n_pairs, seed=8)",
                "plan.recipe(profile.config.recipe), data03.test, start_from=start_from,",
            ],
        ),
        (
            "11_calibration_appendix",
            [
                "calibration.one_subject_data(",
                'profile.config, "dog", load_cifar10("train"), unseen',
                "profile.config, data=one_subject,",
            ],
        ),
        (
            "10_the_learner_fights_back",
            [
                "KEY = 60.0",
                "TILT = 20.0",
                "PATTERN_SEED = 7",
                "user_size=int(config.data.user_sizes[0]), key=KEY, "
                "own_space=adaptive.tilted_color_space(TILT), pattern_seed=PATTERN_SEED, "
                "n_test=config.data.n_test, seed=config.recipe.seed,",
                "setting.config(config, name), data=marked.data",
            ],
        ),
    ],
)
def test_the_cells_pretrain_repeats_are_still_the_lessons(lesson, lines):
    """tools.pretrain draws lessons 08, 10 and 11's users as their cells do: if a lesson changes
    them, change tools/pretrain.py's ``_lesson*`` builders with it (else the archive lacks
    models)."""
    from pathlib import Path

    source = _squeezed((Path(__file__).parent.parent / "notebooks" / f"{lesson}.py").read_text())
    for line in lines:
        assert _squeezed(line) in source, f"{lesson} no longer has: {line}"


def test_archive_refuses_list(capsys):
    with pytest.raises(SystemExit):
        tool.main(["--profile", "ci", "--list", "--archive", "x.tar"])
    assert "leave out --list" in capsys.readouterr().err


def test_main_writes_an_archive_of_every_model_it_loaded(tmp_path, monkeypatch, capsys):
    import json
    import tarfile

    from anw_helpers import models
    from anw_helpers.machinery import checkpoint

    monkeypatch.setenv("ANW_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(tool, "get_profile", lambda name: TINY)
    (tmp_path / "cache" / "models").mkdir(parents=True)
    files = []

    def train(config, progress=True, data=None):
        path = tmp_path / "cache" / "models" / f"small_resnet-{len(files) % 2}.pt"
        if not path.exists():
            net = models.build_model("small_resnet", 3, 4, 0)
            checkpoint.save(path, net, "{}", {"model": "small_resnet", "width": 4})
        files.append(path)
        return SimpleNamespace(
            from_cache=True, record=SimpleNamespace(test_accuracy=0.5), cache_path=path
        )

    group = tool.ModelGroup("08", "shadow models", lambda: [train(None), train(None)])
    monkeypatch.setattr("anw_helpers.train.train_learner", train)
    monkeypatch.setattr(tool, "lesson_groups", lambda profile: [group])
    out = tmp_path / "tiny.tar"
    assert tool.main(["--profile", "tiny", "--archive", str(out)]) == 0
    with tarfile.open(out) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
        assert sorted(tar.getnames()) == ["manifest.json", "small_resnet-0.pt", "small_resnet-1.pt"]
    assert [f["name"] for f in manifest["files"]] == ["small_resnet-0.pt", "small_resnet-1.pt"]
    assert manifest["profile"] == "tiny" and len(files) == len(tool.lesson_models(TINY)) + 2
    assert f"{out}: 2 models" in capsys.readouterr().out
