"""What each recorded sweep cost, read from its records: one line per (grid, precision, ISA).

    python -m tools.sweep_times                       # every tools/grids/*.jsonl
    python -m tools.sweep_times tools/grids/ci_fig2_users.jsonl

For each results file: learners, the training precision and the CPU's instruction set, the CPU,
the wall time of all its jobs (each job's ``wall_seconds``: training, or loading from the cache,
plus verification), and the training throughput (images/s, median and range) of the learners that
trained in that job (``from_cache`` false). docs/benchmarks.md records its output with the machine.
A throughput far below the grid's median says something else ran beside that learner.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parent.parent

__all__ = ["grid_costs", "main"]


def _group(record: dict) -> tuple[str, str, str]:
    machine = record.get("machine") or {}
    return (record.get("precision", "?"), machine.get("isa", "?"), machine.get("cpu", "?"))


def grid_costs(path: Path) -> list[dict]:
    """One summary per (precision, ISA, CPU) of the records in ``path`` (a sweep's .jsonl): count,
    wall minutes in all, and the median / min / max images/s of the learners trained there."""
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            groups.setdefault(_group(record), []).append(record)
    rows = []
    for (precision, isa, cpu), records in groups.items():
        rates = [
            r["images_per_second"]
            for r in records
            if not r.get("from_cache") and isinstance(r.get("images_per_second"), (int, float))
        ]
        rows.append(
            {
                "grid": path.stem,
                "learners": len(records),
                "precision": precision,
                "isa": isa,
                "cpu": cpu,
                "wall_min": sum(r.get("wall_seconds", 0.0) for r in records) / 60,
                "rate": (statistics.median(rates), min(rates), max(rates)) if rates else None,
                "trained": len(rates),
            }
        )
    return rows


def _line(row: dict) -> str:
    rate = row["rate"]
    if rate is None:
        speed = "loaded from the cache"
    else:
        median, low, high = rate
        speed = f"{median:.0f} img/s median ({low:.0f}-{high:.0f}) over {row['trained']} trained"
    return (
        f"| {row['grid']} | {row['learners']} | {row['precision']} ({row['isa']}) | "
        f"{row['wall_min']:.1f} | {speed} | {row['cpu']} |"
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Print the table for the given results files (default: every tools/grids/*.jsonl)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="*", type=Path)
    args = parser.parse_args(argv)
    paths = args.results or sorted((ROOT / "tools" / "grids").glob("*.jsonl"))
    print("| grid | learners | precision (ISA) | wall min | training throughput | CPU |")
    print("|---|---|---|---|---|---|")
    for path in paths:
        for row in grid_costs(path):
            print(_line(row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
