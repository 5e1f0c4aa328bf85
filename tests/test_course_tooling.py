"""Course tooling (tools.course): student versions, jupytext pairs, Colab install cells and badges,
run-all.

Fast checks on the real lessons (parsing only), unit tests on small made-up lessons, and one
execution test per student notebook: it runs cell by cell up to the first exercise stub and passes
only when the first error is exactly the stub's NotImplementedError. Those execution tests are moved
to the end of the whole session (after the nbval runs of notebooks/), because the student copy of
lesson 04 calls train_learner before its exercise: by then lesson 03 has put the model in the shared
cache, and the lesson timings measured under nbval still include the training.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

from tools import course
from tools.course import settings

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
LESSONS = course.lesson_sources(NOTEBOOKS)
LESSON_IDS = [p.stem for p in LESSONS]
SETTING = course.repository_setting(ROOT)  # [tool.anw] of pyproject.toml

# This module registers itself as a pytest plugin, only to run the tests named in RUN_LAST after
# every other test of the session (pytest offers no ordering without a plugin; the hook below is
# that plugin).
pytest_plugins = [__name__]
RUN_LAST = {"test_student_notebook_runs_to_its_first_stub"}


def pytest_collection_modifyitems(session, config, items):
    last = [
        i
        for i in items
        if getattr(i, "originalname", i.name) in RUN_LAST
        and getattr(i, "module", None) is not None
        and i.module.__name__ == __name__
    ]
    if last:
        items[:] = [i for i in items if i not in last] + last


def test_there_are_lessons():
    assert len(LESSONS) >= 4, f"expected the course's lessons in {NOTEBOOKS}"
    numbers = [int(p.stem[:2]) for p in LESSONS]
    assert numbers[:4] == [1, 2, 3, 4], "the course opens with lessons 01-04"
    assert numbers == sorted(set(numbers)), (
        "each lesson has its own two-digit number (issues fill the gaps, e.g. 05-08)"
    )


# --------------------------------------------------------------------------------- student versions
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
    assert messages == [
        "Exercise: Return twice x.",
        "Exercise: Area of the box.",
        "Exercise: 1.2 — the loop",
    ]
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
    assert code[0].metadata["tags"] == ["exercise"] and code[1].metadata["tags"] == [
        "exercise",
        "keep",
    ]
    text = nbformat.writes(nb)
    assert "SOLUTION" not in text and "2 * x" not in text and "total += i" not in text
    assert "blob/main/student/01_demo.ipynb" in nb.cells[0].source, (
        "the Colab badge should open the student copy"
    )
    for c in code:
        compile(c.source, "cell", "exec")
    assert all(not c.get("outputs") for c in code) and set(nb.metadata) <= {
        "kernelspec",
        "colab",
        "accelerator",
    }


def test_a_stub_keeps_its_skeleton_with_dots_where_the_answer_goes():
    source = (
        "def double(x):\n"
        '    """Return twice x."""\n'
        "    # BEGIN SOLUTION\n"
        "    # STUB: result = ...  # twice x\n"
        "    # STUB: return result\n"
        "    result = 2 * x\n"
        "    return result\n"
        "    # END SOLUTION\n"
    )
    stubbed, messages = course.stub_source(source)
    assert messages == ["Exercise: Return twice x."]
    assert stubbed.split("\n")[2:5] == [
        '    raise NotImplementedError("Exercise: Return twice x.")'
        "  # delete this line once the skeleton below is filled in",
        "    result = ...  # twice x",
        "    return result",
    ]
    assert "2 * x" not in stubbed


@pytest.mark.parametrize(
    "body, error",
    [
        ('# %% tags=["solution"]\nx = 1\n', "no '# BEGIN SOLUTION'"),
        ("# %%\nx = 1\n# BEGIN SOLUTION\nx = 2\n# END SOLUTION\n", "not tagged 'solution'"),
        ('# %% tags=["solution"]\n# BEGIN SOLUTION: a\nx = 2\n', "has no '# END SOLUTION'"),
        ('# %% tags=["solution"]\nx = 2\n# END SOLUTION\n', "without a '# BEGIN SOLUTION'"),
        (
            '# %% tags=["solution"]\n# BEGIN SOLUTION: a\n# BEGIN SOLUTION: b\n# END SOLUTION\n',
            "nested",
        ),
        (
            '# %% tags=["solution"]\n# BEGIN SOLUTION\nx = 2\n# END SOLUTION\n',
            "cannot name the exercise",
        ),
    ],
)
def test_badly_marked_solutions_are_refused(tmp_path, body, error):
    path = _lesson(tmp_path, "# %% [markdown]\n# # Lesson 01\n\n" + body)
    with pytest.raises(ValueError, match=re.escape(error)):
        course.student_notebook(path)


def test_explicit_exercise_name(tmp_path):
    path = _lesson(
        tmp_path,
        '# %% tags=["solution"]\n# BEGIN SOLUTION: fill in x\nx = 2\n# END SOLUTION\nprint(x)\n',
    )
    nb, messages = course.student_notebook(path)
    assert messages == ["Exercise: fill in x"]
    assert nb.cells[0].source == 'raise NotImplementedError("Exercise: fill in x")\nprint(x)'


def test_student_command_writes_and_checks_the_folder(tmp_path):
    _lesson(tmp_path, DEMO)
    _lesson(
        tmp_path, '# %% [markdown]\n# # Lesson 02 — No exercises\n\n# %%\nprint("hi")\n', "02_plain"
    )
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
    assert any("02_plain.ipynb is stale" in p for p in problems) and any(
        "99_old.ipynb" in p for p in problems
    )
    assert course.main(["--root", str(tmp_path), "student", "--check"]) == 1
    course.write_student_versions(tmp_path)
    assert (
        course.check_student_versions(tmp_path) == []
        and not (tmp_path / "student" / "99_old.ipynb").exists()
    )


def test_committed_student_versions_are_current():
    """student/ must be what `python -m tools.course student` writes from the lessons today."""
    problems = course.check_student_versions(ROOT)
    assert not problems, "\n".join(problems) + "\nRegenerate with:  python -m tools.course student"


@pytest.mark.parametrize("lesson", LESSONS, ids=LESSON_IDS)
def test_student_versions_contain_no_solution(lesson):
    solution_lines, given = set(), set()
    for cell in course.read_lesson(lesson).cells:
        inside = False
        for line in cell.source.split("\n"):
            if re.match(r"\s*# END SOLUTION", line):
                inside = False
            stub = re.match(r"\s*# STUB:[ ]?(.*)$", line)
            if inside and stub:
                given.add(stub.group(1).strip())  # the skeleton the student copy shows on purpose
            elif inside and len(line.strip()) > 12:
                solution_lines.add(line.strip())
            if re.match(r"\s*# BEGIN SOLUTION", line):
                inside = True
    text = (ROOT / "student" / f"{lesson.stem}.ipynb").read_text(encoding="utf-8")
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    nb = nbformat.reads(text, as_version=4)
    student_code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    teacher_other = "\n".join(
        c.source
        for c in course.read_lesson(lesson).cells
        if c.cell_type == "code" and "solution" not in c.metadata.get("tags", [])
    )
    student_lines = {line.strip() for line in student_code.split("\n")}
    teacher_lines = {line.strip() for line in teacher_other.split("\n")}
    leaked = sorted((solution_lines - given) & student_lines - teacher_lines)
    assert not leaked, f"solution lines in the student copy: {leaked[:3]}"


@pytest.mark.slow  # executes every student notebook (trains when the model cache is empty)
@pytest.mark.parametrize("lesson", LESSONS, ids=LESSON_IDS)
def test_student_notebook_runs_past_every_stub(lesson, tmp_path):
    """Execute student/<lesson>.ipynb to the end as a student who skips every exercise would.

    The only errors allowed are the stubs' NotImplementedError, in the stub's cell or its check
    right after; a lesson without exercises must run to the end. (Lessons load their learners from
    $ANW_CACHE, or train them first when it is empty.)
    """
    path = ROOT / "student" / f"{lesson.stem}.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    stubs = course.stub_messages(lesson)
    allowed = course.stub_cells(nb, stubs)
    env = dict(os.environ, MPLBACKEND="Agg")
    run = course.execute_notebook(
        nb, path.parent, env, cell_timeout=1800, name=path.name, keep_going=True
    )
    problem = course.student_run_past_stubs_problem(run, stubs, allowed)
    assert problem is None, problem


def test_student_run_past_stubs_verdicts():
    """A stub's error counts only in its own cells; an error in a later cell means the student is
    stuck."""
    stubs = ["Exercise: Return twice x."]

    def run(*errors):
        errs = [course.CellError(i, ename, evalue, "double(2)") for i, ename, evalue in errors]
        return course.NotebookRun("demo.ipynb", 1.0, {}, errs[0] if errs else None, errors=errs)

    allowed = {4, 5}
    assert (
        course.student_run_past_stubs_problem(
            run((5, "NotImplementedError", stubs[0])), stubs, allowed
        )
        is None
    )
    later = run((5, "NotImplementedError", stubs[0]), (9, "NotImplementedError", stubs[0]))
    assert "cannot go on" in course.student_run_past_stubs_problem(later, stubs, allowed)
    name_error = run(
        (5, "NotImplementedError", stubs[0]), (7, "NameError", "name 'result' is not defined")
    )
    assert "NameError" in course.student_run_past_stubs_problem(name_error, stubs, allowed)
    assert "ran to the end" in course.student_run_past_stubs_problem(run(), stubs, allowed)
    assert course.student_run_past_stubs_problem(run(), [], set()) is None


def test_stub_cells_are_the_stub_and_its_check():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell('def f():\n    raise NotImplementedError("Exercise: f")'),
        nbformat.v4.new_markdown_cell("check"),
        nbformat.v4.new_code_cell("assert f() == 1"),
        nbformat.v4.new_code_cell("y = 2"),
    ]
    assert course.stub_cells(nb, ["Exercise: f"]) == {1, 3}


def test_student_run_verdicts():
    """Only the stub's own NotImplementedError counts; any other first error fails, and so does no
    error at all."""
    stubs = ["Exercise: Return twice x."]

    def run(ename=None, evalue=""):
        error = None if ename is None else course.CellError(5, ename, evalue, "double(2)")
        return course.NotebookRun("demo.ipynb", 1.0, {5: 0.1}, error)

    assert course.student_run_problem(run("NotImplementedError", stubs[0]), stubs) is None
    assert "NameError" in course.student_run_problem(
        run("NameError", "name 'x' is not defined"), stubs
    )
    assert "not an exercise stub" in course.student_run_problem(
        run("NotImplementedError", "something else"), stubs
    )
    assert "ran to the end" in course.student_run_problem(run(), stubs)
    assert course.student_run_problem(run(), []) is None
    assert "ValueError" in course.student_run_problem(run("ValueError", "bad"), [])


# ----------------------------------------------------------------------------------- jupytext pairs
@pytest.mark.parametrize("lesson", LESSONS, ids=LESSON_IDS)
def test_pair_is_in_sync(lesson):
    """notebooks/NN.ipynb holds exactly the cells of NN.py (as jupytext parses it), without
    outputs."""
    problems = course.pair_problems(lesson)
    assert not problems, (
        "\n".join(problems) + "\nThe .py is the source of truth: python -m tools.course sync"
    )


def test_sync_writes_the_ipynb_from_the_py_and_detects_drift(tmp_path):
    py = _lesson(
        tmp_path,
        '# %% [markdown]\n# # Lesson 01\n\n# %% tags=["x"]\nprint(1)\n\n# %%\n%pip --version\n',
    )
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
    assert nb2.cells[0].id == ids[0] and nb2.cells[2].id == ids[2], (
        "unchanged cells keep their ids (small diffs)"
    )

    nb2.cells[1].outputs = [nbformat.v4.new_output("stream", text="2\n")]
    nb2.cells[1].execution_count = 1
    nbformat.write(nb2, str(ipynb))
    assert any("has outputs" in p for p in course.pair_problems(py))
    course.sync_pairs(py.parent)
    assert course.pair_problems(py) == []


# ------------------------------------------------------------------------------- Colab install cell
@pytest.mark.parametrize("lesson", LESSONS, ids=LESSON_IDS)
def test_first_code_cell_is_the_colab_install_cell(lesson):
    source = course.first_code_cell(course.read_lesson(lesson))
    extra = course.lesson_extra(lesson.name)
    assert course.check_install_cell(source, SETTING, extra and extra[0]) == [], (
        f"{lesson.name}, first code cell:\n{source}"
    )
    assert source == course.install_cell_source(SETTING, lesson.name), (
        f"{lesson.name}: the install cell is not canonical; run  {course.SET_REPOSITORY}"
    )
    student = nbformat.read(str(ROOT / "student" / f"{lesson.stem}.ipynb"), as_version=4)
    assert course.first_code_cell(student) == source


# The shape without the wheel alternative: the git address straight in the %pip line.
GOOD_CELL = f"""\
try:
    import anw_helpers
except ModuleNotFoundError:
    %pip install -q "anw-helpers @ {SETTING.git_url}"
    try:
        import anw_helpers
    except ModuleNotFoundError:
        raise SystemExit("failed: upload a wheel or set ANW_WHEEL; docs/publishing.md") from None
from anw_helpers.machinery.runtime import describe_runtime
print(describe_runtime())"""
WHEEL_CELL = course.install_cell_source(SETTING)  # the lessons' shape: a wheel, else git


@pytest.mark.parametrize(
    "bad, problem",
    [
        (
            GOOD_CELL.replace(
                "try:\n    import anw_helpers\nexcept ModuleNotFoundError:\n    %pip", "%pip"
            ),
            "guard",
        ),
        (GOOD_CELL + f'\n%pip install -q "anw-helpers @ {SETTING.git_url}"', "outside"),
        (GOOD_CELL.replace('-q "anw', '-q torch "anw'), "torch"),
        (GOOD_CELL.replace("-q ", "-q --upgrade "), "reinstalls"),
        (GOOD_CELL.replace("%pip", "!pip"), "%pip"),
        (GOOD_CELL.replace(SETTING.repository, "someone/fork"), "course repository"),
        (
            GOOD_CELL.replace(SETTING.git_url, SETTING.git_url.rsplit("@", 1)[0]),
            "course repository",
        ),
        (GOOD_CELL.replace("print(describe_runtime())", ""), "describe_runtime"),
        (WHEEL_CELL.replace('"{source}"', '"{source}" torchvision'), "torch"),
        (WHEEL_CELL.replace('"{source}"', '"{source}" -U'), "reinstalls"),
        (
            WHEEL_CELL.replace(
                f'"{SETTING.git_url}"', '"git+https://github.com/someone/fork@main"'
            ),
            "not the course repository",
        ),
        (WHEEL_CELL.replace(f'"{SETTING.git_url}"', '"anw-helpers"'), "names no repository"),
        (WHEEL_CELL.replace("    %pip", "%pip"), "outside"),
        (WHEEL_CELL.replace("docs/publishing.md", "the docs"), "not explained"),
    ],
)
def test_install_cell_checker_catches_bad_cells(bad, problem):
    assert course.check_install_cell(GOOD_CELL) == []
    assert any(problem in p for p in course.check_install_cell(bad)), course.check_install_cell(bad)


def test_install_cell_with_the_wheel_alternative_passes_the_checker():
    assert "ANW_WHEEL" in WHEEL_CELL and 'glob.glob("anw_helpers-*.whl")' in WHEEL_CELL
    assert course.check_install_cell(WHEEL_CELL) == []
    assert course.check_install_cell(WHEEL_CELL, SETTING) == []
    assert all(len(line) <= 100 for line in WHEEL_CELL.split("\n")), "short lines for students"
    compile(WHEEL_CELL.replace("%pip", "pass  #"), "cell", "exec")
    fork = course.RepositorySetting("someone/fork", "spring-2027")
    assert any("someone/fork@spring-2027" in p for p in course.check_install_cell(WHEEL_CELL, fork))
    dp = course.install_cell_source(SETTING, "06_augmentations_and_defences.py")
    assert '"{source}" "anw-helpers[dp]" "{keep}"' in dp
    assert all(len(line) <= 100 for line in dp.split("\n"))
    assert course.check_install_cell(dp, SETTING, "dp") == []
    assert any("[dp] extra" in p for p in course.check_install_cell(WHEEL_CELL, SETTING, "dp"))
    assert course.lesson_extra("06_augmentations_and_defences") == ("dp", "Opacus, for DP-SGD")
    assert course.lesson_extra("01_colour_as_linear_algebra.py") is None


def test_install_cell_magic_expands_to_the_wheel_or_the_repository():
    """IPython turns the %pip line into a pip command naming the wheel, else the git address."""
    from IPython.core.inputtransformer2 import TransformerManager
    from IPython.utils.text import DollarFormatter  # InteractiveShell.var_expand formats with it

    code = TransformerManager().transform_cell(WHEEL_CELL)
    assert "run_line_magic('pip', 'install -q \"{source}\"')" in code
    for wheel in ("", "dist/anw_helpers-0.1.0-py3-none-any.whl", "https://example.org/a.whl"):
        source = wheel or SETTING.git_url  # as the cell computes it
        line = DollarFormatter().vformat('install -q "{source}"', [], {"source": source})
        assert line == f'install -q "{wheel or SETTING.git_url}"'


def test_runtime_banner_tells_a_colab_user_how_to_get_a_gpu(monkeypatch):
    import torch

    from anw_helpers.machinery import runtime

    monkeypatch.setattr(runtime, "choose_device", lambda: torch.device("cpu"))
    monkeypatch.setattr(runtime, "in_colab", lambda: True)
    assert "Change runtime type" in runtime.describe_runtime()
    monkeypatch.setattr(runtime, "in_colab", lambda: False)
    assert "Change runtime type" not in runtime.describe_runtime()


def test_readme_has_a_colab_badge_per_lesson():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert course.readme_badge_problems(readme, NOTEBOOKS) == []
    for lesson in LESSONS:  # and each lesson's title cell opens itself in Colab
        title = next(
            c.source for c in course.read_lesson(lesson).cells if c.cell_type == "markdown"
        )
        assert course.colab_url(lesson.stem) in title, (
            f"{lesson.name}: no Colab badge in the title cell"
        )


# ------------------------------------------------------------ [tool.anw]: where the course lives
def test_the_repository_setting_is_read_from_pyproject(tmp_path):
    tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")
    table = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["anw"]
    assert SETTING == course.RepositorySetting(table["repository"], table.get("branch", "main"))
    assert SETTING.git_url == f"git+https://github.com/{SETTING.repository}@{SETTING.branch}"
    assert course.colab_url("01_x") == SETTING.colab_url("01_x")
    assert course.colab_url("01_x", "student", "dev").endswith(
        f"{SETTING.repository}/blob/dev/student/01_x.ipynb"
    )
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\n\n[tool.anw]\nrepository = "me/course"\n')
    assert course.repository_setting(tmp_path) == course.RepositorySetting("me/course", "main")
    pyproject.write_text('[project]\nname = "x"\n')
    with pytest.raises(ValueError, match=r"no \[tool.anw\] repository"):
        course.repository_setting(tmp_path)
    assert course.repository_setting(tmp_path / "elsewhere") == SETTING, "this clone's, else"


def test_the_fallback_reader_for_old_pythons_agrees_with_tomllib():
    """Python 3.9/3.10 without tomli read [tool.anw] with a small parser of that one table."""
    tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")
    for text in (
        (ROOT / "pyproject.toml").read_text(),
        "[tool.anw]  # where\nrepository = 'o/n'  # fork\n"
        'branch = "a\\"b"\n\n[[tool.x]]\ny = 1\n',
        '[tool.other]\nrepository = "not/this"\n',
    ):
        expected = tomllib.loads(text).get("tool", {}).get("anw", {})
        assert settings._anw_table_fallback(text, "t") == expected
    with pytest.raises(ValueError, match="line 2: cannot read"):
        settings._anw_table_fallback("[tool.anw]\nrepository = [1, 2]\n", "t")


@pytest.mark.parametrize(
    "repository, branch, error",
    [
        ("anti-neuron-watermarking", "main", "malformed repository"),
        ("a/b/c", "main", "malformed repository"),
        ("https://github.com/a/b", "main", "malformed repository"),
        ("-a/b", "main", "malformed repository"),
        ("a/b.git", "main", "without '.git'"),
        ("a/b", "has space", "malformed branch"),
        ("a/b", "../x", "malformed branch"),
        ("a/b", "-x", "malformed branch"),
    ],
)
def test_malformed_settings_are_refused_in_one_line(tmp_path, capsys, repository, branch, error):
    with pytest.raises(ValueError, match=re.escape(error)):
        course.RepositorySetting(repository, branch)
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    before = (tmp_path / "pyproject.toml").read_text()
    argv = ["--root", str(tmp_path), "set-repository", f"--branch={branch}", "--", repository]
    code = course.main(argv)
    err = capsys.readouterr().err
    assert code == 2 and error in err and err.count("\n") == 1, err
    assert (tmp_path / "pyproject.toml").read_text() == before, "nothing is written for bad input"


def _course_copy(tmp_path: Path, lessons=("01", "06")) -> Path:
    """A small copy of the course (real lessons, README, pyproject.toml) to rewrite in tests."""
    (tmp_path / "notebooks").mkdir()
    for name in ("pyproject.toml", "README.md", "jupytext.toml"):
        (tmp_path / name).write_text((ROOT / name).read_text(encoding="utf-8"), encoding="utf-8")
    for py in LESSONS:
        if py.stem[:2] in lessons:
            text = py.read_text(encoding="utf-8")
            (tmp_path / "notebooks" / py.name).write_text(text, encoding="utf-8")
    return tmp_path


def test_set_repository_rewrites_lessons_readme_pairs_and_student_copies(tmp_path, capsys):
    root = _course_copy(tmp_path)
    originals = {
        p: p.read_text()
        for p in [root / "pyproject.toml", root / "README.md"]
        + sorted((root / "notebooks").glob("*.py"))
    }
    argv = ["--root", str(root), "set-repository", "someone/fork", "--branch", "spring-2027"]
    assert course.main(argv) == 0
    out = capsys.readouterr().out
    assert "git+https://github.com/someone/fork@spring-2027" in out and "README.md" in out
    fork = course.RepositorySetting("someone/fork", "spring-2027")
    assert course.repository_setting(root) == fork

    changed = {p: p.read_text() for p in originals}
    old_lines = originals[root / "pyproject.toml"].split("\n")
    new_lines = changed[root / "pyproject.toml"].split("\n")
    assert [(a, b) for a, b in zip(old_lines, new_lines) if a != b] == [
        (f'repository = "{SETTING.repository}"', 'repository = "someone/fork"'),
        (f'branch = "{SETTING.branch}"', 'branch = "spring-2027"'),
    ], "only the two setting lines change"
    for py in sorted((root / "notebooks").glob("*.py")):
        cell = course.first_code_cell(course.read_lesson(py))
        assert cell == course.install_cell_source(fork, py.name)
        title = next(c.source for c in course.read_lesson(py).cells if c.cell_type == "markdown")
        assert fork.colab_url(py.stem) in title
        assert SETTING.repository not in changed[py], f"{py.name} still names {SETTING.repository}"
        kept = [line for line in originals[py].split("\n") if line in changed[py].split("\n")]
        assert len(originals[py].split("\n")) - len(kept) <= 12, "only the install block and badge"
        assert course.pair_problems(py) == []
        student = (root / "student" / f"{py.stem}.ipynb").read_text()
        assert fork.colab_url(py.stem, "student") in student
        assert "someone/fork@spring-2027" in student
    readme = changed[root / "README.md"]
    links = originals[root / "README.md"].count("https://colab.research.google.com/github/")
    new_address = "colab.research.google.com/github/someone/fork/blob/spring-2027/notebooks/"
    assert readme.count(new_address) == links and SETTING.repository not in readme
    assert course.readme_badge_problems(readme, root / "notebooks") == []
    assert course.check_student_versions(root) == []
    assert course.main(["--root", str(root), "check"]) == 0
    assert course.set_repository(root) == [], "a second run changes nothing"


def test_check_fails_and_says_what_to_run_when_a_file_disagrees_with_the_setting(tmp_path, capsys):
    root = _course_copy(tmp_path, lessons=("01",))
    course.set_repository(root)
    assert course.main(["--root", str(root), "check"]) == 0
    capsys.readouterr()
    pyproject = root / "pyproject.toml"  # the setting changed by hand, the course not rewritten
    pyproject.write_text(pyproject.read_text().replace(f'"{SETTING.repository}"', '"someone/fork"'))
    assert course.main(["--root", str(root), "check"]) == 1
    out = capsys.readouterr().out
    lesson = LESSONS[0].name
    assert f"{lesson}, first code cell: the install is from {SETTING.git_url}" in out
    assert f"{lesson}: 1 Colab link(s) open {SETTING.repository}" in out
    assert "README.md: " in out and f"README.md has no Colab badge for {LESSONS[0].stem}" in out
    lines = [line for line in out.splitlines() if SETTING.repository in line]
    assert lines and all(course.SET_REPOSITORY in line for line in lines), "each says what to run"
    course.set_repository(root)
    readme = root / "README.md"  # now only the README is behind
    text = readme.read_text()
    readme.write_text(text.replace("someone/fork/blob/main", "someone/old/blob/main", 1))
    assert course.main(["--root", str(root), "check"]) == 1
    assert "README.md: 1 Colab link(s) open someone/old (branch main)" in capsys.readouterr().out


def test_set_repository_writes_nothing_when_a_lesson_has_no_install_guard(tmp_path):
    root = _course_copy(tmp_path)
    broken = sorted((root / "notebooks").glob("*.py"))[-1]
    text = broken.read_text()
    broken.write_text(text.replace("try:\n    import anw_helpers\n", "import anw_helpers\n", 1))
    before = {p: p.read_text() for p in root.rglob("*") if p.is_file()}
    error = f"{broken.name}: the first code cell has no 'try: import anw_helpers"
    with pytest.raises(ValueError, match=re.escape(error)):
        course.set_repository(root, "someone/fork")
    assert {p: p.read_text() for p in root.rglob("*") if p.is_file()} == before


def _dependencies_view(folder: Path) -> Path:
    """This environment's site-packages as a folder of links, without anw_helpers itself.

    A venv made with --system-site-packages sees the *base* interpreter's packages; when the tests
    run in a venv, torch & co. are not there. The links give a new venv the dependencies while the
    helpers can only come from the wheel.
    """
    import site
    import sysconfig

    folder.mkdir()
    paths = sysconfig.get_paths()
    for sp in dict.fromkeys([paths["purelib"], paths["platlib"], *site.getsitepackages()]):
        for entry in Path(sp).iterdir() if Path(sp).is_dir() else ():
            name = entry.name.lower()
            if (
                name.startswith(("anw_helpers", "anw-helpers", "__editable__"))
                or name.endswith(".pth")
                or (folder / entry.name).exists()
            ):
                continue
            (folder / entry.name).symlink_to(entry)
    return folder


def _fresh_venv(path: Path, view: Path) -> Path:
    """A new venv (--system-site-packages, no pip of its own) that also sees ``view``."""
    command = [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(path)]
    subprocess.run(command, check=True, timeout=120)
    python = path / "bin" / "python"
    where = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    purelib = subprocess.run(
        [str(python), "-c", where], capture_output=True, text=True, check=True
    ).stdout.strip()
    Path(purelib, "anw_test_dependencies.pth").write_text(f"{view}\n")
    return python


@pytest.mark.slow
def test_the_wheel_installs_and_imports_in_a_fresh_venv(tmp_path, capsys):
    """`course wheel` builds a wheel a fresh venv installs offline; so does the install cell."""
    start = time.time()  # compared with file times below
    assert course.main(["wheel", "--out", str(tmp_path / "dist")]) == 0
    out = capsys.readouterr().out
    wheels = list((tmp_path / "dist").glob("anw_helpers-*.whl"))
    assert len(wheels) == 1 and "ANW_WHEEL" in out and "Upload" in out
    with zipfile.ZipFile(wheels[0]) as wheel:
        packages = {Path(name).parts[0] for name in wheel.namelist()}
        modules = {Path(name).stem for name in wheel.namelist() if name.startswith("anw_helpers/")}
    assert {p for p in packages if not p.endswith(".dist-info")} == {"anw_helpers"}, packages
    assert not modules & {"course", "bench"}, "course tooling belongs in tools/, not in the wheel"
    build = ROOT / "build" / "lib"
    assert not build.exists() or build.stat().st_mtime < start, "nothing is built in the clone"
    view = _dependencies_view(tmp_path / "deps")
    hidden = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if k not in hidden}
    env.update(
        PIP_NO_INDEX="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        MPLBACKEND="Agg",
        IPYTHONDIR=str(tmp_path / "ipython"),
    )
    where = "import anw_helpers, anw_helpers.color; print(anw_helpers.__file__)"

    def run(python: Path, code: str, cwd: Path = tmp_path) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(python), "-c", code], capture_output=True, text=True, cwd=cwd, env=env, timeout=180
        )

    python = _fresh_venv(tmp_path / "venv", view)
    assert run(python, "import anw_helpers").returncode != 0, "the helpers come only from the wheel"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--no-deps", "--no-index", str(wheels[0])],
        check=True,
        capture_output=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    done = run(python, where)
    assert done.returncode == 0, done.stderr
    origin = Path(done.stdout.strip()).resolve()
    assert origin.is_relative_to((tmp_path / "venv").resolve()), origin
    assert not origin.is_relative_to(ROOT), origin

    # The lessons' install cell, run by IPython in a second fresh venv, installs the wheel by it.
    python = _fresh_venv(tmp_path / "venv2", view)
    (tmp_path / "dist" / "cell.py").write_text(course.install_cell_source(SETTING))
    cell = (
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "InteractiveShell.instance().run_cell(open('cell.py').read()).raise_error()\n"
    )
    done = run(python, cell, cwd=tmp_path / "dist")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    done = run(python, where)
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).resolve().is_relative_to((tmp_path / "venv2").resolve())


# ------------------------------------------------------------------------------------------ run-all
@pytest.mark.slow  # starts Jupyter kernels
def test_run_all_executes_lessons_in_order_with_html_and_timings(tmp_path, capsys):
    _lesson(
        tmp_path,
        '# %% [markdown]\n# # One\n\n# %%\nimport os\nprint("profile", '
        'os.environ.get("ANW_PROFILE"))\n'
        "open('order.txt', 'a').write('1')\n",
        "01_one",
    )
    _lesson(
        tmp_path,
        "# %%\nopen('order.txt', 'a').write('2')\n\n# %%\nraise ValueError('broken lesson')\n\n# "
        "%%\nprint('never')\n",
        "02_two",
    )
    out = tmp_path / "build"
    code = course.main(["--root", str(tmp_path), "run-all", "--profile", "ci", "--out", str(out)])
    assert code == 1, "a failing lesson makes the run fail"
    assert (tmp_path / "notebooks" / "order.txt").read_text() == "12", (
        "lessons run in order, in notebooks/"
    )
    executed = nbformat.read(str(out / "01_one.ipynb"), as_version=4)
    assert "profile ci" in executed.cells[1].outputs[0]["text"]
    failed = nbformat.read(str(out / "02_two.ipynb"), as_version=4)
    assert failed.cells[1].outputs[0]["ename"] == "ValueError" and not failed.cells[2].get(
        "outputs"
    )
    assert "<html" in (out / "01_one.html").read_text() and (out / "02_two.html").is_file()
    timings = (out / "timings.md").read_text()
    assert "| lesson | status | time | slowest cell |" in timings and "profile: `ci`" in timings
    assert re.search(r"\| 01_one \| ok \| 0:\d\d \|", timings)
    assert re.search(r"\| 02_two \| \*\*failed\*\* in cell 1: ValueError: broken lesson", timings)
    assert "| **total** | 1/2 ok |" in timings
    assert timings.strip() in capsys.readouterr().out.replace("\r", "")

    assert (
        course.main(
            ["--root", str(tmp_path), "run-all", "--out", str(out), "--only", "01", "--no-html"]
        )
        == 0
    )
    assert "02_two" not in (out / "timings.md").read_text()
    assert course.main(["--root", str(tmp_path), "run-all", "--profile", "huge"]) == 2


def test_course_module_help():
    done = subprocess.run(
        [sys.executable, "-m", "tools.course", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0
    commands = ("student", "sync", "run-all", "check", "set-repository", "wheel")
    assert all(c in done.stdout for c in commands)


def test_check_command_reports_every_kind_of_problem(tmp_path, capsys):
    header = (ROOT / "notebooks" / LESSONS[0].name).read_text().split("# ---\n\n")[0] + "# ---\n\n"
    # with it, jupytext uncomments the magics that py:percent comments out
    assert "jupytext:" in header
    install = "# %%\n" + GOOD_CELL.replace("    %pip", "    # %pip") + "\n"
    py = _lesson(tmp_path, header + "# %% [markdown]\n# # Lesson 01\n\n" + install)
    assert course.check_install_cell(course.first_code_cell(course.read_lesson(py))) == []
    (tmp_path / "README.md").write_text(
        f"[![Open In Colab]({course.COLAB_BADGE})]({course.colab_url('01_demo')})\n"
    )
    course.sync_pairs(py.parent)
    course.write_student_versions(tmp_path)
    assert course.main(["--root", str(tmp_path), "check"]) == 0
    py.write_text(py.read_text().replace("print(describe_runtime())", "pass"))
    (tmp_path / "README.md").write_text("no badges\n")
    assert course.main(["--root", str(tmp_path), "check"]) == 1
    out = capsys.readouterr().out
    assert "out of sync" not in out and "differ" in out and "describe_runtime" in out
    assert "no Colab badge" in out and "stale" in out


def _run_install_cell(source: str, monkeypatch, installs: bool) -> list[str]:
    """Run an install cell's code as IPython would, anw_helpers missing; ``%pip`` is recorded (and
    makes the package importable when ``installs``). Returns the %pip lines run."""
    import types

    from IPython.core.inputtransformer2 import TransformerManager

    monkeypatch.setitem(sys.modules, "anw_helpers", None)  # import raises ModuleNotFoundError
    monkeypatch.delenv("ANW_WHEEL", raising=False)
    monkeypatch.chdir(ROOT / "notebooks")  # no anw_helpers-*.whl there
    ran: list[str] = []

    def run_line_magic(name: str, line: str) -> None:
        ran.append(f"%{name} {line.format_map(sys._getframe(1).f_globals)}")  # as IPython does
        if installs:
            sys.modules["anw_helpers"] = types.ModuleType("anw_helpers")

    shell = types.SimpleNamespace(run_line_magic=run_line_magic)
    install = source.split("from anw_helpers.machinery.runtime")[0]
    code = TransformerManager().transform_cell(install)
    exec(compile(code, "install cell", "exec"), {"get_ipython": lambda: shell})
    return ran


@pytest.mark.parametrize("lesson", ["01_colour_as_linear_algebra.py", "06_augmentations.py"])
def test_a_failed_install_stops_with_one_message(lesson, monkeypatch):
    cell = course.install_cell_source(SETTING, lesson)
    with pytest.raises(SystemExit) as stop:
        _run_install_cell(cell, monkeypatch, installs=False)
    message = str(stop.value)
    assert "\n" not in message and stop.value.__cause__ is None
    for part in (SETTING.git_url, "ANW_WHEEL", "upload", "wheel", "docs/publishing.md"):
        assert part in message, f"the message does not name {part!r}: {message}"
    assert _run_install_cell(cell, monkeypatch, installs=True)  # a working install runs on


def test_lesson_06_installs_opacus_with_the_torch_already_there(monkeypatch):
    import importlib.metadata

    cell = course.install_cell_source(SETTING, "06_augmentations_and_defences.py")
    (pip,) = _run_install_cell(cell, monkeypatch, installs=True)
    assert '"anw-helpers[dp]"' in pip and f'"torch=={importlib.metadata.version("torch")}"' in pip


# ----------------------------------------------------------------------------- Colab asks for a GPU
@pytest.mark.parametrize("lesson", LESSONS, ids=LESSON_IDS)
def test_lessons_that_train_open_on_a_colab_gpu(lesson):
    from tools.course.colab_gpu import GPU_METADATA, gpu_problems, lesson_trains

    assert gpu_problems(lesson) == []
    if lesson_trains(lesson.read_text(encoding="utf-8")):
        for nb_path in (lesson.with_suffix(".ipynb"), ROOT / "student" / f"{lesson.stem}.ipynb"):
            meta = nbformat.read(str(nb_path), as_version=4).metadata
            assert meta.get("accelerator") == GPU_METADATA["accelerator"], nb_path
            assert meta.get("colab", {}).get("gpuType") == "T4", nb_path


def test_the_gpu_header_is_written_once_and_checked(tmp_path):
    from tools.course.colab_gpu import gpu_problems, with_gpu_header

    kernel = "#   kernelspec:\n#     display_name: Python 3\n#     name: python3\n"
    header = f"# ---\n# jupyter:\n{kernel}# ---\n"
    text = header + "\n# %%\nfit(model)\n"
    py = tmp_path / "03_x.py"
    py.write_text(text)
    assert "does not ask Colab for a GPU" in gpu_problems(py)[0]
    once = with_gpu_header(text)
    assert with_gpu_header(once) == once and once.count("accelerator: GPU") == 1
    py.write_text(once)
    assert gpu_problems(py) == []
    assert course.read_lesson(py).metadata["colab"] == {"gpuType": "T4"}
    with pytest.raises(ValueError, match="jupytext header"):
        with_gpu_header("# %%\nfit(model)\n")


def test_sync_notices_colab_metadata_missing_from_the_ipynb(tmp_path):
    import shutil

    lesson = next(p for p in LESSONS if p.name.startswith("03"))
    py = tmp_path / lesson.name
    shutil.copy(lesson, py)
    shutil.copy(ROOT / "jupytext.toml", tmp_path / "jupytext.toml")
    nb = nbformat.read(str(lesson.with_suffix(".ipynb")), as_version=4)
    del nb.metadata["accelerator"]
    nbformat.write(nb, str(py.with_suffix(".ipynb")))
    assert any("Colab metadata" in p for p in course.pair_problems(py))
    course.sync_pairs(tmp_path)
    assert course.pair_problems(py) == []
