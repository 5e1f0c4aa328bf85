"""Time the course's permutation test against SciPy's: ``python -m tools.bench_permutation``.

Both run the same one-sided Monte Carlo test of "mean(x) - mean(y) is large" (x: the user's
scores, y: the reference's) with the same p-value, ``(1 + #{null >= observed}) / (B + 1)``:

- ours: ``anw_helpers.stats.permutation_test``, which draws only the smaller group of each
  relabelling (a random k-subset of the n + m pooled indices, ``stats._random_subsets``);
- SciPy's: ``scipy.stats.permutation_test(permutation_type="independent")``, which permutes all
  n + m values once per relabelling, in a Python loop over relabellings.

The sizes are the lessons' (lesson 09: exercise 9.2's check, sections 3 and 4a-4b) and
``anw verify --reference``'s default. Times are CPU seconds of this process
(``time.process_time``: one thread, so a job running beside it slows the wall clock, not this).
SciPy's cost grows linearly with B (one permutation of all n + m values each), so where B exceeds
``--scipy-resamples`` it is timed on that many relabellings and scaled to B (marked "scaled").
Record the output in docs/benchmarks.md with the CPU (``runtime.cpu_model``).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

import numpy as np
import scipy.stats

from anw_helpers import stats
from anw_helpers.machinery.runtime import cpu_model

__all__ = ["Case", "CASES", "Timing", "time_ours", "time_scipy", "compare", "main"]


@dataclass(frozen=True)
class Case:
    """One size the lessons use: ``n`` user scores against ``m`` reference scores, ``b``
    relabellings."""

    name: str
    n: int
    m: int
    b: int


#: The sizes of lesson 09 and of ``anw verify --reference`` (its default 9,999 relabellings).
CASES: tuple[Case, ...] = (
    Case("09 ex. 9.2: 10 photos vs 2,000", 10, 2_000, 999),
    Case("09 4b: a 5-photo innocent vs 9,995", 5, 9_995, 999),
    Case("09 4a: a 50-photo innocent vs 9,950", 50, 9_950, 9_999),
    Case("anw verify: 50 photos vs 600", 50, 600, 9_999),
    Case("09 3: the user, 50 vs 10,000", 50, 10_000, 99_999),
)

#: Values one batch of SciPy's relabellings holds at once (as ``claims``: 16 MB of float64).
_BATCH_VALUES = 2_000_000


@dataclass(frozen=True)
class Timing:
    """CPU seconds and p-value of one test; ``scaled`` when timed on fewer relabellings than B."""

    seconds: float
    p_value: float
    scaled: bool = False


def _scores(case: Case, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Skewed scores like lesson 09's (a gamma minus its mean), the user's shifted up a little."""
    rng = np.random.default_rng(seed)
    y = rng.gamma(0.5, 0.2, case.m) - 0.1
    x = rng.gamma(0.5, 0.2, case.n) - 0.1 + 0.05
    return x, y


def time_ours(x: np.ndarray, y: np.ndarray, b: int, seed: int = 0) -> Timing:
    """CPU seconds of ``stats.permutation_test`` (difference of means, no strata) with B = ``b``."""
    start = time.process_time()
    result = stats.permutation_test(x, y, b, seed, keep_null=False)
    return Timing(time.process_time() - start, result.p_value)


def _mean_difference(x: np.ndarray, y: np.ndarray, axis: int) -> np.ndarray:
    return np.mean(x, axis=axis) - np.mean(y, axis=axis)


def time_scipy(x: np.ndarray, y: np.ndarray, b: int, cap: int, seed: int = 0) -> Timing:
    """CPU seconds of ``scipy.stats.permutation_test`` with B = ``b``: timed on ``min(b, cap)``
    relabellings and scaled linearly to ``b`` (its cost is one permutation of n + m per
    relabelling)."""
    runs = min(b, cap)
    start = time.process_time()
    result = scipy.stats.permutation_test(
        (x, y),
        _mean_difference,
        permutation_type="independent",
        vectorized=True,
        n_resamples=runs,
        batch=max(1, _BATCH_VALUES // (len(x) + len(y))),
        alternative="greater",
        rng=np.random.default_rng(seed),
    )
    seconds = (time.process_time() - start) * b / runs
    return Timing(seconds, float(result.pvalue), runs < b)


def compare(
    cases: Sequence[Case] = CASES, cap: int = 2_000, seed: int = 0
) -> list[tuple[Case, Timing, Timing]]:
    """Each case timed both ways (ours first, then SciPy's), on the same scores."""
    rows = []
    for case in cases:
        x, y = _scores(case, seed)
        rows.append((case, time_ours(x, y, case.b, seed), time_scipy(x, y, case.b, cap, seed)))
    return rows


def _table(rows: Sequence[tuple[Case, Timing, Timing]]) -> str:
    lines = [
        "| case | n | m | B | ours (s) | scipy (s) | scipy / ours | p ours | p scipy |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for case, ours, theirs in rows:
        scaled = " (scaled)" if theirs.scaled else ""
        ratio = theirs.seconds / max(ours.seconds, 1e-9)
        lines.append(
            f"| {case.name} | {case.n:,} | {case.m:,} | {case.b:,} | {ours.seconds:.3g} | "
            f"{theirs.seconds:.3g}{scaled} | {ratio:,.0f}x | {ours.p_value:.3g} | "
            f"{theirs.p_value:.3g} |"
        )
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> None:
    """Command line: ``python -m tools.bench_permutation [--scipy-resamples R] [--seed S]``."""
    parser = argparse.ArgumentParser(
        prog="python -m tools.bench_permutation",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--scipy-resamples",
        type=int,
        default=2_000,
        metavar="R",
        help="time SciPy on at most R relabellings and scale to B (default 2,000)",
    )
    parser.add_argument("--seed", type=int, default=0, help="scores and relabellings (default 0)")
    args = parser.parse_args(argv)
    if args.scipy_resamples < 1:
        parser.error(f"--scipy-resamples must be >= 1; got {args.scipy_resamples}.")
    print(f"CPU: {cpu_model()}; numpy {np.__version__}, scipy {scipy.__version__}")
    print("CPU seconds of this process (time.process_time), one thread")
    print(_table(compare(CASES, args.scipy_resamples, args.seed)))


if __name__ == "__main__":
    main()
