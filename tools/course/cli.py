"""``python -m tools.course``: student, sync, check, set-repository, wheel, run-all."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

from .cell_length import long_cell_problems
from .colab_gpu import gpu_problems
from .install_cells import (
    check_install_cell,
    colab_link_problems,
    first_code_cell,
    lesson_extra,
    readme_badge_problems,
)
from .lessons import STUDENT_DIR, _default_root, lesson_sources, read_lesson
from .run_all import run_all
from .set_repository import set_repository
from .settings import repository_setting
from .student import check_student_versions, stub_messages, write_student_versions
from .sync import pair_problems, sync_pairs
from .wheel import build_wheel, wheel_instructions


def _cmd_student(args) -> int:
    if args.check:
        problems = check_student_versions(args.root)
        for p in problems:
            print(p)
        if problems:
            print("student/ is stale: run  python -m tools.course student")
            return 1
        print("student/ is current.")
        return 0
    changed = write_student_versions(args.root)
    root = Path(args.root) if args.root is not None else _default_root()
    for py in lesson_sources(root / "notebooks"):
        print(f"{STUDENT_DIR}/{py.stem}.ipynb: {len(stub_messages(py))} exercise stub(s)")
    print(
        f"{len(changed)} file(s) written in {root / STUDENT_DIR}"
        if changed
        else "student/ was already current."
    )
    return 0


def _cmd_sync(args) -> int:
    root = Path(args.root) if args.root is not None else _default_root()
    found = sync_pairs(root / "notebooks", check=args.check)
    bad = {py: p for py, p in found.items() if p}
    for py, problems in bad.items():
        for p in problems:
            print(
                f"out of sync: {p}"
                if args.check
                else f"wrote {py.with_suffix('.ipynb').name} (it was out of sync: {p})"
            )
    if args.check:
        if bad:
            print("run  python -m tools.course sync  (the .py is the source of truth)")
        else:
            print(f"all {len(found)} pairs in sync.")
        return 1 if bad else 0
    print(
        f"{len(bad)} of {len(found)} .ipynb written from their .py."
        if bad
        else f"all {len(found)} pairs were already in sync."
    )
    return 0


def _cmd_check(args) -> int:
    root = Path(args.root) if args.root is not None else _default_root()
    setting = repository_setting(root)
    problems = []
    for py in lesson_sources(root / "notebooks"):
        problems += [f"pair: {p}" for p in pair_problems(py)]
        extra = lesson_extra(py.name)
        cell = first_code_cell(read_lesson(py))
        problems += [
            f"{py.name}, first code cell: {p}"
            for p in check_install_cell(cell, setting, extra[0] if extra else None)
        ]
        problems += colab_link_problems(py.read_text(encoding="utf-8"), py.name, setting)
        problems += gpu_problems(py)
        problems += long_cell_problems(py)
    readme = root / "README.md"
    if readme.is_file():
        readme_text = readme.read_text(encoding="utf-8")
        problems += readme_badge_problems(readme_text, root / "notebooks", setting)
    problems += [f"student: {p}" for p in check_student_versions(root)]
    for p in problems:
        print(p)
    print(f"{len(problems)} problem(s)." if problems else "all course checks pass.")
    return 1 if problems else 0


def _cmd_set_repository(args) -> int:
    root = Path(args.root) if args.root is not None else _default_root()
    changed = set_repository(root, args.repository, args.branch)
    setting = repository_setting(root)
    for path in changed:
        print(f"wrote {path.relative_to(root) if path.is_relative_to(root) else path}")
    print(
        f"the course installs from {setting.git_url} and opens in Colab from "
        f"{setting.repository}, branch {setting.branch}: {len(changed)} file(s) changed."
    )
    if changed:
        print("review and commit them (git diff); check with  python -m tools.course check")
    return 0


def _cmd_wheel(args) -> int:
    root = Path(args.root) if args.root is not None else None
    print(wheel_instructions(build_wheel(Path(args.out), root)))
    return 0


def _cmd_run_all(args) -> int:
    root = Path(args.root) if args.root is not None else _default_root()
    if args.profile:
        from anw_helpers.profiles import PROFILES

        if args.profile not in PROFILES:
            print(
                f"unknown profile {args.profile!r}; expected one of {', '.join(PROFILES)}",
                file=sys.stderr,
            )
            return 2
    command = "python -m tools.course " + " ".join(args.argv)
    runs = run_all(
        Path(args.notebooks) if args.notebooks else root / "notebooks",
        Path(args.out),
        args.profile,
        args.only,
        args.cell_timeout or None,
        html=not args.no_html,
        command=command.strip(),
    )
    return 0 if all(r.ok for r in runs) else 1


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="python -m tools.course", description=sys.modules[__package__].__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--root", type=Path, default=None, help="the course repository (default: this clone)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "student", help="write student/ (solutions replaced by NotImplementedError stubs)"
    )
    p.add_argument(
        "--check", action="store_true", help="only check that student/ is current (exit 1 if not)"
    )
    p.set_defaults(func=_cmd_student)
    p = sub.add_parser(
        "sync", help="write every notebooks/NN_name.ipynb from its .py, without outputs"
    )
    p.add_argument(
        "--check", action="store_true", help="only check that every pair is in sync (exit 1 if not)"
    )
    p.set_defaults(func=_cmd_sync)
    p = sub.add_parser(
        "check",
        help="pairs in sync, install cells, README badges, student/ current, code cells of at "
        "most 30 lines (no execution)",
    )
    p.set_defaults(func=_cmd_check)
    p = sub.add_parser(
        "set-repository",
        help="set [tool.anw] of pyproject.toml, then rewrite "
        "install cells, Colab badges, .ipynb pairs and student/ from it",
    )
    p.add_argument(
        "repository",
        nargs="?",
        default=None,
        metavar="OWNER/NAME",
        help="the GitHub repository to publish from (default: keep the current setting)",
    )
    p.add_argument(
        "--branch", default=None, help="the branch Colab opens (default: keep it; initially main)"
    )
    p.set_defaults(func=_cmd_set_repository)
    p = sub.add_parser("wheel", help="build a wheel of the helpers, for Colab without a repository")
    p.add_argument("--out", default="dist", help="folder for the .whl (default: dist)")
    p.set_defaults(func=_cmd_wheel)
    p = sub.add_parser(
        "run-all", help="execute every lesson into --out with HTML and a timing table"
    )
    p.add_argument(
        "--profile", default=None, help="ANW_PROFILE for the lessons (ci, cpu, gpu, paper)"
    )
    p.add_argument("--out", default="build", help="output folder (default: build)")
    p.add_argument(
        "--only",
        nargs="+",
        default=None,
        metavar="LESSON",
        help="lesson numbers or names, e.g. 01 02",
    )
    p.add_argument(
        "--notebooks", default=None, help="folder of NN_name.py lessons (default: notebooks/)"
    )
    p.add_argument(
        "--cell-timeout",
        type=int,
        default=1800,
        help="seconds per cell, 0 for none (default: 1800)",
    )
    p.add_argument("--no-html", action="store_true", help="skip the HTML export")
    p.set_defaults(func=_cmd_run_all)
    args = parser.parse_args(argv)
    args.argv = argv
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
