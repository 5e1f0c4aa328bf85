"""Time the fast tier here: ``python -m tools.bench_fast_tier`` (issue 29: a minute on 2 cores).

Runs ``python -m pytest -m "not slow"`` in fresh processes, once in one process and once on every
core (``-n auto``, pytest-xdist), and, with ``--avx2``, both again with PyTorch held to the kernels
of a CPU without AVX-512 (``ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2``). Prints each run's
wall clock (imports and collection included) and test count side by side, with the CPU, its
instruction sets and PyTorch's kernel level, and the ratio of each run to the first.

Forcing AVX2 kernels is not a CPU without AVX-512 (the interpreter still runs on this core), so
record the output in docs/benchmarks.md with the CPU it names, and measure on the CPU a claim is
about. Run it with nothing else on the machine.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from anw_helpers.machinery import runtime

__all__ = ["AVX2_ENV", "Run", "parse_passed", "cpu_flags", "time_run", "table", "main"]

ROOT = Path(__file__).resolve().parents[1]
#: PyTorch's and oneDNN's kernels of a CPU without AVX-512, AMX or native bf16.
AVX2_ENV = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}


@dataclass(frozen=True)
class Run:
    """One timed fast tier: its name, wall seconds, tests passed and pytest's exit status."""

    name: str
    seconds: float
    passed: int
    returncode: int


def parse_passed(output: str) -> int:
    """The number of passed tests in pytest's last summary line ("898 passed, 280 deselected in
    58.45s"), 0 when there is none."""
    found = re.findall(r"(\d+) passed", output)
    return int(found[-1]) if found else 0


def cpu_flags(names: Sequence[str] = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")) -> str:
    """Which of ``names`` this CPU reports (``runtime.cpu_flags``: /proc/cpuinfo), "avx2 avx512f";
    "unknown" where there is no such file (not Linux)."""
    flags = runtime.cpu_flags()
    if flags is None:
        return "unknown"
    return " ".join(n for n in names if n in flags) or "none of " + ", ".join(names)


def time_run(name: str, extra: Sequence[str], env: Optional[dict] = None) -> Run:
    """Run the fast tier once in a fresh process (``extra``: more pytest options; ``env``: more
    environment) and time its wall clock."""
    command = [sys.executable, "-m", "pytest", "-m", "not slow", "-q", *extra]
    start = time.perf_counter()
    done = subprocess.run(
        command, cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True, text=True
    )
    seconds = time.perf_counter() - start
    return Run(name, seconds, parse_passed(done.stdout), done.returncode)


def table(runs: Sequence[Run]) -> str:
    """The runs side by side: wall seconds, tests passed, and each run's time over the first's."""
    if not runs:
        raise ValueError("no runs to tabulate; time at least one.")
    lines = ["| run | wall s | passed | / first |", "|---|---|---|---|"]
    for r in runs:
        ok = "" if r.returncode == 0 else f" (pytest exit {r.returncode})"
        ratio = r.seconds / runs[0].seconds
        lines.append(f"| {r.name} | {r.seconds:.1f} | {r.passed}{ok} | {ratio:.2f} |")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Time the fast tier in one process and with ``-n auto`` (and with AVX2 kernels:
    ``--avx2``); print the table. 0 when every run passed."""
    p = argparse.ArgumentParser(prog="python -m tools.bench_fast_tier", description=__doc__)
    p.add_argument("--avx2", action="store_true", help="also time both with AVX2 kernels")
    args = p.parse_args(argv)
    import torch

    print(f"CPU: {runtime.cpu_model()}; {os.cpu_count()} cores; flags: {cpu_flags()}")
    print(f"torch {torch.__version__}, kernels {torch.backends.cpu.get_cpu_capability()}")
    plans = [("one process", [], None), ("-n auto", ["-n", "auto"], None)]
    if args.avx2:
        plans += [("one process, AVX2 kernels", [], AVX2_ENV)]
        plans += [("-n auto, AVX2 kernels", ["-n", "auto"], AVX2_ENV)]
    runs = []
    for name, extra, env in plans:
        runs.append(time_run(name, extra, env))
        print(f"{name}: {runs[-1].seconds:.1f} s", flush=True)
    print(table(runs))
    return 0 if all(r.returncode == 0 for r in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
