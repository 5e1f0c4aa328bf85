"""The installed package holds what the lessons teach; the tooling stays in tools/ (issue 15).

The slow tier also builds the wheel and inspects its file list
(test_course_tooling.py::test_the_wheel_installs_and_imports_in_a_fresh_venv).
"""

from __future__ import annotations

import pkgutil
import re
from pathlib import Path

import anw_helpers

ROOT = Path(__file__).resolve().parent.parent
TOOLING = {"course", "bench", "check_profile", "make_readme_figure", "work", "smoke"}
TOOLING |= {"reproduction", "sweep", "distributed"}  # issue 29: run from a clone


def test_the_package_has_no_course_tooling():
    modules = {m.name for m in pkgutil.iter_modules(anw_helpers.__path__)}
    assert not modules & TOOLING, f"tooling inside anw_helpers: {sorted(modules & TOOLING)}"


def test_no_package_module_imports_the_tools():
    uses = re.compile(r"^\s*(from|import)\s+tools\b", re.M)
    offenders = [p.name for p in (ROOT / "anw_helpers").rglob("*.py") if uses.search(p.read_text())]
    assert not offenders, f"the installed package cannot import tools/: {offenders}"


def test_the_docstring_and_the_readme_name_every_module():
    modules = {m.name for m in pkgutil.iter_modules(anw_helpers.__path__)}
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    helpers = readme[readme.index("## The helper package") :]
    helpers = helpers[: helpers.index("\n## ", 3)]
    missing = [m for m in modules if f"``{m}``" not in anw_helpers.__doc__]
    assert not missing, f"anw_helpers docstring: {missing}"
    missing = [m for m in modules if f"`{m}`" not in helpers]
    assert not missing, f"README's helper package section: {missing}"
