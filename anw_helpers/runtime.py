"""The runtime a lesson runs on: the device (chosen once: CUDA, then CPU) and a start-of-lesson banner."""
from __future__ import annotations

import os
import platform
from functools import lru_cache

import torch

__all__ = ["choose_device", "in_colab", "describe_runtime"]


@lru_cache(maxsize=1)
def choose_device() -> torch.device:
    """The one device every helper uses: CUDA when available, else CPU (``ANW_DEVICE`` overrides)."""
    forced = os.environ.get("ANW_DEVICE")
    if forced:
        return torch.device(forced)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def in_colab() -> bool:
    """True when running inside Google Colab."""
    try:
        import google.colab  # noqa: F401
    except ImportError:
        return False
    return True


def describe_runtime() -> str:
    """One paragraph naming the device, torch version and CPU threads; tells Colab users how to get a GPU."""
    device = choose_device()
    if device.type == "cuda":
        where = f"GPU: {torch.cuda.get_device_name(device)}"
    else:
        where = f"CPU ({torch.get_num_threads()} threads, {platform.processor() or platform.machine()})"
    text = f"anw_helpers runs on {device} - {where}; torch {torch.__version__}."
    if device.type == "cpu" and in_colab():
        text += (" No GPU found: in Colab choose Runtime > Change runtime type > T4 GPU, then run the notebook "
                 "again. The lessons still run on CPU, in the small `ci` profile.")
    return text
