"""A wheel of the helper package, for Colab without a published repository."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Optional

from .lessons import PYPROJECT, REPOSITORY_ROOT


def _can_build_offline() -> bool:
    """Whether this environment's setuptools builds the wheel without a build environment."""
    try:
        from importlib.metadata import version

        found = tuple(int(x) for x in re.findall(r"\d+", version("setuptools"))[:2])
    except Exception:  # noqa: BLE001 - no setuptools, or an odd version string
        return False
    import importlib.util

    has_wheel = importlib.util.find_spec("wheel") is not None
    return found >= (64, 0) and (found >= (70, 1) or has_wheel)


def build_wheel(out: Path = Path("dist"), root: Optional[Path] = None) -> Path:
    """Build a wheel of the helper package into ``out`` with ``pip wheel --no-deps``; its path.

    The package (``anw_helpers/``, pyproject.toml, README.md) is copied to a temporary folder
    first, so the build writes nothing into the clone. With setuptools >= 64 installed here the
    build needs no network (``--no-build-isolation``); otherwise pip fetches the build requirements.
    """
    root = Path(root) if root is not None else REPOSITORY_ROOT
    if not (root / PYPROJECT).is_file() or not (root / "anw_helpers").is_dir():
        raise FileNotFoundError(
            f"{root} is not a clone of the course (no {PYPROJECT} and anw_helpers/)"
        )
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    before = {p: p.stat().st_mtime_ns for p in out.glob("anw_helpers-*.whl")}
    with tempfile.TemporaryDirectory(prefix="anw-wheel-") as tmp:
        source = Path(tmp) / "src"
        shutil.copytree(
            root / "anw_helpers",
            source / "anw_helpers",
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
        for name in (PYPROJECT, "README.md", "LICENSE", "LICENSE.txt", "setup.cfg", "MANIFEST.in"):
            if (root / name).is_file():
                shutil.copy2(root / name, source / name)
        command = [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "--disable-pip-version-check",
        ]
        if _can_build_offline():
            command.append("--no-build-isolation")
        done = subprocess.run(
            command + [str(source), "-w", str(out)], capture_output=True, text=True, cwd=tmp
        )
    if done.returncode != 0:
        why = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
        raise RuntimeError(f"pip wheel failed ({done.returncode}): {why}")
    built = [p for p in out.glob("anw_helpers-*.whl") if before.get(p) != p.stat().st_mtime_ns]
    if not built:
        raise RuntimeError(f"pip wheel reported success but wrote no anw_helpers-*.whl into {out}")
    return max(built, key=lambda p: p.stat().st_mtime_ns)


def wheel_instructions(wheel: Path) -> str:
    """How to use a built wheel in Colab and on a machine (printed by the ``wheel`` command)."""
    size = wheel.stat().st_size / 1024
    return "\n".join(
        [
            f"built {wheel} ({size:.0f} kB): the helper package, without its dependencies.",
            "In Colab, each lesson's first cell installs this wheel instead of the GitHub "
            "repository",
            "  * when it lies in the working folder: Files pane (folder icon) -> Upload "
            f"{wheel.name}",
            "    (keep its name: delete an older copy first; Colab renames a duplicate 'x "
            "(1).whl'),",
            "  * or when ANW_WHEEL names it: host the file at a URL (a GitHub release, a course "
            "page)",
            "    and run this in a cell before the first one:",
            f"        %env ANW_WHEEL=https://example.org/course/{wheel.name}",
            f"On a machine:  pip install {wheel}  (pip adds torch and the rest only when missing).",
            "More: docs/publishing.md",
        ]
    )
