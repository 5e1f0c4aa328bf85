"""Benchmark the training pipeline: ``python -m anw_helpers.bench train``.

Trains the same model for the same number of steps two ways, in one run:
- conventional: a torchvision Dataset of PIL images, RandomCrop(32, padding=4) + RandomHorizontalFlip +
  ToTensor per image, a DataLoader, fp32, NCHW;
- ours (``anw_helpers.train.make_train_step``): uint8 tensors on the device, batch-wise augmentation,
  bf16 autocast on CPU / fp16 AMP on CUDA, channels_last.
Prints images/s for each and their ratio, and our step's achieved GFLOP/s next to a matmul rate measured
in the same run (bf16 on CPU, fp16 on CUDA). Record the output in docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import platform
import time

import torch
from torch.nn import functional as F

from .data import load_cifar10
from .models import build_model
from .profiles import get_profile
from .runtime import choose_device
from .train import make_train_step

__all__ = ["conventional_images_per_second", "fast_images_per_second", "matmul_gflops", "train_step_gflop", "main"]


def _images(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    data = load_cifar10("train")
    return data.images[:n], data.labels[:n]


def conventional_images_per_second(model_name: str, width: int, batch: int, steps: int, workers: int) -> float:
    """img/s of a textbook pipeline: PIL images + per-image transforms + DataLoader, fp32, NCHW (after 2 warm-up steps)."""
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
    loader = DataLoader(PilDataset(), batch_size=batch, shuffle=True, num_workers=workers, drop_last=True)
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


def fast_images_per_second(model_name: str, width: int, batch: int, steps: int) -> float:
    """img/s of the course's pipeline (``make_train_step``) on the same model, batch and step count."""
    device = choose_device()
    images, labels = _images(batch * (steps + 2))
    x, y = images.to(device), labels.to(device)
    config = get_profile("ci").config.with_(model=model_name, width=width, batch_size=batch, epochs=1, schedule="step")
    model = build_model(model_name, width=width).to(device, memory_format=torch.channels_last).train()
    step = make_train_step(model, config, device, steps + 2)
    for i in range(steps + 2):
        if i == 2:
            _sync(device)
            start = time.perf_counter()
        step(x[i * batch : (i + 1) * batch], y[i * batch : (i + 1) * batch])
    _sync(device)
    return batch * steps / (time.perf_counter() - start)


def train_step_gflop(model_name: str, width: int, batch: int) -> float:
    """Floating-point operations (GFLOP) of one training step (forward + backward), counted by FlopCounterMode."""
    from torch.utils.flop_counter import FlopCounterMode

    model = build_model(model_name, width=width).train()
    x, y = torch.rand(batch, 3, 32, 32), torch.randint(0, 10, (batch,))
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(model(x), y).backward()
    return counter.get_total_flops() / 1e9


def matmul_gflops(size: int = 2048, repeats: int = 10) -> float:
    """Measured dense matmul rate in GFLOP/s: bf16 on CPU, fp16 on CUDA (the ceiling our autocast step aims at)."""
    device = choose_device()
    dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
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


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m anw_helpers.bench train [--model small_resnet --width 24 --batch 256 --steps 20]``."""
    parser = argparse.ArgumentParser(prog="python -m anw_helpers.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["train"])
    parser.add_argument("--model", default="small_resnet")
    parser.add_argument("--width", type=int, default=24)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers of the conventional pipeline")
    args = parser.parse_args(argv)
    device = choose_device()
    print(f"machine: {platform.machine()} {platform.processor() or ''}, {torch.get_num_threads()} threads, device {device}, torch {torch.__version__}")
    print(f"model {args.model} (width {args.width}), batch {args.batch}, {args.steps} timed steps after 2 warm-up steps")
    conv = conventional_images_per_second(args.model, args.width, args.batch, args.steps, args.workers)
    fast = fast_images_per_second(args.model, args.width, args.batch, args.steps)
    gflop = train_step_gflop(args.model, args.width, args.batch)
    achieved = gflop * fast / args.batch
    peak = matmul_gflops()
    print(f"{'pipeline':<44}{'img/s':>10}")
    print(f"{'conventional (PIL + DataLoader, fp32, NCHW)':<44}{conv:>10.1f}")
    print(f"{'ours (device tensors, batch aug, autocast, CL)':<44}{fast:>10.1f}")
    print(f"speed-up: {fast / conv:.2f}x")
    print(f"training step: {gflop / args.batch:.3f} GFLOP per image; achieved {achieved:.1f} GFLOP/s; "
          f"matmul {'fp16' if device.type == 'cuda' else 'bf16'} {peak:.1f} GFLOP/s; ratio {achieved / peak:.0%}")


if __name__ == "__main__":
    main()
