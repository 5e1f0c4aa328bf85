"""pyproject.toml (pip, Colab) and environment.yml (conda) list the same packages with ranges, not
pins."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONDA_NAMES = {"pytorch": "torch"}  # conda's name for a package -> PyPI's


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;@]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject() -> dict:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        tomllib = pytest.importorskip("tomli")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _conda_dependencies() -> list[str]:
    deps, in_deps = [], False
    for line in (ROOT / "environment.yml").read_text().splitlines():
        if line.startswith("dependencies:"):
            in_deps = True
            continue
        m = re.match(r"^  - (\S.*)$", line)
        if in_deps and m and not m.group(1).startswith("pip"):
            deps.append(m.group(1).strip())
    return deps


def test_environment_yml_lists_exactly_the_pyproject_packages():
    project = _pyproject()["project"]
    pip_names = {
        _name(r) for r in project["dependencies"] + project["optional-dependencies"]["course"]
    }
    conda_names = {CONDA_NAMES.get(_name(d), _name(d)) for d in _conda_dependencies()} - {"python"}
    assert conda_names == pip_names, (
        f"only in environment.yml: {conda_names - pip_names}; only in pyproject: "
        f"{pip_names - conda_names}"
    )


def test_environment_name_and_editable_install():
    text = (ROOT / "environment.yml").read_text()
    assert re.search(r"^name: anw$", text, re.M)
    assert "- -e ." in text


def test_requirements_are_ranges_never_pins():
    project = _pyproject()["project"]
    for req in (
        project["dependencies"] + project["optional-dependencies"]["course"] + _conda_dependencies()
    ):
        assert "==" not in req, f"exact pin {req!r}: use a range (Colab ships its own torch)"
    assert any(r.startswith("torch>=") for r in project["dependencies"])


def test_every_extra_is_in_the_course_extra():
    """`pip install -e ".[course]"` (README, CI) gets what lessons' install cells add in Colab."""
    extras = _pyproject()["project"]["optional-dependencies"]
    course = set(extras["course"])
    for name, requirements in extras.items():
        missing = set(requirements) - course
        assert not missing, f"the {name} extra has {missing}, which the course extra lacks"


def test_runtime_dependencies_keep_colab_widgets():
    """Colab ships ipywidgets 7.7.x; a floor above it would make the install cell replace them."""
    floors = [r for r in _pyproject()["project"]["dependencies"] if _name(r) == "ipywidgets"]
    assert len(floors) == 1
    m = re.search(r">=\s*(\d+)(?:\.(\d+))?", floors[0])
    assert m and (int(m.group(1)), int(m.group(2) or 0)) <= (7, 7), floors[0]
