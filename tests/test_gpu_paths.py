"""What the GPU path does differently, tested on the CPU (issue 28, item 5)."""

import ast
from pathlib import Path

import pytest
import torch
from torch import nn

from anw_helpers.machinery import throughput
from anw_helpers.machinery.runtime import Precision
from anw_helpers.train import adversarial_batch

ROOT = Path(__file__).resolve().parent.parent
FP16 = Precision("fp16", "simulated: fp16 autocast on the CPU")


def _tiny_gradient_model() -> nn.Module:
    """A linear classifier whose input gradient on 64 images (about 1e-9) underflows in fp16."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 10))
    with torch.no_grad():
        model[1].weight.copy_(1e-7 * torch.randn(10, 12).sign())
        model[1].bias.zero_()
    return model


def test_fgsm_under_fp16_moves_every_pixel():
    x, y = torch.full((64, 3, 2, 2), 0.5), torch.arange(64) % 10
    gen = torch.Generator().manual_seed(0)
    start = (2 * torch.rand(x.shape, generator=gen) - 1) * 0.1
    adv = adversarial_batch(
        _tiny_gradient_model(),
        x,
        y,
        0.1,
        generator=torch.Generator().manual_seed(0),
        precision=FP16,
    )
    assert not torch.allclose(adv, x + start), "sign(0): the input gradient underflowed"
    assert (((adv - x).abs() - 0.1).abs() < 1e-6).float().mean() > 0.2  # pushed to the radius


def test_the_unscaled_fp16_gradient_underflows(monkeypatch):
    """What the scale fixes: without it the same model's fp16 input gradient is all zeros."""
    from anw_helpers import train

    monkeypatch.setattr(train, "FP16_LOSS_SCALE", 1.0)
    x = torch.full((64, 3, 2, 2), 0.5, requires_grad=True)
    grad = train._input_gradient(_tiny_gradient_model(), x, torch.arange(64) % 10, 0.0, FP16)
    assert (grad == 0).all()


def test_an_overflowing_fp16_gradient_is_taken_again_in_fp32(monkeypatch):
    from anw_helpers import train

    monkeypatch.setattr(train, "FP16_LOSS_SCALE", 1e38)  # overflows fp16 at once
    x, y = torch.full((4, 3, 2, 2), 0.5), torch.arange(4)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 10))
    adv = adversarial_batch(model, x, y, 0.1, precision=FP16)
    assert torch.isfinite(adv).all()


def _numpy_calls_without_cpu(path: Path) -> list[int]:
    """Lines of ``path`` calling ``.numpy()`` on anything but a ``.cpu()`` result."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "numpy":
            receiver = node.func.value
            if not (isinstance(receiver, ast.Call) and getattr(receiver.func, "attr", "") == "cpu"):
                lines.append(node.lineno)
    return lines


@pytest.mark.parametrize(
    "module", ["datasets.py", "plots/signatures.py", "plots/many_users.py", "claims.py"]
)
def test_tensors_that_may_live_on_the_gpu_reach_numpy_through_cpu(module):
    path = ROOT / "anw_helpers" / module
    assert _numpy_calls_without_cpu(path) == [], f"{module}: .numpy() on a possibly-CUDA tensor"


def test_step_timing_waits_for_the_gpu(monkeypatch):
    calls = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: calls.append(device))
    throughput.synchronize(torch.device("cpu"))
    assert calls == []
    throughput.synchronize(torch.device("cuda", 0))
    assert calls == [torch.device("cuda", 0)]
    lesson = (ROOT / "notebooks" / "06_augmentations_and_defences.py").read_text()
    timing = lesson[lesson.index("def seconds_per_step") :].split("\n\n\n")[0]
    assert timing.count("synchronize(device)") == 2, "lesson 06 times steps without synchronising"


@pytest.mark.parametrize(
    "package, conda, needed, why",
    [
        ("torch", "pytorch", (2, 3), "torch.amp.GradScaler('cuda')"),
        ("torchvision", "torchvision", (0, 19), "batched torchvision.io.encode_jpeg"),
    ],
)
def test_declared_floors_cover_what_the_code_uses(package, conda, needed, why):
    import re

    for path, name in (("pyproject.toml", package), ("environment.yml", conda)):
        found = re.search(rf"\b{name}>=(\d+)\.(\d+)", (ROOT / path).read_text())
        assert found, f"{path} declares no floor for {name}"
        floor = (int(found.group(1)), int(found.group(2)))
        assert floor >= needed, f"{path}: {name}>={floor} is below what {why} needs"
