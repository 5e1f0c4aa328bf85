"""tools/sweep_times.py: a sweep's cost read from its records."""

import json

from tools.sweep_times import grid_costs


def test_costs_are_grouped_by_precision_and_isa_and_skip_cached_rates(tmp_path):
    def rec(precision, isa, rate, cached=False):
        machine = {"isa": isa, "cpu": "Test CPU"}
        return {
            "precision": precision,
            "machine": machine,
            "images_per_second": rate,
            "from_cache": cached,
            "wall_seconds": 60.0,
        }

    path = tmp_path / "g.jsonl"
    records = [
        rec("bf16", "AVX512", 2000),
        rec("bf16", "AVX512", 1000),
        rec("fp32", "AVX2", 700),
        rec("fp32", "AVX2", 5, cached=True),
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    rows = {(r["precision"], r["isa"]): r for r in grid_costs(path)}
    assert rows["bf16", "AVX512"]["learners"] == 2 and rows["bf16", "AVX512"]["wall_min"] == 2.0
    assert rows["bf16", "AVX512"]["rate"] == (1500, 1000, 2000)
    assert rows["fp32", "AVX2"]["rate"] == (700, 700, 700)  # the cached learner's rate is not here
