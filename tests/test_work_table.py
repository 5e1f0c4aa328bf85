"""The work table (issue 19): every lesson's trainings, read from the settings the lessons read."""

import pytest
import torch

import tools.work as work
from anw_helpers import profiles
from anw_helpers.memorisation import memorisation_plan
from anw_helpers.profiles import PROFILES, get_profile
from tools.work import lesson_trainings


def test_ci_work_covers_every_training_lesson_once():
    profile = get_profile("ci")
    rows = lesson_trainings(profile)
    assert {r.lesson for r in rows} == {"03", "05", "06", "07", "08", "10"}
    assert all(r.presentations > 0 for r in rows)
    # the capacity curve's widest network is lesson 03's learner, from the cache: not counted twice
    width = profile.config.recipe.width
    assert not any(r.lesson == "05" and f"width {width}" in r.what for r in rows)
    many = profile.lessons.many_users
    lesson07 = [r for r in rows if r.lesson == "07"]
    assert len(lesson07) == 2 * len(many.fractions) and all(
        r.images == many.n_train for r in lesson07
    )


def test_adversarial_training_costs_steps_plus_one_passes():
    rows = lesson_trainings(PROFILES["gpu"])
    pgd = next(r for r in rows if "PGD-3" in r.what)
    assert pgd.passes == 4


# --- issue 14 part 2: the profile chosen on a GPU is bounded for a free Colab T4 --------------


#: The bound of issue 14 is about 10 minutes per lesson on a free Colab T4; the projection counts
#: training only, so it must leave a couple of minutes for loading data and verifying.
_TRAINING_BOUND_MIN = 8.0


def test_cuda_chooses_the_bounded_profile(monkeypatch):
    monkeypatch.delenv("ANW_PROFILE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert profiles.auto_profile_name() == "colab"
    assert profiles.get_profile().name == "colab"
    memorisation_plan("colab")  # lesson 08 has a plan for it


def test_a_cpu_gets_the_measured_profile_and_unmeasured_ones_say_so(monkeypatch, capsys):
    monkeypatch.delenv("ANW_PROFILE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(profiles.os, "cpu_count", lambda: 16)  # a laptop with many threads
    assert profiles.auto_profile_name() == "ci"
    assert profiles.unmeasured_note("ci") is None
    for name in ("colab", "gpu", "paper"):
        assert "has not yet been run with several seeds" in profiles.unmeasured_note(name)
    assert "variants lessons 05-10 train in it have not been run" in profiles.unmeasured_note("cpu")
    profiles._say_once.cache_clear()
    profiles.get_profile("colab")
    assert "'colab' has not yet been run" in capsys.readouterr().out


def test_bounded_profile_projects_within_the_bound_on_a_t4():
    _, minutes = work.gpu_work_table(PROFILES["colab"])  # the T4 assumptions of tools.work
    assert set(minutes) == {"03", "05", "06", "07", "08", "10", "11"}
    assert all(m <= _TRAINING_BOUND_MIN for m in minutes.values()), minutes


@pytest.mark.parametrize("name", ["ci", "cpu", "colab"])
def test_automatic_profiles_never_download_cub200(name):
    profile = PROFILES[name]
    assert profile.lessons.high_res is None and profile.config.data.dataset == "cifar10"
    assert all(t.image_size == 32 for t in lesson_trainings(profile))


def test_high_resolution_run_is_only_in_explicit_profiles():
    by_hand = profiles.LessonSettings((), (), (), (), PROFILES["ci"].lessons.many_users)
    assert by_hand.high_res is None  # not by default
    for name in ("gpu", "paper"):
        assert PROFILES[name].lessons.high_res.data.dataset == "cub200"
        assert any(t.image_size == 448 for t in lesson_trainings(PROFILES[name]))


def test_gpu_minutes_from_flops_with_an_image_rate_ceiling(monkeypatch):
    t = work.Training("05", "x", "resnet18", 16, 50000, 30)  # 1.5 million presentations
    monkeypatch.setattr(work, "gflop_per_image", lambda *a: 1.0)
    assert work.gpu_minutes(t, tflops=3.0, max_images_per_second=1e9) == pytest.approx(
        1.5e6 / 3e3 / 60
    )
    monkeypatch.setattr(work, "gflop_per_image", lambda *a: 0.001)  # overheads, not FLOPs, bind
    assert work.gpu_minutes(t, tflops=3.0, max_images_per_second=8000) == pytest.approx(
        1.5e6 / 8000 / 60
    )


@pytest.mark.parametrize("flag", ["--gpu-tflops", "--gpu-max-img-s"])
def test_gpu_rates_must_be_positive(flag, capsys):
    with pytest.raises(SystemExit):
        work.main(["--profile", "colab", "--gpu-tflops", "3", flag, "0"])
    assert "must be a positive number" in capsys.readouterr().err
