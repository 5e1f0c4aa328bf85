"""Smoke test: run every lesson's code paths at tiny size on this machine's device (issue 14).

    python -m tools.smoke                 # on a GPU machine: every lesson on CUDA, a few minutes
    python -m tools.smoke --only 04 05    # some lessons
    ANW_DEVICE=cpu python -m tools.smoke  # the same paths on the CPU

Each lesson runs from its .py source in a fresh kernel with ``ANW_PROFILE=smoke`` (a tiny profile,
``anw_helpers.profiles.SMOKE``: two epochs, 1,024 images, every defence variant, a torchvision net)
and keeps going after a failing cell. At that size the lessons' scientific checks are expected to
fail (``AssertionError``: the learner has not memorised anything); every other error - a tensor on
the wrong device, a missing package, a shape mismatch - is a defect, and the command exits 1.
Record the output, with the device, in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parent.parent

__all__ = ["lesson_errors", "smoke_lesson", "main"]


def lesson_errors(nb) -> list[tuple[int, str, str]]:
    """(cell index, exception name, first line of its message) for every failing cell of ``nb``."""
    found = []
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                message = (out.get("evalue") or "").strip().splitlines()
                found.append((index, out.get("ename", "?"), message[0][:200] if message else ""))
    return found


def smoke_lesson(py: Path, timeout: int = 600) -> tuple[float, list[tuple[int, str, str]]]:
    """Execute one lesson under the smoke profile, errors allowed; returns (seconds, errors)."""
    from nbclient import NotebookClient

    from tools.course import read_lesson

    nb = read_lesson(py)
    start = time.perf_counter()
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(py.parent)}},
    )
    client.execute()
    return time.perf_counter() - start, lesson_errors(nb)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command line: run the lessons, print a line per lesson and each defect; exit 1 on one."""
    parser = argparse.ArgumentParser(
        prog="python -m tools.smoke",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--only", nargs="*", help="lesson numbers, e.g. 04 05")
    args = parser.parse_args(argv)
    os.environ["ANW_PROFILE"] = "smoke"
    os.environ.setdefault("MPLBACKEND", "Agg")
    import torch

    from anw_helpers.machinery.runtime import choose_device, choose_precision

    device = choose_device()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"smoke test on {device} ({name}), precision {choose_precision().name}", flush=True)
    lessons = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
    if args.only:
        lessons = [p for p in lessons if p.stem[:2] in set(args.only)]
    defects = 0
    for py in lessons:
        seconds, errors = smoke_lesson(py)
        bad = [e for e in errors if e[1] != "AssertionError"]
        defects += len(bad)
        checks = len(errors) - len(bad)
        print(
            f"{py.stem}: {seconds:.0f} s, {len(bad)} defects, {checks} scientific checks failed "
            "(expected at smoke size)",
            flush=True,
        )
        for index, ename, message in bad:
            print(f"    cell {index}: {ename}: {message}", flush=True)
    print("smoke test " + ("passed" if defects == 0 else f"FAILED: {defects} defects"))
    return 1 if defects else 0


if __name__ == "__main__":
    sys.exit(main())
