"""Issue 29 item 3: every setting of every profile, pinned in tests/data/profiles_snapshot.json.

The model cache's keys (``train.model_cache_key``) and a sweep's resume keys (``sweep.resume_id``)
are built from these values, so a refactoring of ``anw_helpers/profiles.py`` must leave them
byte-identical (the records in tools/grids/*.jsonl and the class caches stay valid). Changing a
profile on purpose: rewrite the file with ``python tests/test_profiles_snapshot.py`` and say in the
commit which records to rerun (CONTRIBUTING.md, "Changing a profile").
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from anw_helpers import profiles

SNAPSHOT = Path(__file__).resolve().parent / "data" / "profiles_snapshot.json"


def _settings(profile: profiles.Profile) -> dict[str, Any]:
    """A profile's settings: the learner's flat config and every per-lesson setting (its machine
    and purpose are prose, not settings)."""
    return {
        "learner": profile.config.flat(),
        "lessons": dataclasses.asdict(profile.lessons),
    }


def snapshot() -> dict[str, Any]:
    """Every profile's settings (``PROFILES`` and the smoke test's) and the module's tables that
    lessons 05, 06 and 10 build learners from."""
    every = {**profiles.PROFILES, profiles.SMOKE.name: profiles.SMOKE}
    return {
        "profiles": {name: _settings(p) for name, p in every.items()},
        "high_res": profiles.HIGH_RES.flat(),
        "defence_variants": profiles.DEFENCE_VARIANTS,
        "adaptive_recipes": profiles.ADAPTIVE_RECIPES,
        "multi_user_sizes": profiles.MULTI_USER_SIZES,
        "multi_user_keys": profiles.MULTI_USER_KEYS,
    }


def render(values: dict[str, Any]) -> str:
    """The snapshot as the committed text: JSON as the cache keys write it (``60.0`` and ``60``
    differ), keys sorted."""
    return json.dumps(values, indent=1, sort_keys=True, default=str) + "\n"


def test_every_profile_setting_is_unchanged():
    assert render(snapshot()) == SNAPSHOT.read_text(encoding="utf-8"), (
        "a profile's settings changed: model-cache and sweep-resume keys change with them; if "
        "meant, run python tests/test_profiles_snapshot.py and rerun that profile's grids"
    )


def test_the_snapshot_tells_an_int_from_a_float():
    changed = snapshot()
    changed["profiles"]["ci"]["learner"]["keys"] = (60,)  # was 60.0: a different cache key
    assert changed["profiles"]["ci"]["learner"]["keys"] == (60.0,)
    assert render(changed) != render(snapshot())


def test_the_snapshot_covers_every_profile_and_lesson_setting():
    values = snapshot()["profiles"]
    assert set(values) == {*profiles.PROFILES, "smoke"}
    lesson_fields = {f.name for f in dataclasses.fields(profiles.LessonSettings)}
    assert all(set(v["lessons"]) == lesson_fields for v in values.values())
    assert set(values["ci"]["learner"]) == set(profiles.PROFILES["ci"].config.flat())


if __name__ == "__main__":
    SNAPSHOT.parent.mkdir(exist_ok=True)
    SNAPSHOT.write_text(render(snapshot()), encoding="utf-8")
    print(f"wrote {SNAPSHOT}", file=sys.stderr)
