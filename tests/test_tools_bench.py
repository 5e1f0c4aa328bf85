"""The instructors' benchmark (tools/bench.py) and the package's throughput helper (lesson 05)."""

import pytest

from anw_helpers import throughput
from tools import bench


@pytest.mark.slow  # trains a few steps of several pipelines
def test_throughput_and_benchmark_functions_run_at_tiny_scale(cifar_train):
    assert throughput.training_images_per_second("small_resnet", 8, batch=8, steps=1) > 0
    assert bench.conventional_images_per_second("small_resnet", 8, batch=8, steps=1, workers=0) > 0
    assert bench.train_step_gflop("small_resnet", 8, batch=4) > 0
    assert bench.matmul_gflops(size=256, repeats=2) > 0
