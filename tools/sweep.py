"""Run a grid of learners (a figure's seeds x keys x sizes x ...); one JSON line per learner.

    python -m tools.sweep tools/grids/ci_seeds.toml                 # one job at a time, here
    python -m tools.sweep GRID.toml --executor slurm --slurm-partition gpu --parallel 8

A grid file (TOML) names a base profile and the learner's settings to vary (``LearnerConfig.with_``
names: its data setting's and its training recipe's)::

    profile = "ci"            # the base learner (anw_helpers.profiles)
    [set]                     # optional: settings every job shares
    epochs = 40
    [cross]                   # optional: every combination of these lists
    augment = ["crop_flip", "crop_flip+color_jitter"]
    [zip]                     # optional: lists of one length, taken element by element
    seed = [0, 1, 2]
    keys = [60, 210, 300]     # one user: a number; several users: a list, e.g. [60, 150]

Every name is a setting of ``DataSetting`` or ``TrainingRecipe`` (``seed``, ``keys``, ``user_sizes``
as counts or fractions of ``n_train``, ``augment``, ``n_train``, ``width``, ``epochs``, ...); the
records name the settings the same way, in one flat ``config``; the jobs are [zip] crossed with
[cross]. Each job trains its learner or loads it from the model cache
(``train.train_learner``), verifies every user and the held-out user (eq. 6,
``verify.verify_users``, ``verify.grid_search``) and appends one JSON record to the results file
(default: the grid's path with ``.jsonl``). A sweep is resumable: a learner whose config already
has a record is skipped; a failed job is reported with its log and does not stop the others (exit
code 1 if any failed; 2 for a bad grid).

Why submitit rather than a home-made process pool or Hydra: submitit runs the same job function in a
subprocess on a laptop (``--executor local``, also what the tests use), in this process
(``--executor debug``: pdb on failure) or as a Slurm job array on a cluster (``--executor slurm``),
with logs per job, timeouts and requeueing handled; a pool of our own would redo that for one
machine only. Hydra's multirun (with its submitit launcher) would do the same at the cost of
taking over the command line, the working directory and configuration (OmegaConf) for a package
whose config is one frozen dataclass; a ten-line TOML grid is all a figure needs.

Jobs run one at a time by default on the local executor (``--parallel``): two trainings at once on a
2-core machine thrash (OpenMP oversubscription made each 3-5x slower); with ``--parallel N`` each
local job gets ``cores / N`` threads. Records are appended with one ``O_APPEND`` write under an
``fcntl`` lock, so jobs that finish together (here or on a cluster's shared filesystem) never
interleave lines.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import itertools
import json
import math
import os
import platform
import sys
import time
import typing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.9 and 3.10 (the scale extra installs tomli)
    import tomli as tomllib

from anw_helpers.profiles import get_profile
from anw_helpers.recipe import LearnerConfig

__all__ = [
    "Grid",
    "Job",
    "GridError",
    "load_grid",
    "parse_grid",
    "config_id",
    "run_job",
    "learner_fields",
    "append_record",
    "read_finished",
    "resume_id",
    "record_id",
    "here_id",
    "here_fields",
    "append_job_record",
    "job_function",
    "run_sweep",
    "main",
]

#: Executors ``--executor`` accepts (submitit's AutoExecutor clusters).
EXECUTORS: tuple[str, ...] = ("local", "slurm", "debug")
#: Settings (of the data setting) that hold one entry per user.
_PER_USER = ("user_sizes", "keys", "color_space_seeds")
_SECTIONS = {"profile", "description", "job", "set", "cross", "zip"}


class GridError(ValueError):
    """A grid file that cannot be read or describes no valid learner; the message names the fix."""


@dataclass(frozen=True)
class Job:
    """One learner of a sweep: its full config and a short label naming what the grid varied."""

    config: LearnerConfig
    label: str


@dataclass(frozen=True)
class Grid:
    """A parsed grid: its base profile, description and the jobs, in grid order."""

    profile: str
    description: str
    jobs: tuple[Job, ...]
    job: str = ""  # "module:function" run for each learner instead of run_job ("": run_job)


def config_id(config: LearnerConfig) -> str:
    """The config's settings by name (``LearnerConfig.flat``) as canonical JSON (sorted keys): what
    identifies a learner in the results file."""
    return json.dumps(_jsonable(config.flat()), sort_keys=True)


def _jsonable(value: Any) -> Any:
    """Tuples as lists and NaN/inf floats as None, so that a record is strict JSON."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# ----------------------------------------------------------------------------------------- the grid
def _field_types() -> dict[str, Any]:
    return LearnerConfig.setting_types()


def _scalar(name: str, value: Any, hint: Any, where: str) -> Any:
    """``value`` checked against a scalar field type (``"none"``: None where allowed)."""
    args = typing.get_args(hint)
    if type(None) in args:
        if isinstance(value, str) and value.lower() == "none":
            return None
        hint = next(a for a in args if a is not type(None))
    if hint is typing.Any or typing.get_origin(hint) is typing.Union:  # Size: an int or a float
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, hint)
    if not ok:
        raise GridError(
            f"{where}: {name} = {value!r} is not a valid {name} "
            f"(the setting {name} is {hint.__name__ if hasattr(hint, '__name__') else hint})."
        )
    return value


def _value(name: str, value: Any, where: str) -> Any:
    """One grid value for field ``name``, coerced: a per-user field takes a number or a list."""
    hint = _field_types()[name]
    if name in _PER_USER:
        items = value if isinstance(value, list) else [value]
        element = typing.get_args(hint)[0]
        return tuple(_scalar(name, v, element, where) for v in items)
    return _scalar(name, value, hint, where)


def _check_names(table: dict, where: str) -> None:
    fields = _field_types()
    unknown = [k for k in table if k not in fields]
    if unknown:
        raise GridError(
            f"{where}: unknown setting(s) {', '.join(map(repr, unknown))}; a grid varies "
            f"a learner's settings: {', '.join(fields)}."
        )


def _lists(table: Any, section: str, path: str) -> dict[str, list]:
    if not isinstance(table, dict):
        raise GridError(
            f"{path}: [{section}] must be a table of lists, e.g. [{section}] seed = [0, 1]."
        )
    _check_names(table, f"{path} [{section}]")
    for name, values in table.items():
        if not isinstance(values, list) or not values:
            raise GridError(f"{path} [{section}]: {name} must be a non-empty list; got {values!r}.")
    return table


def parse_grid(data: dict, path: str = "grid") -> Grid:
    """The jobs a grid (a TOML document as a dict) describes: [zip] x [cross], over [set]."""
    unknown = set(data) - _SECTIONS
    if unknown:
        raise GridError(
            f"{path}: unknown entries {', '.join(sorted(unknown))}; a grid has "
            f"{', '.join(sorted(_SECTIONS))} (see python -m tools.sweep --help)."
        )
    profile = data.get("profile")
    if not isinstance(profile, str):
        raise GridError(f'{path}: name the base recipe, e.g. profile = "ci" (got {profile!r}).')
    try:
        base = get_profile(profile).config
    except ValueError as exc:
        raise GridError(f"{path}: {exc}") from None
    fixed = data.get("set", {})
    if not isinstance(fixed, dict):
        raise GridError(f"{path}: [set] must be a table, e.g. [set] epochs = 40.")
    _check_names(fixed, f"{path} [set]")
    fixed = {k: _value(k, v, f"{path} [set]") for k, v in fixed.items()}
    cross = _lists(data.get("cross", {}), "cross", path)
    zipped = _lists(data.get("zip", {}), "zip", path)
    lengths = {len(v) for v in zipped.values()}
    if len(lengths) > 1:
        raise GridError(
            f"{path} [zip]: the lists have lengths "
            f"{', '.join(f'{k}={len(v)}' for k, v in zipped.items())}; they must be equal."
        )
    both = set(cross) & set(zipped) | (set(fixed) & (set(cross) | set(zipped)))
    if both:
        raise GridError(
            f"{path}: {', '.join(sorted(both))} set in more than one section; keep one."
        )
    zip_rows = [dict(zip(zipped, row)) for row in zip(*zipped.values())] or [{}]
    cross_rows = [dict(zip(cross, row)) for row in itertools.product(*cross.values())]
    jobs = []
    for z in zip_rows:
        for c in cross_rows:
            varied = {**z, **c}
            jobs.append(_job(base, fixed, varied, path))
    seen: dict[str, str] = {}
    for job in jobs:
        cid = config_id(job.config)
        if cid in seen:
            raise GridError(
                f"{path}: {seen[cid]!r} and {job.label!r} are the same learner; drop one."
            )
        seen[cid] = job.label
    job = data.get("job", "")
    if not isinstance(job, str) or (job and ":" not in job):
        raise GridError(
            f'{path}: job names a function as "module:function", e.g. '
            f'job = "tools.measures:memorisation_job" (got {job!r}).'
        )
    return Grid(profile, str(data.get("description", "")), tuple(jobs), job)


def job_function(grid: Grid) -> Callable[..., dict]:
    """The function each of the grid's learners runs: :func:`run_job`, or the grid's ``job``
    ("module:function", imported here; it takes run_job's arguments and appends its record with
    :func:`append_record`, including :func:`here_fields`' so that a rerun skips it)."""
    if not grid.job:
        return run_job
    module, _, name = grid.job.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise GridError(f"the grid's job {grid.job!r} cannot be imported: {exc}.") from None


def _job(base: LearnerConfig, fixed: dict, varied: dict, path: str) -> Job:
    label = " ".join(f"{k}={_short(v)}" for k, v in varied.items()) or "base"
    changes = {**fixed, **{k: _value(k, v, f"{path} ({label})") for k, v in varied.items()}}
    users = max(len(changes.get(k, getattr(base.data, k))) for k in ("user_sizes", "keys"))
    if "color_space_seeds" not in changes and all(s is None for s in base.data.color_space_seeds):
        changes["color_space_seeds"] = (None,) * users  # YIQ for every user the grid names
    try:
        return Job(base.with_(**changes), label)
    except (ValueError, TypeError) as exc:
        raise GridError(f"{path} ({label}): {exc}") from None


def _short(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ",".join(_short(v) for v in value) + "]"
    return f"{value:g}" if isinstance(value, float) else str(value)


def load_grid(path: os.PathLike) -> Grid:
    """Read and parse a grid file (TOML); :class:`GridError` names the problem and the fix."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise GridError(f"cannot read the grid file {path}: {exc.strerror or exc}.") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise GridError(f"{path} is not valid TOML: {exc}.") from None
    return parse_grid(data, str(path))


# ------------------------------------------------------------------------------- the results file
def append_record(path: os.PathLike, record: dict) -> None:
    """Append ``record`` as one line of strict JSON: one ``O_APPEND`` write under an exclusive lock.

    Jobs finishing together (subprocesses here, Slurm tasks on a shared filesystem) never
    interleave.
    """
    line = (json.dumps(_jsonable(record), allow_nan=False, sort_keys=True) + "\n").encode()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        with _locked(fd):
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":  # a damaged or hand-edited last line
                line = b"\n" + line  # stays apart from this record
            written = os.write(fd, line)
            while written < len(line):  # a short write (signals, NFS): finish it under the lock
                written += os.write(fd, line[written:])
            os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _locked(fd: int) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: O_APPEND alone
        yield
        return
    fcntl.lockf(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.lockf(fd, fcntl.LOCK_UN)


def resume_id(
    config: dict, precision: Optional[str], device: Optional[str], isa: Optional[str]
) -> str:
    """What makes a record count as done: the learner's settings (``LearnerConfig.flat``), its
    training precision, device type (``cpu``, ``cuda``) and the CPU's instruction set (fp32 on AVX2
    and on AVX-512 give different numbers). A bf16 record never stands in for an fp32 learner."""
    device = None if device is None else str(device).split(":")[0]
    here = {"config": config, "precision": precision, "device": device, "isa": isa}
    return json.dumps(_jsonable(here), sort_keys=True)


def record_id(record: dict) -> str:
    """:func:`resume_id` of a written record."""
    isa = (record.get("machine") or {}).get("isa")
    return resume_id(record["config"], record.get("precision"), record.get("train_device"), isa)


def here_id(config: LearnerConfig) -> str:
    """:func:`resume_id` of a learner trained on this machine, in its chosen precision."""
    import torch

    from anw_helpers.machinery.runtime import choose_device, choose_precision

    isa = torch.backends.cpu.get_cpu_capability()
    return resume_id(config.flat(), choose_precision().name, choose_device().type, isa)


def here_fields(profile: str, label: str) -> dict:
    """The fields every record carries about where and how it was measured: profile, label, the
    training precision and device chosen here, the machine and the time (:func:`record_id` reads
    them to skip a finished learner)."""
    from anw_helpers.machinery.runtime import choose_device, choose_precision

    return {
        "profile": profile,
        "label": label,
        "precision": choose_precision().name,
        "train_device": str(choose_device()),
        "machine": machine(),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def append_job_record(
    results: str,
    config: LearnerConfig,
    profile: str,
    label: str,
    learner: Any,
    start: float,
    block: dict,
) -> dict:
    """A grid's own job's record, appended to ``results`` and returned: the config, the learner's
    eq. 6 fields (:func:`learner_fields`), the job's ``block``, its wall time since ``start``
    (``time.perf_counter``) and :func:`here_fields` (so a rerun skips it)."""
    record = {
        "config": config.flat(),
        **learner_fields(learner),
        **block,
        "wall_seconds": time.perf_counter() - start,
        **here_fields(profile, label),
    }
    append_record(results, record)
    return record


def read_finished(path: os.PathLike) -> tuple[set[str], list[int]]:
    """The :func:`record_id` of every record in the results file, and the unreadable line numbers.

    A missing file has none. A damaged line (a job killed mid-write) is reported, never fatal: its
    learner simply runs again.
    """
    path = Path(path)
    if not path.exists():
        return set(), []
    done, bad = set(), []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            done.add(record_id(json.loads(line)))
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
            bad.append(number)
    return done, bad


# -------------------------------------------------------------------------------------- one job
#: Lesson 04's gradient search: its starts (drawn with this seed, none within tau of the key), how
#: many, and the distance to k* within which it counts as converged.
GRADIENT_SEED, GRADIENT_STARTS, GRADIENT_CONVERGED = 4, 8, 7.5


def lesson_checks(model: Any, user: Any, held: Any) -> dict:
    """What lessons 03 and 04 assert about one learner, measured so the asserts rest on a spread.

    ``user`` is the learner's first watermarking user, ``held`` its held-out user (same key and
    colour space, never seen); every search runs in that user's colour space. Returns the loss
    margins behind lesson 03's fingerprint table (positive: the lesson's assert holds), lesson
    04's verdicts (:func:`verify.verdict`: conclusive or not, and k_hat) and
    the distance from k* at which lesson 04's gradient search (Sec. 4.2) ends.
    ``tools.reproduction`` tabulates them over seeds (docs/reproduction.md, "Lesson checks over
    the recorded seeds").
    """
    import torch

    from anw_helpers import verify

    def losses(who: Any, k: float) -> float:
        return float(verify.signature_losses(model, who.clean(), who.labels, [k], who.color_space))

    mine = verify.verdict(model, user.clean(), user.labels, user.color_space)
    theirs = verify.verdict(model, held.clean(), held.labels, held.color_space)
    draws = torch.rand(256, generator=torch.Generator().manual_seed(GRADIENT_SEED)) * 360.0
    tau = verify.DEFAULT_TAU
    away = [a for a in draws.tolist() if float(verify.circular_distance(a, user.key)) > tau]
    starts = [round(a, 1) for a in away]
    grad = verify.gradient_search(
        model,
        user.clean(),
        user.labels,
        inits=starts[:GRADIENT_STARTS],
        color_space=user.color_space,
        steps=40,
    )
    return {
        "user_loss_clean_minus_key": losses(user, 0.0) - losses(user, user.key),
        "held_out_loss_key_minus_clean": losses(held, held.key) - losses(held, 0.0),
        "user_verdict_conclusive": mine.conclusive,
        "held_out_verdict_conclusive": theirs.conclusive,
        "held_out_verdict_k_hat": theirs.k_hat,
        "gradient_distance": float(verify.circular_distance(grad.best, user.key)),
    }


def machine() -> dict:
    """What a record was measured on: device, GPU or CPU model, threads, torch and Python."""
    import torch

    from anw_helpers.machinery.runtime import choose_device

    device = choose_device()
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    return {
        "device": str(device),
        "gpu": gpu,
        "cpu": cpu,
        "threads": torch.get_num_threads(),
        "isa": torch.backends.cpu.get_cpu_capability(),  # AVX2, AVX512, ...: fp32 differs by it
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def run_job(
    config: LearnerConfig,
    results: str,
    profile: str = "",
    label: str = "",
    threads: Optional[int] = None,
    retrain: bool = False,
) -> dict:
    """Train (or load) one learner, verify its users and held-out user (eq. 6), append its record.

    Runs inside a submitit job. Returns the record (also written to ``results``): the config, per
    user k_hat / match (|k_hat - k*| < tau) / gap (Sec. 5.1), the held-out user's k_hat (Sec. 5.4:
    expected 0), train/test/user accuracy, images/s, wall time, machine and precision.
    Images/s, ``train_seconds``, ``train_device`` and ``precision`` describe the training, which
    happened elsewhere when ``from_cache`` (``retrain=True`` trains again, to measure it here);
    ``machine`` and ``wall_seconds`` describe this job.
    """
    import torch

    from anw_helpers.train import train_learner

    if threads:
        torch.set_num_threads(threads)
    start = time.perf_counter()
    learner = train_learner(config, progress=False, retrain=retrain)
    record = {
        "config": config.flat(),
        "profile": profile,
        "label": label,
        **learner_fields(learner),
        "wall_seconds": time.perf_counter() - start,
        "machine": machine(),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    append_record(results, record)
    return _jsonable(record)


def _lesson_checks_if_keyed(learner: Any) -> Optional[dict]:
    """:func:`lesson_checks` for the first user and the held-out user, when both have a key (in
    Fig. 5a's grids the first user may not watermark: then there is nothing to check)."""
    user, held = learner.data.users[0], learner.data.held_out
    if user.key is None or held.key is None:
        return None
    return lesson_checks(learner.model, user, held)


def learner_fields(learner: Any) -> dict:
    """A trained learner's (``train.TrainedLearner``) part of a sweep record: per user k_hat,
    match (|k_hat - k*| < tau) and gap (Sec. 5.1, eq. 6), the held-out user's k_hat (Sec. 5.4),
    :func:`lesson_checks`, train/test/user accuracy, images/s and the training's device and
    precision. :func:`run_job` records these; a grid's own job adds them to its record so the
    reproduction table and the sweep's report read it like any learner's."""
    from anw_helpers import verify

    verdicts = verify.verify_users(learner.model, learner.data.users)
    k_hat = [float(k) for k in verdicts.k_hat]
    keys = [u.key for u in learner.data.users]
    match = [None if k is None else verify.match(h, k) for h, k in zip(k_hat, keys)]
    gap = [None if k is None else verdicts.result(i).gap(k) for i, k in enumerate(keys)]
    held = learner.data.held_out
    held_k_hat = verify.grid_search(
        learner.model, held.clean(), held.labels, color_space=held.color_space
    ).best  # in the colour space of the user it stands for (Sec. 5.4; own-LCT learners: its T)
    r = learner.record
    marked = [m for m in match if m is not None]
    return {
        "users": [u.name for u in learner.data.users],
        "user_keys": keys,
        "user_sizes": [len(u) for u in learner.data.users],
        "k_hat": k_hat,
        "match": match,
        "gap": gap,
        "all_match": all(marked) if marked else None,
        "min_gap": min(g for g in gap if g is not None) if marked else None,
        "held_out_key": held.key,
        "held_out_k_hat": held_k_hat,
        "held_out_at_zero": verify.match(held_k_hat, 0.0),
        "lesson_checks": _lesson_checks_if_keyed(learner),
        "train_accuracy": r.train_accuracy,
        "test_accuracy": r.test_accuracy,
        "user_accuracy": r.user_accuracy,
        "images_per_second": r.images_per_second,
        "train_seconds": sum(r.epoch_seconds),
        "train_device": r.device,
        "from_cache": learner.from_cache,
        "precision": r.precision,
    }


# ------------------------------------------------------------------------------------ the sweep
@contextlib.contextmanager
def _package_on_path() -> Iterator[None]:
    """PYTHONPATH names this clone (its ``tools`` and ``anw_helpers``) while jobs are submitted, so
    that a job (a fresh interpreter; on Slurm, the submitting environment) imports the same runner,
    job functions and package as the runner."""
    root = str(Path(__file__).resolve().parent.parent)
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([root] + ([old] if old else []))
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old


def make_executor(
    name: str, logs: Path, parallel: int, timeout_min: int, slurm: Optional[dict] = None
) -> Any:
    """A submitit executor: ``local`` (subprocesses), ``debug`` (here), ``slurm`` (arrays)."""
    try:
        import submitit
    except ImportError:
        raise RuntimeError(
            "the sweep runner needs submitit: pip install 'anw-helpers[scale]'"
        ) from None
    if name not in EXECUTORS:
        raise ValueError(f"unknown executor {name!r}; expected one of {', '.join(EXECUTORS)}.")
    executor = submitit.AutoExecutor(folder=str(logs / "%j"), cluster=name)
    params: dict[str, Any] = {"timeout_min": timeout_min, "name": "anw-sweep"}
    if name == "local":
        import torch  # the local executor hides GPUs (CUDA_VISIBLE_DEVICES="") unless asked for one

        params["gpus_per_node"] = 1 if torch.cuda.is_available() else 0
    if name == "slurm":
        params.update({k: v for k, v in (slurm or {}).items() if v is not None})
        params["slurm_array_parallelism"] = parallel
    executor.update_parameters(**params)
    return executor


def run_sweep(
    grid: Grid,
    results: os.PathLike,
    executor: Any,
    parallel: int = 1,
    job: Callable[..., dict] = run_job,
    options: Optional[dict] = None,
    say: Callable[[str], None] = print,
    poll_s: float = 0.5,
) -> int:
    """Run the grid's unfinished jobs on ``executor``, at most ``parallel`` at once; returns the
    number that failed (each reported with its submitit log).

    ``job(config, results, profile, label, **options)`` runs one learner (:func:`run_job`; its
    ``threads`` and ``retrain`` are options) and appends its record.
    """
    results = Path(results).resolve()
    finished, bad = read_finished(results)
    if bad:
        say(
            f"{results}: line(s) {', '.join(map(str, bad))} are not readable records; ignored "
            "(their learners run again if they are in this grid)."
        )
    todo = [j for j in grid.jobs if here_id(j.config) not in finished]
    for j in grid.jobs:
        if j not in todo:
            say(f"skip {j.label}: already in {results.name}")
    say(
        f"{len(todo)} of {len(grid.jobs)} learner(s) to run ({len(grid.jobs) - len(todo)} done), "
        f"{parallel} at a time; records go to {results}"
    )
    failed, options = 0, options or {}
    pending, running = list(todo), []

    def submit(j: Job) -> Any:
        return executor.submit(job, j.config, str(results), grid.profile, j.label, **options)

    is_slurm = type(executor).__name__ == "AutoExecutor" and executor.cluster == "slurm"
    with _package_on_path():
        if is_slurm:  # one job array; Slurm limits how many run at once
            with executor.batch():
                running = [(j, submit(j)) for j in pending]
            pending = []
        while pending or running:
            while pending and len(running) < parallel:
                j = pending.pop(0)
                running.append((j, submit(j)))
            any_done = False
            for j, s in list(running):
                outcome = _poll(s)
                if outcome is not None:
                    running.remove((j, s))
                    failed += not _report(j, s, *outcome, say)
                    any_done = True
            if not any_done:
                time.sleep(poll_s)
    say(f"{len(todo) - failed} finished, {failed} failed, {len(grid.jobs) - len(todo)} skipped.")
    return failed


def _poll(submitted: Any) -> Optional[tuple[Optional[dict], Optional[BaseException]]]:
    """None while a job runs; then (its record, None) or (None, the error it failed with).

    The debug executor runs the job inside ``done()`` and raises there, and would run it again in
    ``result()``: so an error from either call is the job's outcome.
    """
    try:
        if not submitted.done():
            return None
        return submitted.result(), None
    except Exception as exc:  # noqa: BLE001 - any failure of one job must not stop the others
        return None, exc


def _report(
    job: Job,
    submitted: Any,
    r: Optional[dict],
    error: Optional[BaseException],
    say: Callable[[str], None],
) -> bool:
    """Print one finished job's outcome; False when it failed (naming its log)."""
    if error is not None or r is None:
        last = (str(error).strip().splitlines() or [type(error).__name__])[-1]
        say(f"FAILED {job.label}: {last}\n    log: {submitted.paths.stderr}")
        return False
    minutes = f"{r['wall_seconds'] / 60:.1f} min" if "wall_seconds" in r else "done"
    if not all(k in r for k in ("k_hat", "match", "gap", "held_out_k_hat")):
        say(f"done {job.label}: record written ({minutes})")  # a grid's own job, not eq. 6's
        return True
    verdict = ", ".join(
        f"k_hat {_short(k)} ({'match' if m else 'no match' if m is not None else 'no key'})"
        for k, m in zip(r["k_hat"], r["match"])
    )
    gaps = ", ".join(f"{g:+.3f}" for g in r["gap"] if g is not None) or "-"
    say(
        f"done {job.label}: {verdict}; gap {gaps}; held-out k_hat {_short(r['held_out_k_hat'])}; "
        f"{minutes}{' (cached model)' if r.get('from_cache') else ''}"
    )
    return True


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tools.sweep",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("grid", help="a grid file (TOML), e.g. tools/grids/ci_seeds.toml")
    p.add_argument(
        "--executor",
        choices=EXECUTORS,
        default="local",
        help="local: subprocesses here (default); slurm: a job array; debug: this process",
    )
    p.add_argument(
        "--results", help="the JSON-lines results file (default: the grid's path, .jsonl)"
    )
    p.add_argument("--parallel", type=int, help="jobs at once (default: 1 local, 16 on Slurm)")
    p.add_argument("--logs", help="submitit's job folders (default: $ANW_CACHE/sweep-logs/GRID)")
    p.add_argument("--timeout-min", type=int, default=24 * 60, help="per job (default: 1440)")
    p.add_argument(
        "--retrain", action="store_true", help="train even cached learners (to measure times here)"
    )
    p.add_argument("--slurm-partition")
    p.add_argument("--slurm-gpus", type=int, help="GPUs per job on Slurm")
    p.add_argument("--slurm-cpus", type=int, help="CPUs per job on Slurm")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """The command line: run a grid file's sweep; 0 when every job finished, 1 if any failed, 2 for
    a grid or option that cannot run."""
    args = _parser().parse_args(argv)
    parallel = (
        args.parallel if args.parallel is not None else (16 if args.executor == "slurm" else 1)
    )
    slurm = {
        "slurm_partition": args.slurm_partition,
        "gpus_per_node": args.slurm_gpus,
        "cpus_per_task": args.slurm_cpus,
    }
    problem = _bad_options(args, parallel, slurm)
    if problem:
        print(f"sweep: {problem}", file=sys.stderr)
        return 2
    try:
        grid = load_grid(args.grid)
    except GridError as exc:
        print(f"sweep: {exc}", file=sys.stderr)
        return 2
    results = Path(args.results) if args.results else Path(args.grid).with_suffix(".jsonl")
    from anw_helpers.machinery.paths import cache_dir

    logs = Path(args.logs) if args.logs else cache_dir("sweep-logs", Path(args.grid).stem)
    if results.is_dir():
        print(
            f"sweep: --results {results} is a folder; name a file, e.g. {results}/runs.jsonl.",
            file=sys.stderr,
        )
        return 2
    try:
        executor = make_executor(args.executor, logs.resolve(), parallel, args.timeout_min, slurm)
    except RuntimeError as exc:  # e.g. no sbatch on this machine
        print(f"sweep: cannot use the {args.executor} executor here: {exc}", file=sys.stderr)
        return 2
    threads = (
        max(1, (os.cpu_count() or 1) // parallel)
        if args.executor == "local" and parallel > 1
        else None
    )
    options = {"threads": threads, "retrain": True} if args.retrain else {"threads": threads}
    try:
        job = job_function(grid)
    except GridError as exc:
        print(f"sweep: {exc}", file=sys.stderr)
        return 2
    failed = run_sweep(grid, results, executor, parallel, job=job, options=options)
    return 1 if failed else 0


def _bad_options(args: argparse.Namespace, parallel: int, slurm: dict) -> Optional[str]:
    """What is wrong with the command line's numbers and flags, or None."""
    if parallel < 1:
        return f"--parallel must be at least 1; got {parallel}."
    if args.timeout_min < 1:
        return f"--timeout-min must be at least 1; got {args.timeout_min}."
    given = [k for k, v in slurm.items() if v is not None]
    if given and args.executor != "slurm":
        return f"--slurm-* options are for --executor slurm; this run uses {args.executor}."
    return None


if __name__ == "__main__":
    sys.exit(main())
