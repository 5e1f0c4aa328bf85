"""The runtime a lesson runs on: the device and the training precision, each chosen once; a banner.

Precision is chosen from what the machine does natively, never assumed: bf16 autocast is fast only
where the CPU has bf16 instructions (AVX-512 BF16 or AMX); elsewhere PyTorch emulates it and
training was measured 9x slower than fp32 (docs/benchmarks.md). ``ANW_PRECISION`` (fp32, bf16,
fp16) overrides the choice.
"""

from __future__ import annotations

import contextlib
import os
import platform
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

import torch

__all__ = [
    "choose_device",
    "choose_precision",
    "cpu_has_native_bf16",
    "gpu_has_native_bf16",
    "Precision",
    "in_colab",
    "describe_runtime",
    "flush_denormals",
]

#: Names ``ANW_PRECISION`` accepts, with the autocast dtype each stands for (None: plain fp32).
PRECISIONS: dict[str, Optional[torch.dtype]] = {
    "fp32": None,
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
}


@lru_cache(maxsize=1)
def choose_device() -> torch.device:
    """The one device every helper uses: CUDA when available, else CPU (``ANW_DEVICE``)."""
    forced = os.environ.get("ANW_DEVICE")
    if forced:
        return torch.device(forced)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def flush_denormals() -> bool:
    """Treat denormal floats as zero on the CPU, for this thread and every thread it starts later.

    fp32 training of narrow networks on real photos produces denormal values, which x86 CPUs handle
    in microcode: a width-4 small ResNet trained at 136 img/s on one thread without this and at
    2,400 img/s with it (docs/benchmarks.md). Threads inherit the setting when they are created, so
    it is set when ``anw_helpers`` is imported, before PyTorch starts its thread pool. Returns
    whether the CPU supports it.
    """
    return bool(torch.set_flush_denormal(True))


@dataclass(frozen=True)
class Precision:
    """The training precision: an autocast dtype (None: fp32) and why it was chosen."""

    name: str
    reason: str

    @property
    def dtype(self) -> Optional[torch.dtype]:
        """The autocast dtype, or None for plain fp32."""
        return PRECISIONS[self.name]

    def autocast(self, device: torch.device) -> AbstractContextManager:
        """The autocast context for a training step on ``device`` (a no-op context for fp32)."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device.type, dtype=self.dtype)

    @property
    def needs_grad_scaler(self) -> bool:
        """fp16 gradients underflow without loss scaling; bf16 and fp32 do not need it."""
        return self.name == "fp16"


def cpu_has_native_bf16() -> bool:
    """True when oneDNN runs bf16 natively on this CPU (AVX-512 BF16 or AMX), not by emulation."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def gpu_has_native_bf16(device: torch.device) -> bool:
    """True on GPUs of compute capability 8 (Ampere) and newer; a T4 (7.5) only emulates bf16."""
    return torch.cuda.get_device_capability(device)[0] >= 8


def precision_for(device: torch.device, forced: Optional[str] = None) -> Precision:
    """The precision for ``device``: ``forced`` (a name of PRECISIONS) if given, else by capability.

    CUDA: bf16 on GPUs that support it (Ampere and newer), else fp16 with loss scaling. CPU: bf16
    only where native, else fp32 (emulated bf16 was 12 img/s against fp32's 111 on an AVX2 EPYC).
    """
    if forced:
        if forced not in PRECISIONS:
            raise ValueError(
                f"ANW_PRECISION={forced!r} is not a precision; use one of "
                f"{', '.join(PRECISIONS)} (or unset it to choose automatically)."
            )
        if forced == "fp16" and device.type == "cpu":
            raise ValueError("ANW_PRECISION=fp16 is for GPUs; on a CPU use fp32 or bf16.")
        return Precision(forced, "set by ANW_PRECISION")
    if device.type == "cuda":
        if gpu_has_native_bf16(device):
            return Precision("bf16", "the GPU runs bf16 natively")
        return Precision("fp16", "the GPU has no bf16; fp16 with loss scaling")
    if cpu_has_native_bf16():
        return Precision("bf16", "the CPU has native bf16 (AVX-512 BF16 or AMX)")
    return Precision("fp32", "the CPU has no native bf16, where bf16 would be emulated and slow")


@lru_cache(maxsize=1)
def choose_precision() -> Precision:
    """The one training precision every helper uses on :func:`choose_device` (``ANW_PRECISION``)."""
    return precision_for(choose_device(), os.environ.get("ANW_PRECISION") or None)


def in_colab() -> bool:
    """True when running inside Google Colab."""
    try:
        import google.colab  # noqa: F401
    except ImportError:
        return False
    return True


def describe_runtime() -> str:
    """One paragraph naming the device, torch version, CPU threads and training precision; tells
    Colab users how to get a GPU."""
    device = choose_device()
    if device.type == "cuda":
        where = f"GPU: {torch.cuda.get_device_name(device)}"
    else:
        where = (
            f"CPU ({torch.get_num_threads()} threads, {platform.processor() or platform.machine()})"
        )
    precision = choose_precision()
    text = (
        f"anw_helpers runs on {device} - {where}; torch {torch.__version__}; training in "
        f"{precision.name} ({precision.reason})."
    )
    if device.type == "cpu" and in_colab():
        text += (
            " No GPU found: in Colab choose Runtime > Change runtime type > T4 GPU, then run the "
            "notebook again. The lessons still run on CPU, in the small `ci` profile."
        )
    return text
