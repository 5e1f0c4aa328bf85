"""The training precision is chosen from what the machine does natively (issue 14, part 1)."""

import pytest
import torch

from anw_helpers.machinery import runtime
from anw_helpers.machinery.runtime import Precision, precision_for

CPU = torch.device("cpu")


def test_cpu_without_native_bf16_trains_in_fp32(monkeypatch):
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: False)
    picked = precision_for(CPU)
    assert picked.name == "fp32" and picked.dtype is None
    assert "no native bf16" in picked.reason


def test_cpu_with_native_bf16_trains_in_bf16(monkeypatch):
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: True)
    assert precision_for(CPU).name == "bf16"


def test_forced_precision_and_clear_errors():
    assert precision_for(CPU, "fp32").reason == "set by ANW_PRECISION"
    with pytest.raises(ValueError, match="ANW_PRECISION='fp64' is not a precision"):
        precision_for(CPU, "fp64")
    with pytest.raises(ValueError, match="for GPUs"):
        precision_for(CPU, "fp16")


def test_fp32_autocast_is_a_no_op_and_only_fp16_scales():
    x = torch.ones(2, 2)
    with Precision("fp32", "test").autocast(CPU):
        assert (x @ x).dtype == torch.float32
    with Precision("bf16", "test").autocast(CPU):
        assert (x @ x).dtype == torch.bfloat16
    assert Precision("fp16", "t").needs_grad_scaler and not Precision("bf16", "t").needs_grad_scaler


def test_the_training_record_names_the_precision():
    from anw_helpers.models import build_model
    from anw_helpers.recipe import TrainingRecipe
    from anw_helpers.train import fit

    model = build_model("small_resnet", 10, 4, 0)
    recipe = TrainingRecipe(epochs=1, batch_size=8, width=4)
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8, generator=g)
    record = fit(model, images, torch.arange(16) % 10, recipe, CPU, progress=False)
    assert record.precision == runtime.choose_precision().name
