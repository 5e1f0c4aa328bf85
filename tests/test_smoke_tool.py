"""The smoke test's pieces (issue 14): its profile, and how it tells defects from scientific
checks."""

import nbformat

from anw_helpers.profiles import PROFILES, get_profile
from tools.smoke import lesson_errors


def test_smoke_profile_is_selectable_but_not_offered_to_students():
    smoke = get_profile("smoke")
    assert smoke.name == "smoke" and "smoke" not in PROFILES
    assert set(smoke.lessons.defences) == set(PROFILES["gpu"].lessons.defences)  # every code path


def test_lesson_errors_lists_each_failing_cell():
    nb = nbformat.v4.new_notebook()
    ok = nbformat.v4.new_code_cell("1")
    bad = nbformat.v4.new_code_cell("x")
    bad.outputs = [
        nbformat.v4.new_output(
            "error",
            ename="RuntimeError",
            evalue="Expected all tensors to be on the same device\nmore",
            traceback=[],
        )
    ]
    nb.cells = [ok, bad]
    assert lesson_errors(nb) == [
        (1, "RuntimeError", "Expected all tensors to be on the same device")
    ]
