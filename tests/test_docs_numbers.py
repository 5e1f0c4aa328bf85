"""Issue 28 items 2 and 6: the docs' times and settings come from, or are checked against, their
sources (the profiles, the work table, tools/measured_times.toml)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from anw_helpers.machinery import paths
from anw_helpers.profiles import PROFILES
from tools import docs_numbers as dn
from tools import work

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))


def _read(relative: str) -> str:
    return (ROOT / relative).read_text(encoding="utf-8")


def _intro(path: Path) -> str:
    """The first markdown cell of a lesson's .py."""
    return path.read_text(encoding="utf-8").split("# %% [markdown]", 1)[1].split("\n# %%", 1)[0]


def test_generated_docs_are_current():
    stale = [p for p, text in dn.render().items() if p.read_text(encoding="utf-8") != text]
    names = [str(p.relative_to(ROOT)) for p in stale]
    assert not stale, f"stale: {names}; run python -m tools.docs_numbers"


def test_check_mode_reports_a_stale_block(tmp_path, monkeypatch, capsys):
    readme = _read("README.md").replace("| 03 | 1:09 |", "| 03 | 0:59 |")
    assert readme != _read("README.md")
    good = {tmp_path / "README.md": _read("README.md")}
    monkeypatch.setattr(dn, "render", lambda root=ROOT: good)
    (tmp_path / "README.md").write_text(readme, encoding="utf-8")
    monkeypatch.setattr(dn, "ROOT", tmp_path)
    assert dn.main(["--check"]) == 1 and "README.md: stale" in capsys.readouterr().err
    assert (tmp_path / "README.md").read_text(encoding="utf-8") == readme  # --check writes nothing


def test_replace_block_and_intro_refuse_documents_without_their_place():
    with pytest.raises(ValueError, match="no generated block 'x'"):
        dn.replace_block("no markers", "x", "body")
    with pytest.raises(ValueError, match="Machine time"):
        dn.replace_intro("# %% [markdown]\n# intro\n\n# %%\nx = 1\n", "text")


def test_every_lesson_intro_has_one_machine_time_paragraph_and_no_hand_typed_minutes():
    for path in LESSONS:
        intro = _intro(path)
        assert intro.count("**Machine time**") == 1, path.name
        typed = re.findall(r"\d+(?:\.\d+)? (?:more )?min(?:ute)?s? (?:of training|in|on)", intro)
        machine = intro.split("**Machine time**", 1)[1].split("\n# **", 1)[0]
        assert all(t in machine for t in typed), (path.name, typed)


def test_measured_totals_agree_with_their_lessons():
    for name, run in dn.measured()["runs"].items():
        total = sum(dn.seconds(v) for v in run["lessons"].values())
        # each lesson is rounded to a second: the sum may differ from the total by as many seconds
        assert abs(total - dn.seconds(run["total"])) <= len(run["lessons"]), name
        # a run times lessons that exist; a lesson added since reads "not measured yet"
        assert set(run["lessons"]) <= set(dn.lesson_names()), name
        assert set(dn.retimed(run)) <= set(dn.lesson_names()), name
    assert set(dn.measured().get("changed_since_runs", {})) <= set(dn.lesson_names())


_MEASURED = dn.measured()


def _without_lesson(lesson: str, changed: dict[str, str]) -> dict:
    """tools/measured_times.toml as if no run had timed ``lesson`` and ``changed`` had changed."""
    data = dict(_MEASURED)
    data["runs"] = {
        name: {**run, "lessons": {k: v for k, v in run["lessons"].items() if k != lesson}}
        for name, run in data["runs"].items()
    }
    data["changed_since_runs"] = changed
    return data


def test_a_lesson_no_run_timed_reads_not_measured_yet(monkeypatch):
    """A lesson added after the measured runs gets no invented time (issue 29 item 5: lesson 11)."""
    three = {t.lesson: t for t in dn.lesson_times()}["03"]
    assert three.fp32_s is not None and "not measured yet" not in dn.intro_paragraph(three)
    assert f"| 03 | {dn.mss(three.bf16_s)} | {dn.mss(three.fp32_s)} |" in dn.times_table()
    monkeypatch.setattr(dn, "measured", lambda path=dn.MEASURED: _without_lesson("03", {}))
    unmeasured = {t.lesson: t for t in dn.lesson_times()}["03"]
    assert (unmeasured.bf16_s, unmeasured.fp32_s, unmeasured.fp32_alone_s) == (None, None, None)
    assert "| 03 | not measured yet | not measured yet | not measured yet |" in dn.times_table()
    intro = dn.intro_paragraph(unmeasured)
    assert "opened alone, not measured yet on 2 CPU cores" in intro
    assert not re.search(r"\d:\d\d", intro), intro  # no m:ss from anywhere
    assert re.search(r"Lessons? (\d\d, )*03(, \d\d)*: not measured yet", dn.times_notes())


def test_a_retimed_lesson_replaces_its_first_time_and_the_notes_say_so(monkeypatch):
    """A lesson timed again after it changed (a run's ``[retimed]`` table) shows the new time,
    unmarked, and the notes say when and how; the run's total still sums its own lessons."""
    data = _without_lesson("", {})
    data["runs"] = dict(data["runs"])
    data["runs"]["ci_bf16"] = {
        **data["runs"]["ci_bf16"],
        "retimed": {"date": "2026-12-07", "how": "alone", "lessons": {"04": "9:59", "05": "0:01"}},
    }
    monkeypatch.setattr(dn, "measured", lambda path=dn.MEASURED: data)
    times = {t.lesson: t for t in dn.lesson_times()}
    assert (times["04"].bf16_s, times["05"].bf16_s) == (599, 1)
    assert f"| 04 | 9:59 | {dn.mss(times['04'].fp32_s)} |" in dn.times_table()
    notes = dn.times_notes()
    assert "In the bf16 column, lessons 04 and 05 were timed again on 2026-12-07: alone." in notes


def test_a_lesson_changed_since_its_run_is_marked(monkeypatch):
    changed = {"04": "its section 2 moved"}
    monkeypatch.setattr(dn, "measured", lambda path=dn.MEASURED: _without_lesson("", changed))
    times = {t.lesson: t for t in dn.lesson_times()}
    t, five = times["04"], times["05"]
    assert f"| 04 | {dn.mss(t.bf16_s)}† | {dn.mss(t.fp32_s)}† |" in dn.times_table()
    assert "measured before the lesson changed: its section 2 moved" in dn.intro_paragraph(t)
    assert "† Lesson 04 changed since: its section 2 moved." in dn.times_notes()
    assert f"| 05 | {dn.mss(five.bf16_s)} |" in dn.times_table()  # unchanged: no mark


def test_benchmarks_fp32_table_is_the_measured_run():
    run = dn.measured()["runs"]["ci_fp32_avx2"]
    text = _read("docs/benchmarks.md").split("## The lessons in fp32 on AVX2 kernels", 1)[1]
    for lesson, mss in run["lessons"].items():
        assert f"| {lesson} | {mss} |" in text, lesson
    assert f"| **all** | **{run['total']}** |" in text
    for lesson, s in run["trainings"].items():
        row = re.search(rf"\| {lesson} \| [^|]+\| ([^|]+)\|", text).group(1)
        assert f"{s} s" in row, (lesson, row)
    assert f"at {run['learner_img_s']} img/s" in text
    assert f"trained at {run['learner_img_s_alone']} img/s" in text.replace("\u2013", "-")


def test_ci_runs_quoted_in_contributing_and_benchmarks_are_the_records():
    ci, fast = dn.measured()["ci"], dn.measured()["fast_tier"]
    contributing, bench = _read("CONTRIBUTING.md"), _read("docs/benchmarks.md")
    assert f"{ci['xeon_fp32']['seconds'] / 60:.1f} min in fp32" in contributing
    low, high = (float(x) for x in ci["epyc_fp32"]["projected_now_min"].split("-"))
    quoted = float(re.search(r"about (\d+) projected on a 2-core CPU", contributing).group(1))
    assert low - 0.5 <= quoted <= high + 0.5
    assert f"{ci['xeon_fp32']['seconds']:,} s ({ci['xeon_fp32']['seconds'] / 60:.1f} min)" in bench
    assert f"{ci['xeon_bf16']['seconds']} s ({ci['xeon_bf16']['seconds'] / 60:.1f} min)" in bench
    assert f"{fast['tests']} tests in {fast['seconds']} s, {fast['decoding_s']} s of it" in bench
    # "under a minute" for the fast tier holds once CIFAR-10 is decoded
    assert fast["seconds"] - fast["decoding_s"] < 60
    assert "under a minute" in contributing and "under a minute" in _read("README.md")


def test_the_fast_tier_benchmark_in_benchmarks_is_the_record():
    """docs/benchmarks.md's fast-tier table is tools/measured_times.toml's [fast_tier_bench], and
    the README's and CONTRIBUTING's "under a minute" for `-n auto` is what it measured."""
    b = dn.measured()["fast_tier_bench"]
    text = _read("docs/benchmarks.md").split("## The fast tier's time", 1)[1]
    passed = b["tests"] - 1  # the stale module map, as the table says
    for name, key in (
        ("one process", "one_process_s"),
        ("-n auto", "n_auto_s"),
        ("one process, AVX2 kernels", "avx2_one_process_s"),
        ("-n auto, AVX2 kernels", "avx2_n_auto_s"),
    ):
        assert f"| {name} | {b[key]:.1f} | {passed} |" in text, name
    assert max(b["n_auto_s"], b["avx2_n_auto_s"]) < 60
    assert '-m "not slow" -n auto' in _read("README.md") and "under a minute" in _read("README.md")


def test_lessons_that_load_a_cached_learner_are_the_ones_the_work_table_names():
    """A lesson that calls train_learner(profile.config) loads lesson 03's learner; one that
    trains multi_user_config(profile.config) outside lesson 05 loads lesson 05's."""
    for path in LESSONS:
        lesson, src = path.name[:2], path.read_text(encoding="utf-8")
        if lesson != "03":
            loads03 = "train_learner(profile.config" in src
            assert loads03 == (lesson in work.LOADS_LESSON03), lesson
        if lesson != "05":
            loads05 = "multi_user_config(profile.config)" in src and "train_learner(" in src
            assert loads05 == (lesson in work.LOADS_LESSON05), lesson
    # lesson 05's capacity curve holds lesson 03's learner in every profile
    for profile in PROFILES.values():
        assert "05" in work.loaded_trainings(profile), profile.name


def test_lesson05_intro_announces_lesson03s_learner():
    intro = _intro(next(p for p in LESSONS if p.name.startswith("05")))
    assert "lesson 03's learner" in intro and "opened alone" in intro.lower()


def test_t4_bound_quoted_in_the_docs_holds():
    worst = max(t.t4_alone_min or 0.0 for t in dn.lesson_times())
    for doc in ("README.md", "docs/instructors.md"):
        text = re.sub(r"\s+", " ", _read(doc))
        bounds = re.findall(r"under (\d+) min(?:utes)? on a (?:free Colab )?T4", text)
        assert bounds, doc
        assert all(worst < int(b) for b in bounds), (doc, worst, bounds)


def test_colab_t4_total_is_the_work_table_and_typed_nowhere_by_hand():
    _, minutes = work.gpu_work_table(PROFILES["colab"])
    assert f"`colab` {sum(minutes.values()):.1f} min" in dn.profile_notes()
    bench = re.sub(r"\s+", " ", _read("docs/benchmarks.md"))
    assert f"projects to {sum(minutes.values()):.1f} min" not in bench  # the README's, generated
    assert "README's lesson-times table and profile notes" in bench


def test_assumed_cpu_rate_is_tools_work_default_and_credited_to_no_missing_document():
    bench = _read("docs/benchmarks.md")
    assert f"**{work.DEFAULT_W24_RATE:.0f} img/s**, `tools.work`'s default" in bench
    for doc in ("docs/benchmarks.md", "tools/work.py", "README.md", "docs/instructors.md"):
        assert "developers' guide" not in _read(doc), doc


def test_colab_described_as_cis_learner_everywhere():
    assert PROFILES["colab"].config == PROFILES["ci"].config
    guide = re.sub(r"\s+", " ", _read("docs/instructors.md"))
    assert "`colab` trains `ci`'s learner" in guide and "10,000 images, width 32" not in guide


def test_workshop_hours_are_the_sum_of_the_intros_estimates():
    minutes = [
        int(re.search(r"\*\*Time:\*\* about (\d+) minutes", _intro(p)).group(1)) for p in LESSONS
    ]
    assert f"to about {round(sum(minutes) / 60)} hours" in _read("docs/instructors.md")


def test_user_size_quoted_in_intros_is_the_ci_learners():
    size = PROFILES["ci"].config.data.user_sizes[0]
    for path in LESSONS:
        for n in re.findall(r"(\d+) photos", _intro(path)):
            assert int(n) == size, (path.name, n)


def test_default_data_root_as_the_docs_say(monkeypatch, tmp_path):
    monkeypatch.delenv("ANW_DATA", raising=False)
    monkeypatch.setattr(paths, "_REPO_DATA", tmp_path / "missing")  # as pip-installed
    assert paths.data_root() == Path.home() / "anw_data"
    readme = re.sub(r"\s+", " ", _read("README.md"))
    assert "a clone's `data/` folder" in readme and "else `~/anw_data`" in readme
    assert "else `~/anw_data`" in _read("docs/instructors.md")


#: Lines that name a rate without stating one: code that formats a measured rate, and a table's
#: column named in a docstring.
NOT_TIME_NOTES = ('measured = ", ".join(f"{name} {rate:,.0f} img/s"', "training images/s here")


def test_the_package_keeps_no_time_notes():
    for path in sorted((ROOT / "anw_helpers").rglob("*.py")):
        notes = dn.time_notes(path.read_text())
        notes = [n for n in notes if not any(x in n for x in NOT_TIME_NOTES)]
        assert notes == [], path


def test_profiles_keep_no_time_notes():
    for module in ("anw_helpers/profiles.py", "anw_helpers/recipe.py"):
        assert dn.time_notes(_read(module)) == [], module
    ci = PROFILES["ci"]
    d, r = ci.config.data, ci.config.recipe
    assert f"{d.n_train:,} images x {r.epochs} epochs" in ci.learner_size  # lessons announce it
    assert dn.time_notes(ci.learner_size) == []


@pytest.mark.parametrize(
    "line",
    [
        "# tuned to recover the key on 2 CPU cores in a few minutes",
        '    machine="a fast GPU (A100 class), chosen explicitly: hours on a T4",',
        "# measured on 2 CPU cores: 2 + 2 fine-tuned models per condition",
        "lesson 03's learner (about 3 min on 2 CPU cores)",
        "emulated bf16 was 12 img/s against fp32's 111",
        "10,000 photos verified in 106 s",
    ],
)
def test_a_time_note_in_code_is_found(line):
    assert dn.time_notes(f"x = 1\n{line}\n") == [f"line 2: {line.strip()}"]


@pytest.mark.parametrize(
    "line",
    ["(N, 3, H, W) images", "min(512, h * w // 8)", "Fig. 3h", "measured on the circle"],
)
def test_sizes_shapes_and_code_are_no_time_notes(line):
    assert dn.time_notes(line) == []


def test_profile_notes_quote_every_measured_note_and_every_profile():
    notes = dn.profile_notes()
    for kinds in dn.measured()["profiles"].values():
        assert all(text in notes for text in kinds.values())
    assert all(f"`{name}` " in notes for name in PROFILES)
    assert notes in re.sub(r"<!--.*?-->", "", _read("README.md"))


@pytest.mark.slow  # builds every architecture of gpu and paper (about 30 s)
def test_recorded_t4_projections_are_the_work_table():
    for name, recorded in dn.measured()["projected"]["t4_training_min"].items():
        _, minutes = work.gpu_work_table(PROFILES[name])
        assert recorded == round(sum(minutes.values())), name


def test_the_module_map_names_every_module_and_refuses_a_new_one(tmp_path):
    """The README's module map (issue 29): teaching core, then machinery, then tools/; a module
    missing from it fails the map, so it cannot go stale silently."""
    assert [part for part, _ in dn.MODULE_MAP][:2] == ["teaching core", "machinery"]
    assert dn.MODULE_MAP[-1][0].startswith("tools/")
    assert dn.unmapped() == []
    for relative in (
        "anw_helpers/color.py",
        "anw_helpers/machinery/runtime.py",
        "anw_helpers/machinery/__init__.py",
        "anw_helpers/new.py",
        "tools/sweep.py",
    ):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text("a = 1\nb = 2\n")
    rows = (("core", (("color", "the watermark"),)), ("tools", (("tools.sweep", "grids"),)))
    assert dn.unmapped(tmp_path, rows) == ["anw_helpers/machinery/runtime.py", "anw_helpers/new.py"]
    with pytest.raises(ValueError, match="not in the module map: anw_helpers/machinery/runtime.py"):
        dn.module_map(tmp_path, rows)
    rows += (("machinery", (("machinery.runtime", "device"), ("new", "new"))),)
    assert "| core | `color` | the watermark | 2 |" in dn.module_map(tmp_path, rows)


def test_module_sizes_are_counted_to_two_significant_figures():
    assert [dn.about(n) for n in (46, 709, 1967, 12345)] == ["46", "710", "2,000", "12,000"]
    assert dn.module_lines(ROOT / "anw_helpers" / "plots") > dn.module_lines(
        ROOT / "anw_helpers" / "plots" / "core.py"
    )
