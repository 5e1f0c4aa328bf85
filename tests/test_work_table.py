"""The work table (issue 19): every lesson's trainings, read from the settings the lessons read."""

from anw_helpers.profiles import PROFILES, get_profile
from tools.work import lesson_trainings


def test_ci_work_covers_every_training_lesson_once():
    profile = get_profile("ci")
    rows = lesson_trainings(profile)
    assert {r.lesson for r in rows} == {"03", "05", "06", "07", "08"}
    assert all(r.presentations > 0 for r in rows)
    # the capacity curve's widest network is lesson 03's learner, from the cache: not counted twice
    assert not any(r.lesson == "05" and f"width {profile.config.width}" in r.what for r in rows)
    many = profile.lessons.many_users
    lesson07 = [r for r in rows if r.lesson == "07"]
    assert len(lesson07) == 2 * len(many.fractions) and all(
        r.images == many.n_train for r in lesson07
    )


def test_adversarial_training_costs_steps_plus_one_passes():
    rows = lesson_trainings(PROFILES["gpu"])
    pgd = next(r for r in rows if "PGD-3" in r.what)
    assert pgd.passes == 4
