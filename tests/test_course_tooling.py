"""Course tooling (anw_helpers.course): student versions, jupytext pairs, Colab install cells and badges, run-all.

Fast checks on the real lessons (parsing only), unit tests on small made-up lessons, and one execution
test per student notebook: it runs cell by cell up to the first exercise stub and passes only when the
first error is exactly the stub's NotImplementedError. Those execution tests are moved to the end of the
whole session (after the nbval runs of notebooks/), because the student copy of lesson 04 calls
train_learner before its exercise: by then lesson 03 has put the model in the shared cache, and the
lesson timings measured under nbval still include the training.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

from anw_helpers import course

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
LESSONS = course.lesson_sources(NOTEBOOKS)
LESSON_IDS = [p.stem for p in LESSONS]

# This module registers itself as a pytest plugin, only to run the tests named in RUN_LAST after every
# other test of the session (pytest offers no ordering without a plugin; the hook below is that plugin).
pytest_plugins = [__name__]
RUN_LAST = {"test_student_notebook_runs_to_its_first_stub"}


def pytest_collection_modifyitems(session, config, items):
    last = [i for i in items if getattr(i, "originalname", i.name) in RUN_LAST and getattr(i, "module", None) is not None
            and i.module.__name__ == __name__]
    if last:
        items[:] = [i for i in items if i not in last] + last


def test_there_are_lessons():
    assert len(LESSONS) >= 4, f"expected the course's lessons in {NOTEBOOKS}"
    numbers = [int(p.stem[:2]) for p in LESSONS]
    assert numbers[:4] == [1, 2, 3, 4], "the course opens with lessons 01-04"
    assert numbers == sorted(set(numbers)), "each lesson has its own two-digit number (issues fill the gaps, e.g. 05-08)"


# ------------------------------------------------------------------------------------------ student versions
def _lesson(tmp_path: Path, body: str, name: str = "01_demo") -> Path:
    folder = tmp_path / "notebooks"
    folder.mkdir(exist_ok=True)
    (tmp_path / "jupytext.toml").write_text((ROOT / "jupytext.toml").read_text())
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(body).lstrip())
    return path


DEMO = '''
# %% [markdown]
# # Lesson 01 — Demo
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/anw-course/anti-neuron-watermarking/blob/main/notebooks/01_demo.ipynb)
#
# ### Exercise 1.2 — the loop

# %% tags=["solution"]
def double(x):
    """Return twice x.

    More words that are not part of the message.
    """
    # BEGIN SOLUTION
    y = 2 * x
    return y
    # END SOLUTION


class Box:
    def area(self):
        """Area of the box. Only the first sentence names the exercise."""
        if True:
            # BEGIN SOLUTION
            return 6
            # END SOLUTION

# %% tags=["solution", "keep"]
total = 0
# BEGIN SOLUTION
for i in range(3):
    total += i
# END SOLUTION
'''


def test_stub_replaces_each_block_at_its_indentation_and_names_the_exercise(tmp_path):
    path = _lesson(tmp_path, DEMO)
    nb, messages = course.student_notebook(path)
    assert messages == ["Exercise: Return twice x.", "Exercise: Area of the box.", "Exercise: 1.2 — the loop"]
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0].source == textwrap.dedent('''\
        def double(x):
            """Return twice x.

            More words that are not part of the message.
            """
            raise NotImplementedError("Exercise: Return twice x.")


        class Box:
            def area(self):
                """Area of the box. Only the first sentence names the exercise."""
                if True:
                    raise NotImplementedError("Exercise: Area of the box.")''')
    assert code[1].source == 'total = 0\nraise NotImplementedError("Exercise: 1.2 — the loop")'
    assert code[0].metadata["tags"] == ["exercise"] and code[1].metadata["tags"] == ["exercise", "keep"]
    text = nbformat.writes(nb)
    assert "SOLUTION" not in text and "2 * x" not in text and "total += i" not in text
    assert "blob/main/student/01_demo.ipynb" in nb.cells[0].source, "the Colab badge should open the student copy"
    for c in code:
        compile(c.source, "cell", "exec")
    assert all(not c.get("outputs") for c in code) and set(nb.metadata) <= {"kernelspec", "colab", "accelerator"}


@pytest.mark.parametrize("body, error", [
    ('# %% tags=["solution"]\nx = 1\n', "no '# BEGIN SOLUTION'"),
    ("# %%\nx = 1\n# BEGIN SOLUTION\nx = 2\n# END SOLUTION\n", "not tagged 'solution'"),
    ('# %% tags=["solution"]\n# BEGIN SOLUTION: a\nx = 2\n', "has no '# END SOLUTION'"),
    ('# %% tags=["solution"]\nx = 2\n# END SOLUTION\n', "without a '# BEGIN SOLUTION'"),
    ('# %% tags=["solution"]\n# BEGIN SOLUTION: a\n# BEGIN SOLUTION: b\n# END SOLUTION\n', "nested"),
    ('# %% tags=["solution"]\n# BEGIN SOLUTION\nx = 2\n# END SOLUTION\n', "cannot name the exercise"),
])
def test_badly_marked_solutions_are_refused(tmp_path, body, error):
    path = _lesson(tmp_path, "# %% [markdown]\n# # Lesson 01\n\n" + body)
    with pytest.raises(ValueError, match=re.escape(error)):
        course.student_notebook(path)


def test_explicit_exercise_name(tmp_path):
    path = _lesson(tmp_path, '# %% tags=["solution"]\n# BEGIN SOLUTION: fill in x\nx = 2\n# END SOLUTION\nprint(x)\n')
    nb, messages = course.student_notebook(path)
    assert messages == ["Exercise: fill in x"]
    assert nb.cells[0].source == 'raise NotImplementedError("Exercise: fill in x")\nprint(x)'


def test_student_command_writes_and_checks_the_folder(tmp_path):
    _lesson(tmp_path, DEMO)
    _lesson(tmp_path, '# %% [markdown]\n# # Lesson 02 — No exercises\n\n# %%\nprint("hi")\n', "02_plain")
    assert course.check_student_versions(tmp_path)  # nothing written yet
    assert course.main(["--root", str(tmp_path), "student"]) == 0
    names = sorted(p.name for p in (tmp_path / "student").iterdir())
    assert names == ["01_demo.ipynb", "02_plain.ipynb", "README.md", "jupytext.toml"]
    assert course.check_student_versions(tmp_path) == []
    assert course.main(["--root", str(tmp_path), "student", "--check"]) == 0
    readme = (tmp_path / "student" / "README.md").read_text()
    assert "| 3 |" in readme and "blob/main/student/02_plain.ipynb" in readme
    (tmp_path / "student" / "99_old.ipynb").write_text("{}")
    lesson = tmp_path / "notebooks" / "02_plain.py"
    lesson.write_text(lesson.read_text().replace('"hi"', '"hello"'))
    problems = course.check_student_versions(tmp_path)
    assert any("02_plain.ipynb is stale" in p for p in problems) and any("99_old.ipynb" in p for p in problems)
    assert course.main(["--root", str(tmp_path), "student", "--check"]) == 1
    course.write_student_versions(tmp_path)
    assert course.check_student_versions(tmp_path) == [] and not (tmp_path / "student" / "99_old.ipynb").exists()


def test_committed_student_versions_are_current():
    """student/ must be what `python -m anw_helpers.course student` writes from the lessons today."""
    problems = course.check_student_versions(ROOT)
    assert not problems, "\n".join(problems) + "\nRegenerate with:  python -m anw_helpers.course student"


@pytest.mark.parametrize("lesson", LESSONS, ids=LESSON_IDS)
def test_student_versions_contain_no_solution(lesson):
    solution_lines = set()
    for cell in course.read_lesson(lesson).cells:
        inside = False
        for line in cell.source.split("\n"):
            if re.match(r"\s*# END SOLUTION", line):
                inside = False
            if inside and len(line.strip()) > 12:
                solution_lines.add(line.strip())
            if re.match(r"\s*# BEGIN SOLUTION", line):
                inside = True
    text = (ROOT / "student" / f"{lesson.stem}.ipynb").read_text(encoding="utf-8")
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    nb = nbformat.reads(text, as_version=4)
    student_code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    teacher_other = "\n".join(c.source for c in course.read_lesson(lesson).cells
                              if c.cell_type == "code" and "solution" not in c.metadata.get("tags", []))
    leaked = [l for l in solution_lines if l in student_code and l not in teacher_other]
    assert not leaked, f"solution lines in the student copy: {leaked[:3]}"


@pytest.mark.parametrize("lesson", LESSONS, ids=LESSON_IDS)
def test_student_notebook_runs_to_its_first_stub(lesson, tmp_path):
    """Execute student/<lesson>.ipynb cell by cell: the first error must be an exercise stub's NotImplementedError.

    A lesson without exercises must run to the end. (Lesson 04 trains the learner first when the model is not
    in $ANW_CACHE; run after the nbval tests, it loads lesson 03's model.)
    """
    path = ROOT / "student" / f"{lesson.stem}.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    stubs = course.stub_messages(lesson)
    env = dict(os.environ, MPLBACKEND="Agg")
    run = course.execute_notebook(nb, path.parent, env, cell_timeout=1800, name=path.name)
    problem = course.student_run_problem(run, stubs)
    assert problem is None, problem


def test_student_run_verdicts():
    """Only the stub's own NotImplementedError counts; any other first error fails, and so does no error at all."""
    stubs = ["Exercise: Return twice x."]

    def run(ename=None, evalue=""):
        error = None if ename is None else course.CellError(5, ename, evalue, "double(2)")
        return course.NotebookRun("demo.ipynb", 1.0, {5: 0.1}, error)

    assert course.student_run_problem(run("NotImplementedError", stubs[0]), stubs) is None
    assert "NameError" in course.student_run_problem(run("NameError", "name 'x' is not defined"), stubs)
    assert "not an exercise stub" in course.student_run_problem(run("NotImplementedError", "something else"), stubs)
    assert "ran to the end" in course.student_run_problem(run(), stubs)
    assert course.student_run_problem(run(), []) is None
    assert "ValueError" in course.student_run_problem(run("ValueError", "bad"), [])


# ------------------------------------------------------------------------------------------ jupytext pairs
@pytest.mark.parametrize("lesson", LESSONS, ids=LESSON_IDS)
def test_pair_is_in_sync(lesson):
    """notebooks/NN.ipynb holds exactly the cells of NN.py (as jupytext parses it), without outputs."""
    problems = course.pair_problems(lesson)
    assert not problems, "\n".join(problems) + "\nThe .py is the source of truth: python -m anw_helpers.course sync"


def test_sync_writes_the_ipynb_from_the_py_and_detects_drift(tmp_path):
    py = _lesson(tmp_path, '# %% [markdown]\n# # Lesson 01\n\n# %% tags=["x"]\nprint(1)\n\n# %%\n%pip --version\n')
    ipynb = py.with_suffix(".ipynb")
    assert course.pair_problems(py) == [f"{ipynb} is missing"]
    assert course.main(["--root", str(tmp_path), "sync", "--check"]) == 1 and not ipynb.exists()
    assert course.main(["--root", str(tmp_path), "sync"]) == 0
    assert course.pair_problems(py) == []
    nb = nbformat.read(str(ipynb), as_version=4)
    assert [c.cell_type for c in nb.cells] == ["markdown", "code", "code"]
    assert nb.cells[1].metadata["tags"] == ["x"] and nb.cells[2].source == "%pip --version"
    ids = [c.id for c in nb.cells]

    py.write_text(py.read_text().replace("print(1)", "print(2)"))
    assert any("first difference at cell 1" in p for p in course.pair_problems(py))
    course.sync_pairs(py.parent)
    nb2 = nbformat.read(str(ipynb), as_version=4)
    assert nb2.cells[1].source == "print(2)"
    assert nb2.cells[0].id == ids[0] and nb2.cells[2].id == ids[2], "unchanged cells keep their ids (small diffs)"

    nb2.cells[1].outputs = [nbformat.v4.new_output("stream", text="2\n")]
    nb2.cells[1].execution_count = 1
    nbformat.write(nb2, str(ipynb))
    assert any("has outputs" in p for p in course.pair_problems(py))
    course.sync_pairs(py.parent)
    assert course.pair_problems(py) == []


# ------------------------------------------------------------------------------------- Colab install cell
@pytest.mark.parametrize("lesson", LESSONS, ids=LESSON_IDS)
def test_first_code_cell_is_the_colab_install_cell(lesson):
    source = course.first_code_cell(course.read_lesson(lesson))
    assert course.check_install_cell(source) == [], f"{lesson.name}, first code cell:\n{source}"
    student = nbformat.read(str(ROOT / "student" / f"{lesson.stem}.ipynb"), as_version=4)
    assert course.first_code_cell(student) == source


GOOD_CELL = '''\
try:
    import anw_helpers
except ModuleNotFoundError:
    %pip install -q "anw-helpers @ git+https://github.com/anw-course/anti-neuron-watermarking"
    import anw_helpers
from anw_helpers.runtime import describe_runtime
print(describe_runtime())'''


@pytest.mark.parametrize("bad, problem", [
    (GOOD_CELL.replace("try:\n    import anw_helpers\nexcept ModuleNotFoundError:\n    %pip", "%pip"), "guard"),
    (GOOD_CELL + '\n%pip install -q "anw-helpers @ git+https://github.com/anw-course/anti-neuron-watermarking"', "outside"),
    (GOOD_CELL.replace('-q "anw', '-q torch "anw'), "torch"),
    (GOOD_CELL.replace("-q ", "-q --upgrade "), "reinstalls"),
    (GOOD_CELL.replace("%pip", "!pip"), "%pip"),
    (GOOD_CELL.replace("anw-course/anti-neuron-watermarking", "someone/fork"), "course repository"),
    (GOOD_CELL.replace("print(describe_runtime())", ""), "describe_runtime"),
])
def test_install_cell_checker_catches_bad_cells(bad, problem):
    assert course.check_install_cell(GOOD_CELL) == []
    assert any(problem in p for p in course.check_install_cell(bad)), course.check_install_cell(bad)


def test_runtime_banner_tells_a_colab_user_how_to_get_a_gpu(monkeypatch):
    import torch

    from anw_helpers import runtime

    monkeypatch.setattr(runtime, "choose_device", lambda: torch.device("cpu"))
    monkeypatch.setattr(runtime, "in_colab", lambda: True)
    assert "Change runtime type" in runtime.describe_runtime()
    monkeypatch.setattr(runtime, "in_colab", lambda: False)
    assert "Change runtime type" not in runtime.describe_runtime()


def test_readme_has_a_colab_badge_per_lesson():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert course.readme_badge_problems(readme, NOTEBOOKS) == []
    for lesson in LESSONS:  # and each lesson's title cell opens itself in Colab
        title = next(c.source for c in course.read_lesson(lesson).cells if c.cell_type == "markdown")
        assert course.colab_url(lesson.stem) in title, f"{lesson.name}: no Colab badge in the title cell"


# ------------------------------------------------------------------------------------------------ run-all
def test_run_all_executes_lessons_in_order_with_html_and_timings(tmp_path, capsys):
    _lesson(tmp_path, '# %% [markdown]\n# # One\n\n# %%\nimport os\nprint("profile", os.environ.get("ANW_PROFILE"))\n'
                      "open('order.txt', 'a').write('1')\n", "01_one")
    _lesson(tmp_path, "# %%\nopen('order.txt', 'a').write('2')\n\n# %%\nraise ValueError('broken lesson')\n\n# %%\nprint('never')\n", "02_two")
    out = tmp_path / "build"
    code = course.main(["--root", str(tmp_path), "run-all", "--profile", "ci", "--out", str(out)])
    assert code == 1, "a failing lesson makes the run fail"
    assert (tmp_path / "notebooks" / "order.txt").read_text() == "12", "lessons run in order, in notebooks/"
    executed = nbformat.read(str(out / "01_one.ipynb"), as_version=4)
    assert "profile ci" in executed.cells[1].outputs[0]["text"]
    failed = nbformat.read(str(out / "02_two.ipynb"), as_version=4)
    assert failed.cells[1].outputs[0]["ename"] == "ValueError" and not failed.cells[2].get("outputs")
    assert "<html" in (out / "01_one.html").read_text() and (out / "02_two.html").is_file()
    timings = (out / "timings.md").read_text()
    assert "| lesson | status | time | slowest cell |" in timings and "profile: `ci`" in timings
    assert re.search(r"\| 01_one \| ok \| 0:\d\d \|", timings)
    assert re.search(r"\| 02_two \| \*\*failed\*\* in cell 1: ValueError: broken lesson", timings)
    assert "| **total** | 1/2 ok |" in timings
    assert timings.strip() in capsys.readouterr().out.replace("\r", "")

    assert course.main(["--root", str(tmp_path), "run-all", "--out", str(out), "--only", "01", "--no-html"]) == 0
    assert "02_two" not in (out / "timings.md").read_text()
    assert course.main(["--root", str(tmp_path), "run-all", "--profile", "huge"]) == 2


def test_course_module_help():
    done = subprocess.run([sys.executable, "-m", "anw_helpers.course", "--help"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0 and all(c in done.stdout for c in ("student", "sync", "run-all", "check"))


def test_instructors_guide_covers_the_course():
    guide = (ROOT / "docs" / "instructors.md").read_text(encoding="utf-8")
    for lesson in LESSONS:
        assert lesson.stem in guide, f"docs/instructors.md does not mention {lesson.stem}"
    for needle in ("python -m anw_helpers.course student", "python -m anw_helpers.course sync", "run-all",
                   "ANW_PROFILE", "ANW_DATA", "ANW_CACHE", "LearnerConfig.with_", "anw_helpers/profiles.py"):
        assert needle in guide, f"docs/instructors.md does not mention {needle}"


def test_check_command_reports_every_kind_of_problem(tmp_path, capsys):
    header = (ROOT / "notebooks" / LESSONS[0].name).read_text().split("# ---\n\n")[0] + "# ---\n\n"
    assert "jupytext:" in header  # with it, jupytext uncomments the magics that py:percent comments out
    install = "# %%\n" + GOOD_CELL.replace("    %pip", "    # %pip") + "\n"
    py = _lesson(tmp_path, header + "# %% [markdown]\n# # Lesson 01\n\n" + install)
    assert course.check_install_cell(course.first_code_cell(course.read_lesson(py))) == []
    (tmp_path / "README.md").write_text(f"[![Open In Colab]({course.COLAB_BADGE})]({course.colab_url('01_demo')})\n")
    course.sync_pairs(py.parent)
    course.write_student_versions(tmp_path)
    assert course.main(["--root", str(tmp_path), "check"]) == 0
    py.write_text(py.read_text().replace("print(describe_runtime())", "pass"))
    (tmp_path / "README.md").write_text("no badges\n")
    assert course.main(["--root", str(tmp_path), "check"]) == 1
    out = capsys.readouterr().out
    assert "out of sync" not in out and "differ" in out and "describe_runtime" in out
    assert "no Colab badge" in out and "stale" in out
