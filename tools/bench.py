"""Benchmark the training pipeline: ``python -m tools.bench train``.

Trains the same model for the same number of steps, side by side in one run:
- conventional: a torchvision Dataset of PIL images, RandomCrop(32, padding=4) +
  RandomHorizontalFlip + ToTensor per image, a DataLoader, fp32, NCHW;
- ours (``anw_helpers.machinery.throughput``, ``train.make_train_step``): uint8 tensors on the
  device, batch-wise augmentation, channels_last, in every precision the device offers (fp32 and
  bf16 on CPU; fp32, fp16 and bf16 on CUDA).
Prints images/s of each, the achieved GFLOP/s next to the matmul rate in the same precision, and
the precision ``runtime.choose_precision`` picks on this machine. Record the output in
docs/benchmarks.md with the CPU (``lscpu``: model name and the avx2 / avx512_bf16 / amx flags).
"""

from __future__ import annotations

import argparse
import platform
import time

import torch
from torch.nn import functional as F

from anw_helpers.datasets import load_cifar10
from anw_helpers.machinery.runtime import (
    PRECISIONS,
    Precision,
    choose_device,
    choose_precision,
    cpu_has_native_bf16,
    gpu_has_native_bf16,
)
from anw_helpers.machinery.throughput import training_images_per_second
from anw_helpers.models import build_model

__all__ = [
    "conventional_images_per_second",
    "training_images_per_second",
    "matmul_gflops",
    "train_step_gflop",
    "main",
]


def _images(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    data = load_cifar10("train")
    return data.images[:n], data.labels[:n]


def conventional_images_per_second(
    model_name: str, width: int, batch: int, steps: int, workers: int
) -> float:
    """img/s of a textbook pipeline: PIL images + per-image transforms + DataLoader, fp32, NCHW
    (after 2 warm-up steps)."""
    from PIL import Image
    from torch.utils.data import DataLoader, Dataset
    from torchvision import transforms as T

    images, labels = _images(batch * (steps + 2))
    pil = [Image.fromarray(img.permute(1, 2, 0).numpy()) for img in images]
    tf = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor()])

    class PilDataset(Dataset):
        def __len__(self) -> int:
            return len(pil)

        def __getitem__(self, i: int):
            return tf(pil[i]), labels[i]

    device = choose_device()
    model = build_model(model_name, width=width).to(device).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    loader = DataLoader(
        PilDataset(), batch_size=batch, shuffle=True, num_workers=workers, drop_last=True
    )
    start, seen = 0.0, 0
    for i, (xb, yb) in enumerate(loader):
        if i == 2:
            _sync(device)
            start, seen = time.perf_counter(), 0
        loss = F.cross_entropy(model(xb.to(device)), yb.to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        seen += len(yb)
    _sync(device)
    return seen / (time.perf_counter() - start)


def train_step_gflop(model_name: str, width: int, batch: int) -> float:
    """GFLOP of one training step (forward + backward), counted by FlopCounterMode."""
    from torch.utils.flop_counter import FlopCounterMode

    model = build_model(model_name, width=width).train()
    x, y = torch.rand(batch, 3, 32, 32), torch.randint(0, 10, (batch,))
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(model(x), y).backward()
    return counter.get_total_flops() / 1e9


def matmul_gflops(dtype: torch.dtype = torch.float32, size: int = 2048, repeats: int = 10) -> float:
    """Measured dense matmul rate in GFLOP/s in ``dtype`` (the ceiling a training step aims at)."""
    device = choose_device()
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    for _ in range(2):
        a @ b
    _sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    _sync(device)
    return 2 * size**3 * repeats / (time.perf_counter() - start) / 1e9


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def precisions_to_compare(device: torch.device) -> list[str]:
    """The precisions to compare: fp32 and bf16 on CPU; fp32, fp16 (and native bf16) on CUDA."""
    if device.type == "cuda":
        return ["fp32", "fp16"] + (["bf16"] if gpu_has_native_bf16(device) else [])
    return ["fp32", "bf16"]


def cpu_flags() -> str:
    """The CPU's model name and the flags that decide the precision (avx2, avx512_bf16, amx)."""
    try:
        info = open("/proc/cpuinfo").read()
    except OSError:
        return platform.processor() or platform.machine()
    model = next(
        (ln.split(":", 1)[1].strip() for ln in info.splitlines() if ln.startswith("model name")),
        "?",
    )
    flags = next(
        (ln.split(":", 1)[1].split() for ln in info.splitlines() if ln.startswith("flags")), []
    )
    keep = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags]
    return f"{model}; flags: {' '.join(keep) or 'none of avx2/avx512/amx'}"


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m tools.bench train [--model M --width W --batch B]``."""
    parser = argparse.ArgumentParser(
        prog="python -m tools.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("what", choices=["train"])
    parser.add_argument("--model", default="small_resnet")
    parser.add_argument("--width", type=int, default=24)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument(
        "--workers", type=int, default=0, help="DataLoader workers of the conventional pipeline"
    )
    args = parser.parse_args(argv)
    device = choose_device()
    print(
        f"machine: {platform.machine()}, {cpu_flags()}; {torch.get_num_threads()} threads, "
        f"device {device}, torch {torch.__version__}; native bf16 on CPU: {cpu_has_native_bf16()}"
    )
    print(
        f"model {args.model} (width {args.width}), batch {args.batch}, "
        f"{args.steps} timed steps after 2 warm-up steps"
    )
    gflop = train_step_gflop(args.model, args.width, args.batch) / args.batch
    conv = conventional_images_per_second(
        args.model, args.width, args.batch, args.steps, args.workers
    )
    print(f"{'pipeline':<46}{'img/s':>9}{'vs conv.':>10}{'GFLOP/s':>10}{'matmul':>9}{'ratio':>7}")
    print(
        f"{'conventional (PIL + DataLoader, fp32, NCHW)':<46}{conv:>9.1f}{1:>9.2f}x"
        f"{gflop * conv:>10.1f}"
    )
    for name in precisions_to_compare(device):
        fast = training_images_per_second(
            args.model, args.width, args.batch, args.steps, Precision(name, "benchmark")
        )
        peak = matmul_gflops(PRECISIONS[name] or torch.float32)
        label = f"ours ({name}, device tensors, batch aug, CL)"
        print(
            f"{label:<46}{fast:>9.1f}{fast / conv:>9.2f}x{gflop * fast:>10.1f}{peak:>9.1f}"
            f"{gflop * fast / peak:>7.0%}"
        )
    picked = choose_precision()
    print(
        f"training step: {gflop:.3f} GFLOP per image; this machine trains in {picked.name}: "
        f"{picked.reason}"
    )


if __name__ == "__main__":
    main()
