"""How fast this CPU trains the course's learner in fp32 and in bf16: measured once, then cached.

A CPU whose flags list bf16 instructions (avx512_bf16, amx_bf16) should train faster in bf16, but
flags do not promise it: :func:`cached_rates` times a few steps of the course's own training step
(``train.make_train_step``) in each precision in alternating rounds, keeping each one's best (about
``budget_s`` seconds and one warm-up step each; a warm-up slower than that ends it), and keeps the
rates in ``$ANW_CACHE/precision_probe.json`` (beside the model cache), keyed by the CPU model, its
bf16 flags, the thread count and the torch version. A corrupt or unreadable file is measured again
and rewritten; a read-only cache is measured, not written.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Callable, Optional

import torch

from .paths import CacheNotWritable, atomic_write, cache_dir

if TYPE_CHECKING:
    from ..recipe import TrainingRecipe

__all__ = ["PROBE_FILE", "PROBED", "probe_key", "measure_rates", "cached_rates", "rates_here"]

#: The file beside the model cache that keeps each machine's measured rates.
PROBE_FILE = "precision_probe.json"
#: The precisions the probe compares on a CPU.
PROBED: tuple[str, ...] = ("fp32", "bf16")
#: The largest batch the probe trains (a recipe's larger batch would only make it slower).
_MAX_BATCH = 32
#: The most timed steps per precision (the schedule is built for 1000 steps).
_MAX_STEPS = 200
#: Alternating timing rounds per precision (load from other processes hits them unevenly).
_ROUNDS = 3


def probe_key(cpu_model: str, bf16_flags: tuple[str, ...]) -> str:
    """The cache key of a measurement: CPU model, its bf16 flags, threads and torch version."""
    flags = ",".join(sorted(bf16_flags)) or "-"
    return f"{cpu_model} | {flags} | {torch.get_num_threads()} threads | torch {torch.__version__}"


def _timed_rate(step: Callable, x: torch.Tensor, y: torch.Tensor, budget_s: float) -> float:
    """Images/s of ``step``, timing at least two steps and then steps until ``budget_s`` passed."""
    start, steps = time.perf_counter(), 0
    while steps < 2 or (time.perf_counter() - start < budget_s and steps < _MAX_STEPS):
        step(x, y)
        steps += 1
    return len(y) * steps / (time.perf_counter() - start)


def _rates(steps: dict[str, Callable], x: torch.Tensor, y: torch.Tensor, budget_s: float) -> dict:
    """The best of :data:`_ROUNDS` alternating timings of each step (a busy machine slows some; the
    best is the machine's rate), after one warm-up step each; a warm-up slower than ``budget_s``
    is that precision's measurement (it has lost already)."""
    best: dict[str, float] = {}
    slow: set[str] = set()
    for name, step in steps.items():
        start = time.perf_counter()
        step(x, y)
        warmup = time.perf_counter() - start
        if warmup >= budget_s:
            best[name] = len(y) / warmup
            slow.add(name)
    for _ in range(_ROUNDS):
        for name in steps.keys() - slow:
            rate = _timed_rate(steps[name], x, y, budget_s / _ROUNDS)
            best[name] = max(best.get(name, 0.0), rate)
    return {name: round(best[name], 1) for name in steps}


def measure_rates(
    recipe: Optional[TrainingRecipe] = None, budget_s: float = 1.0
) -> dict[str, float]:
    """Training images/s of the course's training step in each of :data:`PROBED` on this CPU.

    ``recipe`` (default: the active profile's learner; batch capped at 32) sets the model, width
    and augmentation; the images are random 32 x 32 pixels (no data set is loaded). Each precision
    is timed for about ``budget_s`` seconds in alternating rounds.
    """
    from ..models import build_model
    from ..profiles import get_profile
    from ..train import make_train_step
    from .runtime import Precision

    recipe = recipe or get_profile().config.recipe
    batch = min(recipe.batch_size, _MAX_BATCH)
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (batch, 3, 32, 32), dtype=torch.uint8, generator=gen)
    y = torch.randint(0, 10, (batch,), generator=gen)
    steps = {}
    for name in PROBED:
        model = build_model(recipe.model, width=recipe.width, pretrained=False)
        model = model.to(memory_format=torch.channels_last).train()
        cpu = torch.device("cpu")
        steps[name] = make_train_step(model, recipe, cpu, 1000, Precision(name, "probe"))
    return _rates(steps, x, y, budget_s)


def _read(key: str) -> Optional[dict[str, float]]:
    """The rates cached for ``key``, or None (no file, another machine's, or a corrupt file)."""
    try:
        entry = json.loads((cache_dir() / PROBE_FILE).read_text())[key]
        rates = {name: float(entry[name]) for name in PROBED}
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return rates if all(rate > 0 for rate in rates.values()) else None


def _write(key: str, rates: dict[str, float]) -> None:
    """Add ``rates`` under ``key`` to the cache file, replacing a corrupt one; skip if read-only."""
    try:
        path = cache_dir() / PROBE_FILE
        try:
            known = json.loads(path.read_text())
            known = known if isinstance(known, dict) else {}
        except (OSError, ValueError):
            known = {}
        known[key] = rates
        atomic_write(path, lambda f: f.write(json.dumps(known, indent=1).encode()))
    except (CacheNotWritable, PermissionError):
        pass


def cached_rates(key: str, measure: Optional[Callable[[], dict[str, float]]] = None) -> dict:
    """This machine's rates (images/s per precision): read from the cache, else measured (by
    ``measure``, default :func:`measure_rates`) and cached."""
    rates = _read(key)
    if rates is None:
        rates = (measure or measure_rates)()
        _write(key, rates)
    return rates


def rates_here(cpu_model: str, bf16_flags: tuple[str, ...]) -> dict[str, float]:
    """This machine's rates (:func:`cached_rates` under :func:`probe_key`): what
    ``runtime.choose_precision`` compares on a CPU whose flags list bf16 (the package hands it down
    with ``runtime.use_rate_probe``, as ``runtime`` sits below the ``train`` this times)."""
    return cached_rates(probe_key(cpu_model, bf16_flags))
