"""Issue 29 item 3: each profile is written out once, every setting given, none left to a dataclass
default (the defaults of ``DataSetting``, ``TrainingRecipe`` and the rest are for building one by
hand; a profile that relied on them would change when they do)."""

from __future__ import annotations

import ast
import dataclasses
import re
import sys
import types
from pathlib import Path

import pytest

from anw_helpers import profiles, recipe

SOURCE = Path(profiles.__file__)
#: The dataclasses a profile is built from, by the name profiles.py calls them.
BUILDERS: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        recipe.DataSetting,
        recipe.TrainingRecipe,
        recipe.LearnerConfig,
        profiles.ManyUsersSetting,
        profiles.MemorisationPlan,
        profiles.AdaptiveSetting,
        profiles.LessonSettings,
        profiles.Profile,
    )
}


def _top_level_calls(tree: ast.Module) -> list[ast.Call]:
    """Every call outside the module's class bodies (which hold the dataclasses' own defaults)."""
    calls = []
    for statement in tree.body:
        if not isinstance(statement, ast.ClassDef):
            calls += [n for n in ast.walk(statement) if isinstance(n, ast.Call)]
    return calls


def omitted_settings(source: str, builders: dict[str, type]) -> list[str]:
    """Each call of a ``builders`` dataclass in ``source`` that leaves a field to its default (or
    hides its arguments behind ``*``/``**``), as "line N: Name leaves a, b to their defaults"."""
    found = []
    for call in _top_level_calls(ast.parse(source)):
        name = call.func.id if isinstance(call.func, ast.Name) else None
        if name not in builders:
            continue
        if any(isinstance(a, ast.Starred) for a in call.args) or any(
            k.arg is None for k in call.keywords
        ):
            found.append(f"line {call.lineno}: {name} hides its arguments behind * or **")
            continue
        names = [f.name for f in dataclasses.fields(builders[name])]
        given = set(names[: len(call.args)]) | {k.arg for k in call.keywords}
        left = [n for n in names if n not in given]
        if left:
            found.append(f"line {call.lineno}: {name} leaves {', '.join(left)} to their defaults")
    return found


def test_every_profile_gives_every_setting():
    assert omitted_settings(SOURCE.read_text(encoding="utf-8"), BUILDERS) == []


@pytest.mark.parametrize(
    "call, left",
    [
        ("TrainingRecipe(model='resnet18', epochs=30)", "width, batch_size"),
        ("LearnerConfig()", "data, recipe"),
        ("Profile('x', 'm', 'p', CI.config)", "lessons"),
        ("X = {'a': MemorisationPlan(1, 2, 3, 4, 0.1)}", "fine_tune, width"),
        ("ManyUsersSetting(**sizes)", "behind * or **"),
    ],
)
def test_a_setting_left_to_its_default_is_found(call, left):
    found = omitted_settings(call, BUILDERS)
    assert len(found) == 1 and left in found[0], found


def test_defaults_inside_a_dataclass_and_derived_profiles_pass():
    source = (
        "class LessonSettings:\n    adaptive: AdaptiveSetting = AdaptiveSetting()\n"
        "CPU = replace(CI, name='cpu')\nHIGH = HIGH_RES.with_(epochs=40)\n"
    )
    assert omitted_settings(source, BUILDERS) == []


def test_cpu_and_colab_train_ci_s_learner():
    ci = profiles.PROFILES["ci"].config
    assert profiles.PROFILES["cpu"].config is ci and profiles.PROFILES["colab"].config is ci


def _setting_line(tree: ast.Module, profile: str, builder: str, setting: str) -> int:
    """The line of ``setting=`` in the ``builder(...)`` call inside ``profile = ...``."""
    (assign,) = [s for s in tree.body if isinstance(s, ast.Assign) and s.targets[0].id == profile]
    (call,) = [
        n
        for n in ast.walk(assign.value)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == builder
    ]
    (keyword,) = [k for k in call.keywords if k.arg == setting]
    return keyword.value.lineno


def test_one_line_sets_ci_s_epochs_for_ci_cpu_and_colab(monkeypatch):
    source = SOURCE.read_text(encoding="utf-8")
    lines = source.splitlines(keepends=True)
    i = _setting_line(ast.parse(source), "CI", "TrainingRecipe", "epochs") - 1
    epochs = profiles.PROFILES["ci"].config.recipe.epochs + 7
    lines[i] = re.sub(r"epochs=\d+", f"epochs={epochs}", lines[i])
    edited = types.ModuleType("anw_helpers._edited_profiles")
    edited.__package__ = "anw_helpers"
    monkeypatch.setitem(sys.modules, edited.__name__, edited)  # dataclasses look it up
    exec(compile("".join(lines), "edited profiles.py", "exec"), edited.__dict__)
    for name, before in profiles.PROFILES.items():
        after = edited.PROFILES[name]
        changed = name in ("ci", "cpu", "colab")
        assert after.config == (before.config.with_(epochs=epochs) if changed else before.config)
        assert dataclasses.asdict(after.lessons) == dataclasses.asdict(before.lessons), name
