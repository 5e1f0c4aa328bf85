"""Run the whole course headless: every lesson in a fresh kernel, HTML and a timing table."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

from .lessons import LESSON_GLOB, _default_root, lesson_sources, read_lesson


@dataclass
class CellError:
    """The first failing cell of a run: its index, the exception's name and message."""

    index: int
    ename: str
    evalue: str
    first_line: str


@dataclass
class NotebookRun:
    """One executed notebook: total seconds (kernel start included), seconds per executed cell,
    first error."""

    name: str
    seconds: float
    cell_seconds: dict[int, float] = field(default_factory=dict)
    error: Optional[CellError] = None
    notebook: object = None
    errors: list = field(default_factory=list)  # every failing cell, when run with keep_going

    @property
    def ok(self) -> bool:
        return self.error is None

    def slowest_cell(self) -> Optional[tuple[int, float]]:
        if not self.cell_seconds:
            return None
        index = max(self.cell_seconds, key=self.cell_seconds.__getitem__)
        return index, self.cell_seconds[index]


def _first_line(source: str) -> str:
    for line in source.split("\n"):
        if line.strip() and not line.lstrip().startswith("#"):
            return line.strip()[:60]
    return source.strip()[:60]


def execute_notebook(
    nb,
    cwd: Path,
    env: Optional[dict] = None,
    cell_timeout: Optional[int] = 1800,
    name: str = "notebook",
    keep_going: bool = False,
) -> NotebookRun:
    """Execute ``nb`` cell by cell in a fresh kernel started in ``cwd``; stop at the first error.

    The notebook is executed in place (outputs added). ``env`` is the kernel's whole environment
    (default: this process's). Returns the timings and the first error (``NotImplementedError``
    included). With ``keep_going`` it runs every cell, as a student who skips an exercise would, and
    lists every error.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    kernel = (nb.metadata.get("kernelspec") or {}).get("name", "python3")
    client = NotebookClient(
        nb,
        timeout=cell_timeout,
        kernel_name=kernel,
        allow_errors=False,
        resources={"metadata": {"path": str(cwd)}},
        store_widget_state=True,
    )
    run = NotebookRun(name, 0.0, notebook=nb)
    start = time.perf_counter()
    try:
        with client.setup_kernel(env=dict(os.environ if env is None else env), cwd=str(cwd)):
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                t0 = time.perf_counter()
                try:
                    client.execute_cell(cell, index)
                except CellExecutionError as exc:
                    run.error = CellError(index, exc.ename, exc.evalue, _first_line(cell.source))
                except Exception as exc:  # noqa: BLE001 - timeout, dead kernel: report, do not crash the run
                    run.error = CellError(
                        index,
                        type(exc).__name__,
                        str(exc).strip().split("\n")[0],
                        _first_line(cell.source),
                    )
                run.cell_seconds[index] = time.perf_counter() - t0
                if run.error is not None and (not run.errors or run.errors[-1] is not run.error):
                    run.errors.append(run.error)
                if run.error is not None and not keep_going:
                    break
                if keep_going:
                    run.error = run.errors[0] if run.errors else None
            try:
                client.set_widgets_metadata()
            except Exception:  # noqa: BLE001 - widget state is a nicety for the HTML export
                pass
    except Exception as exc:  # noqa: BLE001 - the kernel did not start
        if run.error is None:
            run.error = CellError(
                -1, type(exc).__name__, str(exc).strip().split("\n")[0], "(kernel start)"
            )
    run.seconds = time.perf_counter() - start
    return run


def student_run_problem(run: NotebookRun, stubs: Sequence[str]) -> Optional[str]:
    """Why a student notebook's run is wrong (None: as it should be).

    With exercise ``stubs`` the first error must be exactly ``NotImplementedError`` with one of
    their messages (the notebook runs up to its first stub); without stubs the notebook must run to
    the end.
    """
    where = f"{run.name}: " if run.name else ""
    if not stubs:
        return (
            None
            if run.ok
            else f"{where}failed in cell {run.error.index}: {run.error.ename}: {run.error.evalue}"
        )
    if run.ok:
        return f"{where}ran to the end, so no cell calls its exercise stubs {list(stubs)}"
    err = run.error
    if err.ename == "NotImplementedError" and err.evalue in stubs:
        return None
    return (
        f"{where}the first error (cell {err.index}, `{err.first_line}`) is {err.ename}: "
        f"{err.evalue}, not an exercise stub ({list(stubs)})"
    )


def stub_cells(nb, stubs: Sequence[str]) -> set:
    """Where a skipped exercise may fail: each stub's cell and the next code cell (its check)."""
    code = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    allowed = set()
    for position, index in enumerate(code):
        if any(message in nb.cells[index].source for message in stubs):
            allowed.add(index)
            if position + 1 < len(code):
                allowed.add(code[position + 1])
    return allowed


def student_run_past_stubs_problem(
    run: NotebookRun, stubs: Sequence[str], allowed: set
) -> Optional[str]:
    """Why a student notebook run with ``keep_going`` is wrong (None: as it should be).

    A student who skips every exercise must still reach the end: the only errors allowed are the
    stubs' own ``NotImplementedError``, in a stub's cell or the check right after it
    (``stub_cells``). An error anywhere else means a later cell depends on the student's answer.
    """
    where = f"{run.name}: " if run.name else ""
    if stubs and not run.errors:
        return f"{where}ran to the end, so no cell calls its exercise stubs {list(stubs)}"
    for err in run.errors:
        if err.ename == "NotImplementedError" and err.evalue in stubs and err.index in allowed:
            continue
        place = (
            "outside an exercise's own cells"
            if err.index not in allowed
            else "in an exercise's check"
        )
        return (
            f"{where}cell {err.index} (`{err.first_line}`) failed {place}: {err.ename}: "
            f"{err.evalue}; a student who skips the exercise cannot go on"
        )
    return None


def _say(message: str) -> None:
    print(message, flush=True)


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def timings_markdown(runs: Sequence[NotebookRun], profile: str, machine: str, command: str) -> str:
    """The timing table of a course run, as Markdown (also printed by ``run-all``)."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Course run: time per lesson",
        "",
        f"- profile: `{profile}`",
        f"- machine: {machine}",
        f"- run: {now}, `{command}`",
        "- time: wall clock of the whole notebook, kernel start included (m:ss)",
        "",
        "| lesson | status | time | slowest cell |",
        "|---|---|---|---|",
    ]
    for r in runs:
        if r.ok:
            status = "ok"
        else:
            msg = f"{r.error.ename}: {r.error.evalue}".replace("|", "\\|").replace("\n", " ")[:100]
            status = f"**failed** in cell {r.error.index}: {msg}"
        slow = r.slowest_cell()
        slowest = "" if slow is None else f"cell {slow[0]}, {slow[1]:.1f} s"
        if slow is not None and r.notebook is not None:
            first = _first_line(r.notebook.cells[slow[0]].source)
            slowest += f": `{first.replace('|', '/').replace('`', '')}`"
        lines.append(f"| {r.name} | {status} | {_clock(r.seconds)} | {slowest} |")
    lines.append(
        f"| **total** | {sum(r.ok for r in runs)}/{len(runs)} ok | "
        f"{_clock(sum(r.seconds for r in runs))} | |"
    )
    return "\n".join(lines) + "\n"


def _machine() -> str:
    try:
        import torch

        from anw_helpers.machinery.runtime import choose_device

        device = choose_device()
        where = (
            torch.cuda.get_device_name(device)
            if device.type == "cuda"
            else f"{os.cpu_count()} CPU threads"
        )
        return (
            f"{platform.system()} {platform.machine()}, {where}, torch {torch.__version__}, "
            f"Python {platform.python_version()}"
        )
    except Exception:  # noqa: BLE001
        return f"{platform.system()} {platform.machine()}, Python {platform.python_version()}"


def run_all(
    notebooks_dir: Optional[Path] = None,
    out_dir: Path = Path("build"),
    profile: Optional[str] = None,
    only: Optional[Iterable[str]] = None,
    cell_timeout: Optional[int] = 1800,
    html: bool = True,
    command: str = "python -m tools.course run-all",
    echo=None,
) -> list[NotebookRun]:
    """Execute every lesson in order into ``out_dir``: executed .ipynb, .html, and ``timings.md``.

    Lessons run from their .py source in a fresh kernel each, with ``notebooks_dir`` as working
    directory and ``ANW_PROFILE=profile`` when given (figures inline: MPLBACKEND is unset for the
    kernel). A failing lesson is saved with its error and the run goes on. ``only``: lesson numbers
    or names to run.
    """
    import nbformat

    echo = echo or _say
    notebooks_dir = (
        Path(notebooks_dir) if notebooks_dir is not None else _default_root() / "notebooks"
    )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lessons = lesson_sources(notebooks_dir)
    if only:
        wanted = set(only)
        lessons = [p for p in lessons if p.stem in wanted or p.stem[:2] in wanted]
    if not lessons:
        raise FileNotFoundError(
            f"no lessons to run in {notebooks_dir} (expected {LESSON_GLOB}"
            + (f" matching {sorted(only)})" if only else ")")
        )
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)
    if profile:
        env["ANW_PROFILE"] = profile
    active = profile or os.environ.get("ANW_PROFILE")
    if not active:
        from anw_helpers.profiles import auto_profile_name

        active = f"{auto_profile_name()} (auto)"
    runs = []
    for py in lessons:
        echo(f"[run-all] {py.stem} ...")
        nb = read_lesson(py)
        run = execute_notebook(nb, notebooks_dir, env, cell_timeout, name=py.stem)
        nbformat.write(nb, str(out_dir / f"{py.stem}.ipynb"))
        if html:
            from nbconvert import HTMLExporter

            body, _ = HTMLExporter().from_notebook_node(nb)
            (out_dir / f"{py.stem}.html").write_text(body, encoding="utf-8")
        status = (
            "ok"
            if run.ok
            else f"FAILED in cell {run.error.index}: {run.error.ename}: {run.error.evalue[:200]}"
        )
        echo(f"[run-all] {py.stem}: {status} ({_clock(run.seconds)})")
        runs.append(run)
    table = timings_markdown(runs, active, _machine(), command)
    (out_dir / "timings.md").write_text(table, encoding="utf-8")
    echo("")
    echo(table)
    echo(f"[run-all] executed notebooks, HTML and timings.md in {out_dir}")
    return runs
