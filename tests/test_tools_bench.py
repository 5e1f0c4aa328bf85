"""The instructors' benchmark (tools/bench.py) and the package's throughput helper (lesson 05)."""

import pytest

from anw_helpers.machinery import throughput
from tools import bench


@pytest.mark.slow  # trains a few steps of several pipelines
def test_throughput_and_benchmark_functions_run_at_tiny_scale(cifar_train):
    assert throughput.training_images_per_second("small_resnet", 8, batch=8, steps=1) > 0
    assert bench.conventional_images_per_second("small_resnet", 8, batch=8, steps=1, workers=0) > 0
    assert bench.train_step_gflop("small_resnet", 8, batch=4) > 0
    assert bench.matmul_gflops(size=256, repeats=2) > 0


def test_permutation_benchmark_times_both_tests_on_the_same_scores():
    """tools/bench_permutation.py: ours and SciPy's side by side (tiny sizes: milliseconds)."""
    from tools import bench_permutation as bp

    cases = [bp.Case("tiny", 4, 30, 99), bp.Case("scaled", 5, 40, 300)]
    rows = bp.compare(cases, cap=100)
    assert [case.name for case, _, _ in rows] == ["tiny", "scaled"]
    for case, ours, theirs in rows:
        assert ours.seconds >= 0 and theirs.seconds >= 0
        # the same p-value formula: both in [1 / (B + 1), 1]
        assert 1 / (case.b + 1) <= ours.p_value <= 1 and 0 < theirs.p_value <= 1
    assert not rows[0][2].scaled and rows[1][2].scaled
    assert "| tiny | 4 | 30 | 99 |" in bp._table(rows)


def test_bench_fast_tier_reads_pytests_summary_and_tabulates_side_by_side():
    """tools/bench_fast_tier.py: the pure parts (no pytest run: that is the benchmark itself)."""
    from tools import bench_fast_tier as bf

    assert bf.parse_passed("...\n898 passed, 280 deselected in 58.45s\n") == 898
    assert bf.parse_passed("3 failed, 10 passed in 1s") == 10 and bf.parse_passed("error") == 0
    text = bf.table([bf.Run("one process", 40.0, 898, 0), bf.Run("-n auto", 20.0, 897, 1)])
    assert "| one process | 40.0 | 898 | 1.00 |" in text
    assert "| -n auto | 20.0 | 897 (pytest exit 1) | 0.50 |" in text
    with pytest.raises(ValueError, match="no runs"):
        bf.table([])
    assert bf.cpu_flags(("no_such_flag",)).startswith(("none of", "unknown"))
    assert bf.AVX2_ENV["ATEN_CPU_CAPABILITY"] == "avx2"
