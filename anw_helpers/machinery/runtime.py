"""The runtime a lesson runs on: the device and the training precision, each chosen once; a banner.

Precision is chosen by what the machine does, never assumed. On a CPU, bf16 can only be fast where
its flags list bf16 instructions (avx512_bf16 or amx_bf16, read from ``/proc/cpuinfo``); elsewhere
oneDNN emulates it, even where PyTorch calls bf16 "supported" (any AVX-512 BW/VL/DQ CPU), and
training was measured 9x slower than fp32 (docs/benchmarks.md). Where the flags say native, a few
seconds' probe times the course's own training step in fp32 and bf16, once per machine
(``precision_probe``), and the faster wins. ``ANW_PRECISION`` (fp32, bf16, fp16) overrides the
choice and skips the probe; ``ANW_PRECISION_PROBE=off`` trusts the flags without measuring.

This module is a foundation: it imports nothing of the package. The probe times ``train``'s step,
so it sits above ``train``; the package's ``__init__`` hands it down once with
:func:`use_rate_probe` (Python runs ``anw_helpers/__init__.py`` before any of its modules).
"""

from __future__ import annotations

import contextlib
import os
import platform
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Optional

import torch

__all__ = [
    "choose_device",
    "choose_precision",
    "cpu_flags",
    "cpu_model",
    "parse_cpu_flags",
    "cpu_has_native_bf16",
    "gpu_has_native_bf16",
    "Precision",
    "in_colab",
    "describe_runtime",
    "flush_denormals",
    "launched_by_torchrun",
    "trained_with",
    "use_rate_probe",
]

#: CPU flags (Linux ``/proc/cpuinfo``) that mean bf16 runs natively: AVX-512 BF16, AMX, Arm's BF16.
BF16_FLAGS: frozenset[str] = frozenset({"avx512_bf16", "amx_bf16", "bf16"})
_CPUINFO = Path("/proc/cpuinfo")

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
    in microcode, many times slower (docs/benchmarks.md, "Denormal numbers", measures it). Threads
    inherit the setting when they are created, so it is set when ``anw_helpers`` is imported,
    before PyTorch starts its thread pool. Returns whether the CPU supports it.
    """
    return bool(torch.set_flush_denormal(True))


@dataclass(frozen=True)
class Precision:
    """The training precision: an autocast dtype (None: fp32) and why it was chosen."""

    name: str
    reason: str
    rates: tuple[tuple[str, float], ...] = ()  # images/s per precision, where measured

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


def parse_cpu_flags(cpuinfo: str) -> frozenset[str]:
    """The CPU flags in the text of ``/proc/cpuinfo`` (x86's ``flags``, Arm's ``Features``)."""
    for line in cpuinfo.splitlines():
        name, _, value = line.partition(":")
        if name.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


@lru_cache(maxsize=1)
def cpu_flags() -> Optional[frozenset[str]]:
    """This CPU's flags from ``/proc/cpuinfo``, or None where there is none (macOS, Windows)."""
    try:
        flags = parse_cpu_flags(_CPUINFO.read_text())
    except OSError:
        return None
    return flags or None


@lru_cache(maxsize=1)
def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what ``platform`` says."""
    try:
        for line in _CPUINFO.read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _mkldnn_says_bf16() -> bool:
    """PyTorch's answer, which is "yes" on any AVX-512 BW/VL/DQ CPU, emulated bf16 included."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def cpu_has_native_bf16(flags: Optional[frozenset[str]] = None) -> bool:
    """True when the CPU's flags (default: :func:`cpu_flags`) list bf16 instructions (avx512_bf16,
    amx_bf16, Arm's bf16). Without readable flags, PyTorch's oneDNN check decides."""
    flags = cpu_flags() if flags is None else flags
    if flags is None:
        return _mkldnn_says_bf16()
    return bool(flags & BF16_FLAGS)


def gpu_has_native_bf16(device: torch.device) -> bool:
    """True on GPUs of compute capability 8 (Ampere) and newer; a T4 (7.5) only emulates bf16."""
    return torch.cuda.get_device_capability(device)[0] >= 8


def precision_for(device: torch.device, forced: Optional[str] = None) -> Precision:
    """The precision for ``device``: ``forced`` (a name of PRECISIONS) if given, else by capability.

    CUDA: bf16 on GPUs that support it (Ampere and newer), else fp16 with loss scaling. CPU: fp32
    unless the flags list bf16 (emulated bf16 trained several times slower than fp32 on an AVX2
    EPYC, issue 25); where they do, the faster of the two by the probe (``precision_probe``).
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
    if not cpu_has_native_bf16():
        return Precision("fp32", "the CPU has no native bf16 flag; bf16 would be emulated, slow")
    return _measured_cpu_precision()


def launched_by_torchrun() -> bool:
    """True when this process is one rank of a torchrun launch (RANK and WORLD_SIZE are set; the
    ranks themselves are ``tools.distributed``'s business)."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def trained_with() -> dict:
    """The device type and training precision a model is trained with here: part of every cache
    key, so that a bf16 learner is never reused as an fp32 one (they differ, Sec. 5.1's numbers
    included) and a CPU learner never stands in for a GPU one (``train.model_cache_key``)."""
    return {"device": choose_device().type, "precision": choose_precision().name}


#: What a rate probe is: (CPU model, its bf16 flags) -> training images/s per precision.
RateProbe = Callable[[str, tuple[str, ...]], dict[str, float]]
#: This machine's rate probe, handed down by ``anw_helpers/__init__.py``
#: (``precision_probe.rates_here``); None: not measured, the flags decide.
_rate_probe: Optional[RateProbe] = None


def use_rate_probe(probe: Optional[RateProbe]) -> None:
    """Set what measures the fp32 and bf16 training rates on a CPU with bf16 flags: a function of
    the CPU model and its bf16 flags (``precision_probe.rates_here``; None: trust the flags). The
    package sets it on import; a choice already made (:func:`choose_precision`) is forgotten."""
    global _rate_probe
    if probe is not None and not callable(probe):
        raise TypeError(f"use_rate_probe needs a function or None; got {probe!r}.")
    _rate_probe = probe
    choose_precision.cache_clear()


def _probe_allowed() -> bool:
    """The probe runs unless ``ANW_PRECISION_PROBE=off`` or under torchrun (ranks must agree)."""
    if os.environ.get("ANW_PRECISION_PROBE", "").lower() in ("off", "0", "no"):
        return False
    return not launched_by_torchrun()


def _measured_cpu_precision() -> Precision:
    """On a CPU whose flags list bf16: the faster of fp32 and bf16 by the cached probe."""
    if not _probe_allowed() or _rate_probe is None:
        return Precision("bf16", "the CPU's flags list native bf16 (not measured)")
    flags = tuple(sorted((cpu_flags() or frozenset()) & BF16_FLAGS))
    try:
        rates = _rate_probe(cpu_model(), flags)
    except RuntimeError as exc:  # a bf16 kernel this torch build lacks: train in fp32
        return Precision("fp32", f"bf16 failed in the probe ({str(exc).splitlines()[0][:80]})")
    best = max(rates, key=rates.__getitem__)
    measured = ", ".join(f"{name} {rate:,.0f} img/s" for name, rate in rates.items())
    flag_text = ", ".join(flags) or "bf16 by oneDNN"
    return Precision(
        best, f"the faster here: measured {measured}; flags {flag_text}", tuple(rates.items())
    )


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


def _capability() -> str:
    """The widest vector instructions PyTorch uses on this CPU (e.g. AVX512, AVX2)."""
    try:
        return str(torch.backends.cpu.get_cpu_capability())
    except (AttributeError, RuntimeError):
        return "unknown vector unit"


def describe_runtime() -> str:
    """One paragraph naming the device, torch version, CPU threads and training precision with why
    (on a CPU with bf16 flags: both measured rates); tells Colab users how to get a GPU."""
    device = choose_device()
    if device.type == "cuda":
        where = f"GPU: {torch.cuda.get_device_name(device)}"
    else:
        where = f"CPU ({torch.get_num_threads()} threads, {cpu_model()}, {_capability()})"
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
