"""Issue 29 item 3: each profile is written out once, every setting given, none left to a dataclass
default (the defaults of ``DataSetting``, ``TrainingRecipe`` and the rest are for building one by
hand; a profile that relied on them would change when they do). No profile is derived from another,
with two sanctioned exceptions: ``cpu`` and ``colab`` train ``ci``'s learner (``config=CI.config``)
and ``SMOKE`` (the smoke test's, not in ``PROFILES``) is ``ci`` with a few changes, one
``dataclasses.replace(CI, ...)``."""

from __future__ import annotations

import ast
import dataclasses
import re
import sys
import types
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Optional

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
        "SMOKE = replace(CI, name='smoke')\nHIGH = HIGH_RES.with_(epochs=40)\n"
    )
    assert omitted_settings(source, BUILDERS) == []


#: The profile names of profiles.py (each bound to a ``Profile``).
PROFILE_NAMES: frozenset[str] = frozenset(
    name for name, value in vars(profiles).items() if isinstance(value, profiles.Profile)
)
#: The one profile derived from another, by name: SMOKE is ``dataclasses.replace(CI, ...)``.
DERIVED: dict[str, str] = {"SMOKE": "CI"}
#: The one part a profile written out may take from another: cpu's and colab's ``config=CI.config``.
SHARED_CONFIG: dict[str, str] = {"CPU": "CI", "COLAB": "CI"}


def _is_replace(node: ast.AST) -> bool:
    """``replace(...)`` or ``dataclasses.replace(...)``."""
    if not isinstance(node, ast.Call):
        return False
    f = node.func
    return (isinstance(f, ast.Name) and f.id == "replace") or (
        isinstance(f, ast.Attribute) and f.attr == "replace"
    )


def _derived_from(node: ast.AST, names: Collection[str]) -> Optional[str]:
    """The profile ``node`` takes something from: ``replace(P, ...)`` (P with changes) or ``P.part``
    (one of P's parts); None for anything else."""
    if _is_replace(node) and node.args and isinstance(node.args[0], ast.Name):
        return node.args[0].id if node.args[0].id in names else None
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return node.value.id if node.value.id in names else None
    return None


def _sanctioned(target: str, base: str, node: ast.AST, value: ast.expr, derived, shared) -> bool:
    """Whether ``target = value`` may take ``node`` from profile ``base``: the whole value is
    ``replace(base, ...)`` for the profile ``derived`` names, or ``node`` is ``base.config`` given
    as ``config=`` to the ``Profile(...)`` of a profile ``shared`` names."""
    if derived.get(target) == base and _is_replace(value):
        return isinstance(value.args[0], ast.Name) and value.args[0].id == base
    return (
        shared.get(target) == base
        and isinstance(value, ast.Call)
        and isinstance(value.func, ast.Name)
        and value.func.id == "Profile"
        and ast.unparse(node) == f"{base}.config"
        and any(k.arg == "config" and k.value is node for k in value.keywords)
    )


def derivations(
    source: str,
    names: Collection[str] = PROFILE_NAMES,
    derived: Mapping[str, str] = DERIVED,
    shared: Mapping[str, str] = SHARED_CONFIG,
) -> list[str]:
    """Each top-level assignment in ``source`` that takes a profile of ``names`` (whole, with
    changes, or a part of it) beyond what ``derived`` and ``shared`` sanction, as "line N: TARGET
    derives from BASE (code)"."""
    found = []
    for statement in ast.parse(source).body:
        if not isinstance(statement, (ast.Assign, ast.AnnAssign)) or statement.value is None:
            continue
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        target, value = ", ".join(ast.unparse(t) for t in targets), statement.value
        if isinstance(value, ast.Name) and value.id in names:  # an alias: the whole profile
            found.append(f"line {value.lineno}: {target} derives from {value.id} (an alias)")
        for node in ast.walk(value):
            base = _derived_from(node, names)
            if base is not None and not _sanctioned(target, base, node, value, derived, shared):
                code = ast.unparse(node)
                found.append(f"line {node.lineno}: {target} derives from {base} ({code[:60]})")
    return found


def test_only_smoke_is_derived_from_ci_and_cpu_and_colab_share_only_its_config():
    source = SOURCE.read_text(encoding="utf-8")
    assert {"CI", "CPU", "COLAB", "GPU", "PAPER", "SMOKE"} == PROFILE_NAMES
    assert derivations(source) == []
    # the check sees what it allows: without the sanctions, exactly SMOKE and cpu/colab's config
    found = derivations(source, derived={}, shared={})
    assert found and all(re.search(r": (SMOKE|CPU|COLAB) derives from CI", f) for f in found)
    assert sum(": SMOKE derives from CI (dataclasses.replace(CI" in f for f in found) == 1
    assert sum(f.endswith("(CI.config)") for f in found) >= 2


@pytest.mark.parametrize(
    "source",
    [
        "SMOKE = dataclasses.replace(CI, name='smoke', config=CI.config.with_(epochs=2))",
        "CPU = Profile(name='cpu', machine='m', purpose='p', config=CI.config, lessons=L)",
        "PROFILES: dict = {p.name: p for p in (CI, CPU, COLAB, GPU, PAPER)}",
    ],
)
def test_the_sanctioned_derivations_pass(source):
    assert derivations(source) == []


@pytest.mark.parametrize(
    "source, found",
    [
        ("SMOKE = dataclasses.replace(GPU, name='smoke')", "SMOKE derives from GPU"),
        ("SMOKE = replace(CPU, name='smoke')", "SMOKE derives from CPU"),
        ("SMOKE = replace(CI, lessons=GPU.lessons)", "SMOKE derives from GPU (GPU.lessons)"),
        ("SMOKE = CI", "SMOKE derives from CI (an alias)"),
        ("TINY = replace(CI, name='tiny')", "TINY derives from CI"),
        ("CPU = replace(CI, name='cpu')", "CPU derives from CI"),
        ("GPU = dataclasses.replace(PAPER, name='gpu')", "GPU derives from PAPER"),
        (
            "CPU = Profile(name='c', machine='m', purpose='p', config=CI.config, "
            "lessons=CI.lessons)",
            "CPU derives from CI (CI.lessons)",
        ),
        (
            "COLAB = Profile(name='c', machine='m', purpose='p', config=CI.config.with_(epochs=3), "
            "lessons=L)",
            "COLAB derives from CI (CI.config)",
        ),
        (
            "GPU = Profile(name='gpu', machine='m', purpose='p', config=CI.config, lessons=L)",
            "GPU derives from CI (CI.config)",
        ),
        (
            "PAPER = Profile(name='p', machine='m', purpose='p', config=GPU.config, lessons=L)",
            "PAPER derives from GPU (GPU.config)",
        ),
    ],
)
def test_any_other_derivation_of_a_profile_is_found(source, found):
    result = derivations(source)
    assert len(result) == 1 and found in result[0], result


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
