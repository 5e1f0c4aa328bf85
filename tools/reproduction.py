"""Write docs/reproduction.md: each claim of the paper against the course's sweep results.

    python -m tools.reproduction              # (re)write docs/reproduction.md
    python -m tools.reproduction --check      # exit 1 when docs/reproduction.md is stale

Reads the claims registry (``tools/claims.toml``: the paper's words and number for each claim, the
grids that measure it, the metric below that turns their records into the course's number, the
bar that counts as "reproduces", the lesson that teaches it) and every results file its grids name:
``GRID.jsonl`` next to ``GRID.toml``, one JSON record per learner, as ``python -m
tools.sweep GRID.toml`` appends them. Nothing in the table is typed: a profile without
records for a claim reads "not yet measured". The output holds no date, so ``--check`` (and the
fast test that runs it) fails exactly when the committed file differs from what the committed
results give.

Exit codes: 0 written or up to date; 1 stale (``--check``); 2 a registry or a record that cannot be
read (one line naming the file, the line and the fix).
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import re
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Optional

from anw_helpers.color import SIGNATURE_SLOTS
from anw_helpers.defences import ACCURACY_KEPT
from anw_helpers.profiles import PROFILES
from anw_helpers.verify import circular_distance
from anw_helpers.verify import match as verify_match
from tools.sweep import tomllib

from . import lesson_checks

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CLAIMS = ROOT / "tools" / "claims.toml"
DEFAULT_OUT = ROOT / "docs" / "reproduction.md"
COMMAND = "python -m tools.reproduction"
#: The profiles a record may come from, in the table's column order.
PROFILE_NAMES: tuple[str, ...] = tuple(PROFILES)
NOT_MEASURED = "not yet measured"
VERDICTS = ("yes", "partly", "no")
#: The distinct seeds a profile's records need before its verdict stands, where a claim names none
#: (``seeds = N`` in its block); with fewer the verdict reads "indicative (n seeds)".
DEFAULT_SEEDS = 3
#: The eleven keys 30, 60, ..., 330 (Sec. 5.2 (2), Fig. 2d–f): a claim about all keys
#: (``options.all_keys``) needs every one among its watermarking users.
ALL_KEYS: tuple[float, ...] = SIGNATURE_SLOTS[1:]
#: Options any claim may give beside its metric's: they qualify the verdict, not the number.
#: ``families``: the paper's families of networks (Fig. 2g) and the ``anw_helpers.models`` names in
#: each; records that lack a family, or a model short of seeds, make the verdict indicative.
CELL_OPTIONS = {"all_keys", "families"}


class ReproductionError(ValueError):
    """A registry or results file that cannot be used; the message names the file, line and fix."""


# ------------------------------------------------------------------------------------ the registry
@dataclass(frozen=True)
class Claim:
    """One claim of the paper (``[[claim]]`` in the registry) and how the course measures it."""

    id: str
    title: str
    where: str
    quote: str
    paper_number: str
    lessons: tuple[str, ...]
    metric: str = ""
    options: dict = field(default_factory=dict)
    select: dict = field(default_factory=dict)
    grids: tuple[str, ...] = ()
    needs: str = ""
    note: str = ""
    seeds: int = DEFAULT_SEEDS


_REQUIRED = ("id", "title", "where", "quote", "paper_number", "lessons")
_SELECT = {
    "users",
    "min_photos",
    "max_photos",
    "watermarked_fraction_min",
    "watermarked_fraction_max",
    "color_spaces",
    "config",
}


def load_claims(path: Path, root: Path) -> list[Claim]:
    """The registry's claims, checked: ids, metrics, options, selections, grids and lessons."""
    where = _rel(path, root)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReproductionError(f"cannot read the claims registry {where}: {exc}.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ReproductionError(f"{where} is not valid TOML: {exc}.") from None
    entries = data.get("claim")
    if not isinstance(entries, list) or not entries:
        raise ReproductionError(f"{where}: no [[claim]] entries; see the example at its top.")
    claims, seen = [], set()
    for number, entry in enumerate(entries, start=1):
        claim = _claim(entry, f"{where} [[claim]] #{number}")
        if claim.id in seen:
            raise ReproductionError(f"{where}: the id {claim.id!r} is used twice; ids are anchors.")
        seen.add(claim.id)
        _check_claim(claim, where, root)
        claims.append(claim)
    return claims


def _claim(entry: Any, where: str) -> Claim:
    if not isinstance(entry, dict):
        raise ReproductionError(f"{where}: a claim is a table of fields.")
    missing = [k for k in _REQUIRED if not entry.get(k)]
    unknown = set(entry) - set(Claim.__dataclass_fields__)
    if missing or unknown:
        problem = f"missing {', '.join(missing)}" if missing else f"unknown {sorted(unknown)}"
        raise ReproductionError(f"{where} ({entry.get('id', '?')}): {problem} field(s).")
    values = dict(entry)
    for name in ("lessons", "grids"):
        values[name] = tuple(values.get(name, ()))
    return Claim(**values)


def _check_claim(claim: Claim, where: str, root: Path) -> None:
    at = f"{where} ({claim.id})"
    if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", claim.id):
        raise ReproductionError(f"{at}: an id is an anchor: lowercase letters, digits and '-'.")
    if isinstance(claim.seeds, bool) or not isinstance(claim.seeds, int) or claim.seeds < 1:
        raise ReproductionError(f"{at}: seeds is a whole number of seeds, 1 or more.")
    if bool(claim.grids) == bool(claim.needs):
        raise ReproductionError(
            f"{at}: give either grids (and a metric) or needs (what would measure it), not both."
        )
    if claim.grids:
        if claim.metric not in METRICS:
            raise ReproductionError(
                f"{at}: unknown metric {claim.metric!r}; one of {', '.join(METRICS)}."
            )
        accepted = set(inspect.signature(METRICS[claim.metric].compute).parameters) - {"records"}
        if set(claim.options) - accepted - CELL_OPTIONS:
            raise ReproductionError(
                f"{at}: metric {claim.metric} takes options {sorted(accepted)} (and any claim "
                f"{sorted(CELL_OPTIONS)}); got {sorted(claim.options)}."
            )
        if not isinstance(claim.options.get("all_keys", False), bool):
            raise ReproductionError(f"{at}: options.all_keys is true or false.")
        if "families" in claim.options:
            _check_families(claim.options["families"], at)
        if set(claim.select) - _SELECT:
            raise ReproductionError(
                f"{at}: unknown select key(s) {sorted(set(claim.select) - _SELECT)}; one of "
                f"{sorted(_SELECT)}."
            )
        for grid in claim.grids:
            if not (root / grid).is_file():
                raise ReproductionError(f"{at}: the grid {grid} does not exist; add it or fix it.")
    for lesson in claim.lessons:
        _lesson_path(lesson, root, at)


def _check_families(families: Any, at: str) -> None:
    """``options.families`` is a table of the paper's families (Fig. 2g), each a list of distinct
    ``anw_helpers.models`` names, no name in two families; else a :class:`ReproductionError`."""
    from anw_helpers.models import MODEL_NAMES

    lists = (
        isinstance(families, dict)
        and families
        and all(
            isinstance(v, list) and v and all(isinstance(m, str) for m in v)
            for v in families.values()
        )
    )
    if not lists:
        raise ReproductionError(
            f"{at}: options.families is a table of the paper's families, each a list of model "
            f'names, e.g. {{ VGG = ["vgg11_bn", "vgg16_bn"], DenseNet = ["densenet121"] }}.'
        )
    names = [m for models in families.values() for m in models]
    unknown = sorted(set(names) - set(MODEL_NAMES))
    if unknown:
        raise ReproductionError(
            f"{at}: options.families names {unknown}, not models of anw_helpers.models; one of "
            f"{', '.join(MODEL_NAMES)}."
        )
    twice = sorted({m for m in names if names.count(m) > 1})
    if twice:
        raise ReproductionError(f"{at}: options.families puts {twice} in more than one family.")


def _lesson_path(lesson: str, root: Path, where: str) -> Path:
    found = sorted((root / "notebooks").glob(f"{lesson}_*.py"))
    if len(found) != 1:
        raise ReproductionError(
            f"{where}: lesson {lesson!r} names no single notebooks/{lesson}_*.py."
        )
    return found[0]


# ------------------------------------------------------------------------------------- the records
def results_path(grid: str) -> str:
    """Where the sweep writes a grid's records by default: the grid's path with ``.jsonl``."""
    return str(Path(grid).with_suffix(".jsonl"))


def read_results(path: Path, root: Path, profile: str) -> list[dict]:
    """The records of one results file, each checked and tagged with ``_where`` ("file:line").

    ``profile`` is the grid's; a record from another profile, a damaged line (a job killed
    mid-write), NaN, or per-user lists that disagree raise :class:`ReproductionError` naming the
    file and line: a committed results file must be whole.
    """
    rel = _rel(path, root)
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{rel} line {number}"
        try:
            record = json.loads(line, parse_constant=_no_constant)
        except (json.JSONDecodeError, ValueError) as exc:
            raise ReproductionError(
                f"{where}: not a JSON record ({exc}); delete the line and rerun the sweep to "
                "measure that learner again."
            ) from None
        problem = record_problem(record, profile)
        if problem:
            raise ReproductionError(
                f"{where}: {problem}; fix it, or delete the line and rerun the sweep."
            )
        records.append({**record, "_where": where})
    return records


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number")


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def record_problem(record: Any, profile: str) -> Optional[str]:
    """What makes ``record`` unusable as a sweep record of ``profile``'s grid, or None."""
    if not isinstance(record, dict):
        return "a record is a JSON object"
    need = ("config", "profile", "users", "user_keys", "user_sizes", "k_hat", "match", "gap")
    need += ("held_out_key", "held_out_k_hat", "held_out_at_zero", "machine", "precision")
    missing = [k for k in need if k not in record]
    if missing:
        return f"not a sweep record: no {', '.join(missing)}"
    if record["profile"] != profile:
        return f"profile {record['profile']!r}, but its grid's profile is {profile!r}"
    if not isinstance(record["config"], dict) or not isinstance(record["config"].get("seed"), int):
        return "config is not a learner's config (no integer seed)"
    lists = ("users", "user_keys", "user_sizes", "k_hat", "match", "gap")
    if not all(isinstance(record[k], list) for k in lists):
        return f"{', '.join(lists)} must be lists"
    if len({len(record[k]) for k in lists}) != 1 or not record["users"]:
        return f"{', '.join(lists)} must have one entry per user"
    for i, (key, k_hat, match, gap, size) in enumerate(
        zip(*(record[k] for k in ("user_keys", "k_hat", "match", "gap", "user_sizes")))
    ):
        if not _is_number(k_hat) or not (isinstance(size, int) and size > 0):
            return f"user {i}: k_hat and user_sizes must be finite numbers"
        if key is None:
            if match is not None or gap is not None:
                return f"user {i} has no key, so no match or gap"
            continue
        if not _is_number(key) or not isinstance(match, bool) or not _is_number(gap):
            return f"user {i}: a key needs a boolean match and a finite gap (null: NaN in training)"
        if match != verify_match(k_hat, key):
            return f"user {i}: match {match} disagrees with k_hat {k_hat:g} and key {key:g}"
    held = record["held_out_k_hat"]
    if not _is_number(held) or not isinstance(record["held_out_at_zero"], bool):
        return "held_out_k_hat must be a finite number and held_out_at_zero a boolean"
    if record["held_out_at_zero"] != verify_match(held, 0.0):
        return f"held_out_at_zero disagrees with held_out_k_hat {held:g}"
    if not isinstance(record["machine"], dict):
        return "machine must be an object"
    return None


def machine_label(record: dict) -> str:
    """What a record was measured on, in a few words: GPU or CPU model, threads, precision."""
    m = record["machine"]
    if m.get("gpu"):
        where = str(m["gpu"])
    else:
        threads = m.get("threads", "?")
        where = f"{m.get('cpu') or 'unknown CPU'}, {threads} thread{'s' * (threads != 1)}"
    return f"{where}, {record['precision'] or 'unknown precision'}"


def select_records(records: list[dict], select: dict) -> list[dict]:
    """The records a claim counts: learners matching ``select``, each keeping only the users it
    names (``min_photos`` / ``max_photos``); a learner left with no such user is dropped."""
    kept = []
    for r in records:
        if not _learner_selected(r, select):
            continue
        users = [
            i
            for i, size in enumerate(r["user_sizes"])
            if select.get("min_photos", 0) <= size <= select.get("max_photos", math.inf)
        ]
        if not users:
            continue
        lists = ("users", "user_keys", "user_sizes", "k_hat", "match", "gap")
        kept.append({**r, **{k: [r[k][i] for i in users] for k in lists}})
    return kept


def _learner_selected(r: dict, select: dict) -> bool:
    keys = r["user_keys"]
    fraction = sum(k is not None for k in keys) / len(keys)
    seeds = r["config"].get("color_space_seeds") or [None]
    own = [s is not None for s, k in zip(seeds, keys) if k is not None]
    spaces = "own" if own and all(own) else "yiq" if not any(own) else "mixed"
    return (
        select.get("users", len(keys)) == len(keys)
        and select.get("watermarked_fraction_min", 0.0) - 1e-9 <= fraction
        and fraction <= select.get("watermarked_fraction_max", 1.0) + 1e-9
        and select.get("color_spaces", spaces) == spaces
        and all(r["config"].get(k) == v for k, v in select.get("config", {}).items())
    )


def unique_learners(records: list[dict]) -> list[dict]:
    """One record per learner (config, profile, training precision and the CPU's instruction set
    where recorded): a learner in two grids' results counts once (the first). The same config in
    two profiles, trained in bf16 and in fp32, or in fp32 on AVX2 and on AVX-512, is two learners
    (`cpu` keeps `ci`'s config; its table is measured in fp32)."""
    seen, kept = set(), []
    for r in records:
        isa = r["machine"].get("isa")  # fp32 on AVX2 and on AVX-512 gives other numbers
        key = json.dumps([r["config"], r["profile"], r.get("precision"), isa], sort_keys=True)
        if key not in seen:
            seen.add(key)
            kept.append(r)
    return kept


def record_group(record: dict) -> str:
    """The group whose numbers a record shares, e.g. "bf16 (AVX512)": its training precision and
    the CPU's instruction set (fp32 on AVX2 and on AVX-512 kernels gives other numbers), or the
    device for a learner trained on an accelerator ("bf16 (cuda)")."""
    device = record.get("train_device")
    where = record["machine"].get("isa") if device in (None, "cpu") else device
    return f"{record.get('precision') or 'unknown precision'} ({where or 'unknown ISA'})"


def by_group(records: list[dict]) -> dict[str, list[dict]]:
    """``records`` split by :func:`record_group`, groups in sorted order."""
    groups: dict[str, list[dict]] = {}
    for r in records:
        groups.setdefault(record_group(r), []).append(r)
    return dict(sorted(groups.items()))


def missing_keys(records: list[dict]) -> tuple[float, ...]:
    """The keys of :data:`ALL_KEYS` (30, 60, ..., 330; Fig. 2d–f) that no watermarking user of
    ``records`` holds (a key within τ = 15° of a slot holds it)."""
    held = [k for r in records for k in r["user_keys"] if k is not None]
    return tuple(s for s in ALL_KEYS if not any(verify_match(k, s) for k in held))


def missing_families(claim: Claim, records: list[dict]) -> tuple[str, ...]:
    """The families of the claim's ``options.families`` (the paper's networks, Fig. 2g: AlexNet,
    VGG, ResNet, Wide ResNet, DenseNet) whose models no record trained, in the claim's order. A
    record whose ``config.model`` is in no family raises :class:`ReproductionError` naming it: it
    would be counted for a family it does not belong to."""
    families = claim.options["families"]
    family = {m: name for name, models in families.items() for m in models}
    for r in records:
        model = r["config"].get("model")
        if model not in family:
            raise ReproductionError(
                f"{r.get('_where', 'a record')}: model {model!r} is in none of claim "
                f"{claim.id}'s families ({', '.join(families)}); add it to the family it belongs "
                "to in its options.families, or take its grid off the claim."
            )
    trained = {family[r["config"]["model"]] for r in records}
    return tuple(name for name in families if name not in trained)


def seeds_per_model(records: list[dict]) -> dict[str, int]:
    """The distinct seeds of each model (``config.model``) among ``records``, models sorted."""
    seeds: dict[str, set] = {}
    for r in records:
        seeds.setdefault(str(r["config"].get("model")), set()).add(r["config"]["seed"])
    return {model: len(s) for model, s in sorted(seeds.items())}


# ------------------------------------------------------------------------------------- the metrics
@dataclass(frozen=True)
class Outcome:
    """What a metric makes of one profile's records: the verdict by its bar, the course's number in
    words, and the per-unit values (``quantity``) whose mean and spread the table shows."""

    verdict: str
    number: str
    quantity: str
    values: tuple[float, ...]
    fmt: str = "+.3f"


def _threshold(score: float, yes_at: float, partly_at: float) -> str:
    return "yes" if score >= yes_at else "partly" if score >= partly_at else "no"


def _watermarked(records: list[dict]) -> list[tuple[bool, float, float, float]]:
    """(match, gap, k_hat, key) of every (learner, watermarking user) pair."""
    return [
        (m, g, h, k)
        for r in records
        for m, g, h, k in zip(r["match"], r["gap"], r["k_hat"], r["user_keys"])
        if k is not None
    ]


def keys_matched(
    records: list[dict], yes_at: float = 1.0, partly_at: float = 0.5
) -> Optional[Outcome]:
    """The share of (learner, watermarking user) pairs whose key eq. 6 recovers (|k̂ − k*| < 15°),
    as "k of n users" (each learner's users count), and each pair's loss gap (best loss away from
    k* minus the loss near it; > 0: k* wins)."""
    pairs = _watermarked(records)
    if not pairs:
        return None
    hits = sum(m for m, *_ in pairs)
    keys = len({k for *_, k in pairs})
    return Outcome(
        _threshold(hits / len(pairs), yes_at, partly_at),
        f"{hits} of {len(pairs)} users matched ({keys} key{'s' * (keys != 1)})",
        "loss gap",
        tuple(g for _, g, _, _ in pairs),
    )


def keys_matched_by_model(
    records: list[dict], yes_at: float = 1.0, partly_at: float = 0.5
) -> Optional[Outcome]:
    """As keys_matched, the share of (learner, watermarking user) pairs whose key eq. 6 recovers
    (|k̂ − k*| < 15°) and each pair's loss gap (> 0: k* wins), with the count per network
    (``config.model``; Fig. 2g's architectures) and the share of its training set it fitted (the
    method needs memorisation, Sec. 5.6), models in alphabetical order: "alexnet 1/3 (train acc
    0.46–0.50), vgg11_bn 3/3 (train acc 1.00); 4 of 6 users matched (3 keys)"."""
    matched = keys_matched(records, yes_at, partly_at)
    if matched is None:
        return None
    per_model: dict[str, tuple[list[bool], list[float]]] = {}
    for r in records:
        hits, fits = per_model.setdefault(str(r["config"].get("model")), ([], []))
        hits.extend(m for m, *_ in _watermarked([r]))
        fits.append(float(r["train_accuracy"]))
    each = ", ".join(
        f"{model} {sum(h)}/{len(h)} (train acc {_span(f)})"
        for model, (h, f) in sorted(per_model.items())
        if h
    )
    return replace(matched, number=f"{each}; {matched.number}")


def _span(values: list[float]) -> str:
    """ "0.97", or "0.46–0.50" when the values differ at two decimals."""
    low, high = f"{min(values):.2f}", f"{max(values):.2f}"
    return low if low == high else f"{low}–{high}"


def keys_missed(
    records: list[dict], yes_at: float = 0.8, partly_at: float = 0.5
) -> Optional[Outcome]:
    """The share of (learner, watermarking user) pairs whose key eq. 6 does *not* recover, as "k of
    n users", and each pair's loss gap (< 0: a slot away from k* wins)."""
    pairs = _watermarked(records)
    if not pairs:
        return None
    misses = sum(not m for m, *_ in pairs)
    return Outcome(
        _threshold(misses / len(pairs), yes_at, partly_at),
        f"{misses} of {len(pairs)} users missed",
        "loss gap",
        tuple(g for _, g, _, _ in pairs),
    )


def held_out_at_zero(
    records: list[dict], yes_at: float = 1.0, partly_at: float = 0.5
) -> Optional[Outcome]:
    """The share of learners whose held-out user (the same key, photos the learner never saw;
    Sec. 5.4) gets k̂ = 0 (|k̂| < 15°), and each one's |k̂ − 0| in degrees (grid: 0, 30, ...)."""
    if not records:
        return None
    at_zero = sum(r["held_out_at_zero"] for r in records)
    return Outcome(
        _threshold(at_zero / len(records), yes_at, partly_at),
        f"{at_zero} of {len(records)} held-out users at k̂ = 0",
        "|k̂ − 0| (degrees)",
        tuple(float(circular_distance(r["held_out_k_hat"], 0.0)) for r in records),
        ".1f",
    )


def hue_cosine_after_training(
    records: list[dict], yes_at: float = 0.99, partly_at: float = 0.9
) -> Optional[Outcome]:
    """The mean of cos(k̂ − k*) over (learner, watermarking user) pairs, Table 1's "after training"
    (``anw_helpers.tracing.hue_cosine``, as lesson 08); Table 1's "before training", the held-out
    users' cos(k̂ − k*), is quoted beside it as a spread over them (:func:`held_out_cosine`)."""
    from anw_helpers.tracing import hue_cosine

    pairs = _watermarked(records)
    if not pairs:
        return None
    after = hue_cosine([h for *_, h, _ in pairs], [k for *_, k in pairs]).tolist()
    mean = statistics.fmean(after)
    before = held_out_cosine(records)
    return Outcome(
        _threshold(mean, yes_at, partly_at),
        f"after training {mean:+.3f} over {len(after)} users" + (f"; {before}" if before else ""),
        "cos(k̂ − k*) after training",
        tuple(after),
    )


def held_out_cosine(records: list[dict]) -> str:
    """Table 1's "before training" in words: the held-out users' cos(k̂ − k*) as mean ± std (min,
    max) and n, with how many of them sit at k̂ = 0 ("" without held-out users). A learner that
    never saw a user's photos puts k̂ at (or near) 0, the natural hue (Sec. 5.4), so this is
    ≈ cos(k*): set by which keys were chosen, not drawn at random."""
    from anw_helpers.tracing import hue_cosine

    held = [r for r in records if r["held_out_key"] is not None]
    if not held:
        return ""
    before = hue_cosine(
        [r["held_out_k_hat"] for r in held], [r["held_out_key"] for r in held]
    ).tolist()
    at_zero = sum(r["held_out_at_zero"] for r in held)
    return (
        f"before (held-out users; k̂ = 0 for {at_zero} of {len(held)}, where cos(k̂ − k*) = cos k*) "
        f"{spread(before, '+.3f')}, n = {len(held)}"
    )


def gap_grows_with_capacity(
    records: list[dict], models: Sequence[str] = ("small_resnet",)
) -> Optional[Outcome]:
    """The mean loss gap per model size, smallest first (``models`` in order of size, then width
    within a model): does the minimum at k* get sharper as the network grows (Fig. 2h)?"""
    groups: dict[tuple[int, int], list[tuple[bool, float]]] = {}
    names: dict[tuple[int, int], str] = {}
    for r in records:
        model, width = r["config"].get("model"), int(r["config"].get("width", 0))
        if model not in models:
            raise ReproductionError(
                f"{r['_where']}: model {model!r} has no place in the metric's size order "
                f"{list(models)}; add it to the claim's options.models."
            )
        size = (list(models).index(model), width if model == "small_resnet" else 0)
        names[size] = f"{model} w{width}" if model == "small_resnet" else model
        groups.setdefault(size, []).extend((m, g) for m, g, *_ in _watermarked([r]))
    groups = {s: v for s, v in groups.items() if v}
    if len(groups) < 2:
        return None
    order = sorted(groups)
    means = [statistics.fmean(g for _, g in groups[s]) for s in order]
    all_match = all(m for s in order for m, _ in groups[s])
    growing = all(b > a for a, b in zip(means, means[1:]))
    verdict = "yes" if all_match and growing else "partly" if means[-1] > means[0] else "no"
    hits = sum(m for s in order for m, _ in groups[s])
    total = sum(len(groups[s]) for s in order)
    per_size = ", ".join(f"{names[s]} {m:+.3f}" for s, m in zip(order, means))
    return Outcome(
        verdict,
        f"mean gap {per_size}; {hits} of {total} users matched",
        "loss gap (all sizes)",
        tuple(g for s in order for _, g in groups[s]),
    )


_DEFENCE_FIELDS = ("augment", "label_smoothing", "adversarial_eps", "dp_noise_multiplier")


def colour_jitter_narrows_gap(records: list[dict]) -> Optional[Outcome]:
    """The mean loss gap of the colour-jitter learners (an ``augment`` with ``color_jitter``)
    against the plain crop-and-flip learner's and every other learner-side variant's (Fig. 3)."""
    groups: dict[tuple, list[float]] = {}
    for r in records:
        variant = tuple(r["config"].get(k) for k in _DEFENCE_FIELDS)
        groups.setdefault(variant, []).extend(g for _, g, *_ in _watermarked([r]))
    plain = groups.get(("crop_flip", 0.0, 0.0, None))
    jitter = {v: g for v, g in groups.items() if "color_jitter" in str(v[0]) and g}
    others = {v: g for v, g in groups.items() if v not in jitter and g}
    if not plain or not jitter:
        return None
    worst_jitter = max(statistics.fmean(g) for g in jitter.values())
    plain_mean = statistics.fmean(plain)
    least_other = min(statistics.fmean(g) for g in others.values())
    verdict = (
        "yes" if worst_jitter < least_other else "partly" if worst_jitter < plain_mean else "no"
    )
    jitter_means = ", ".join(
        f"{v[0].removeprefix('crop_flip+')} {statistics.fmean(g):+.3f}"
        for v, g in sorted(jitter.items(), key=lambda item: str(item[0]))
    )
    return Outcome(
        verdict,
        f"mean gap with {jitter_means}; plain {plain_mean:+.3f}; lowest of the "
        f"{len(others)} other variants {least_other:+.3f}",
        "loss gap with colour jitter",
        tuple(g for gaps in jitter.values() for g in gaps),
    )


_STAGE_LISTS = ("k_hat", "match", "gap")


def _stage_name(stage: dict) -> str:
    """A stage of the pruning and fine-tuning job in words: "pruned 30 %", "fine-tuned 5 epochs at
    lr 0.01", "trained"."""
    if stage["stage"] == "pruned":
        return f"pruned {_pct(stage['amount'])}"
    if stage["stage"] == "fine-tuned":
        return f"fine-tuned {stage['epochs']} epochs at lr {stage['lr']:g}"
    return str(stage["stage"])


def _attack_stages(r: dict) -> list[dict]:
    """The stages of a record of the pruning and fine-tuning job (tools/jobs/prune_finetune.py),
    the trained model's first, else a :class:`ReproductionError` naming its line: each stage needs
    a test accuracy and one k_hat, match and gap per user, each match agreeing with
    |k_hat − k*| < τ."""
    where = r.get("_where", "a record")
    block = r.get("prune_finetune")
    stages = block.get("stages") if isinstance(block, dict) else None
    first = stages[0] if isinstance(stages, list) and stages else None
    if not isinstance(first, dict) or first.get("stage") != "trained":
        raise ReproductionError(
            f"{where}: not a record of the pruning and fine-tuning job (tools/jobs/"
            "prune_finetune.py): it needs a prune_finetune block whose stages start with the "
            "trained model; rerun tools/grids/ci_fig3gh_prune_finetune.toml."
        )
    keys = r["user_keys"]
    for s in stages:
        lists = [s.get(k) for k in _STAGE_LISTS]
        if not _is_number(s.get("test_accuracy")) or any(
            not isinstance(x, list) or len(x) != len(keys) for x in lists
        ):
            raise ReproductionError(
                f"{where}: stage {s.get('stage')!r} needs a test_accuracy and one k_hat, match "
                "and gap per user."
            )
        for key, k_hat, m, gap in zip(keys, *lists):
            numbers = _is_number(k_hat) and _is_number(gap) and isinstance(m, bool)
            if key is not None and not (numbers and m == verify_match(k_hat, key)):
                raise ReproductionError(
                    f"{where}: stage {_stage_name(s)}: a match disagrees with |k_hat - k*| < 15 "
                    f"(k* {key:g}, k_hat {k_hat}) or is not a number."
                )
    return stages


def key_survives_pruning_fine_tuning(
    records: list[dict],
    yes_at: float = 1.0,
    partly_at: float = 0.5,
    max_accuracy_drop: float = ACCURACY_KEPT,
) -> Optional[Outcome]:
    """Fig. 3g-h (Sec. 5.3): the share of (learner, watermarking user) pairs whose key eq. 6 still
    recovers after each defence that leaves a model the learner would still use (test accuracy
    less than ``max_accuracy_drop`` below the trained learner's, lesson 06's reading), and each
    such pair's loss gap. Every pruning amount and fine-tuning is quoted with its matches and its
    cost in accuracy, the harsher ones too; a held-out user (the same key, never trained on) that
    matches after a counted defence makes the match no evidence, so the verdict is then at most
    "partly". No counted defence at all reads "no": nothing the claim covers was measured."""
    per_stage: dict[str, dict] = {}
    counted, attacked, held_false, held_counted = [], [], 0, 0
    for r in records:
        stages = _attack_stages(r)
        base = stages[0]["test_accuracy"]
        for s in stages[1:]:
            drop = base - s["test_accuracy"]
            pairs = [
                (m, g) for m, g, k in zip(s["match"], s["gap"], r["user_keys"]) if k is not None
            ]
            row = per_stage.setdefault(_stage_name(s), {"hits": 0, "n": 0, "drops": [], "kept": 0})
            row["hits"] += sum(m for m, _ in pairs)
            row["n"] += len(pairs)
            row["drops"].append(drop)
            attacked += pairs
            if drop < max_accuracy_drop:
                row["kept"] += 1
                counted += pairs
                held_false += bool(s.get("held_out_match"))
                held_counted += 1
    if not attacked:
        return None
    each = "; ".join(
        f"{name}: {row['hits']}/{row['n']} matched (accuracy {-statistics.fmean(row['drops']):+.3f}"
        f", kept in {row['kept']}/{len(row['drops'])} learners)"
        for name, row in per_stage.items()
    )
    points = f"{max_accuracy_drop * 100:g} points"
    if not counted:
        return Outcome(
            "no",
            f"{each}; no defence kept test accuracy within {points}: nothing the claim covers",
            "loss gap after every defence (none kept its accuracy)",
            tuple(g for _, g in attacked),
        )
    hits = sum(m for m, _ in counted)
    verdict = _threshold(hits / len(counted), yes_at, partly_at)
    if verdict == "yes" and held_false:
        verdict = "partly"
    return Outcome(
        verdict,
        f"{hits}/{len(counted)} matched after the defences that kept test accuracy within "
        f"{points} ({each}); held-out users matched their key after those {held_false}/"
        f"{held_counted}",
        "loss gap after a defence that kept accuracy",
        tuple(g for _, g in counted),
    )


def match_drops_with_fraction(records: list[dict], yes_drop: float = 0.2) -> Optional[Outcome]:
    """The share of watermarking users matched at the smallest and at the largest fraction of users
    who watermark (Fig. 5a): how far matching falls as more users watermark."""
    groups: dict[float, list[bool]] = {}
    for r in records:
        keys = r["user_keys"]
        fraction = round(sum(k is not None for k in keys) / len(keys), 3)
        groups.setdefault(fraction, []).extend(m for m, *_ in _watermarked([r]))
    groups = {f: v for f, v in groups.items() if v}
    if len(groups) < 2:
        return None
    rates = {f: sum(v) / len(v) for f, v in groups.items()}
    low, high = min(rates), max(rates)
    drop = rates[low] - rates[high]
    verdict = "yes" if drop >= yes_drop else "partly" if drop > 0 else "no"
    per_fraction = ", ".join(
        f"f = {f:g}: {sum(groups[f])} of {len(groups[f])} users" for f in sorted(groups)
    )
    return Outcome(
        verdict,
        f"matched {per_fraction}; drop {drop:+.2f}",
        "share matched per fraction f",
        tuple(rates[f] for f in sorted(rates)),
        ".2f",
    )


_TILTED_LISTS = ("azimuths", "psnr", "clipped")


def _tilted_checked(r: dict) -> dict:
    """The ``tilted`` block of a record of lesson 07's tilted-rotation job (tools/jobs/tilted.py),
    else a :class:`ReproductionError` naming its line: one azimuth, PSNR and clipped share per
    user, numbers for every watermarking user (clipped in [0, 1]), and the held-out user's k̂ in
    her own space with its verdict at 0."""
    where = r.get("_where", "a record")
    block = r.get("tilted")
    lists_ok = isinstance(block, dict) and all(
        isinstance(block.get(k), list) for k in _TILTED_LISTS
    )
    if not lists_ok or {len(block[k]) for k in _TILTED_LISTS} != {len(r["user_keys"])}:
        raise ReproductionError(
            f"{where}: not a record of the tilted-rotation job (tools/jobs/tilted.py): it needs a "
            f"tilted block with one {', '.join(_TILTED_LISTS)} entry per user; rerun "
            "tools/grids/ci_fig5a_tilted.toml."
        )
    for i, (key, a, p, c) in enumerate(zip(r["user_keys"], *(block[k] for k in _TILTED_LISTS))):
        if key is not None and not (
            _is_number(a) and (p is None or _is_number(p)) and _is_number(c) and 0 <= c <= 1
        ):
            raise ReproductionError(
                f"{where}: user {i} watermarks but her azimuth, PSNR or clipped share is not a "
                "number (clipped: a share in [0, 1])."
            )
    held = block.get("held_out_k_hat_own_space")
    if not _is_number(held) or block.get("held_out_at_zero_own_space") != verify_match(held, 0.0):
        raise ReproductionError(
            f"{where}: the held-out user's k̂ in her own space and its verdict at 0 disagree."
        )
    return block


def tilted_keys_matched(
    records: list[dict], yes_at: float = 0.8, partly_at: float = 0.5
) -> Optional[Outcome]:
    """Lesson 07's tilted rotations (beyond the paper; tools/jobs/tilted.py): the share of
    (learner, watermarking user) pairs whose key eq. 6 recovers when each user marks and is
    verified in YIQ tilted towards her own direction (|k̂ − k*| < 15°, as Fig. 5a's own-LCT row),
    each pair's loss gap, what the marks cost the photos (median PSNR over users, mean share of
    pixels clipped; ``color.mark_cost``) and how many held-out users land at k̂ = 0 in their own
    tilted space."""
    blocks = [_tilted_checked(r) for r in records]
    matched = keys_matched(records, yes_at, partly_at)
    if matched is None:
        return None
    marking = [
        (p, c)
        for r, b in zip(records, blocks)
        for k, p, c in zip(r["user_keys"], b["psnr"], b["clipped"])
        if k is not None
    ]
    psnr = statistics.median(math.inf if p is None else p for p, _ in marking)
    clipped = statistics.fmean(c for _, c in marking)
    held = sum(b["held_out_at_zero_own_space"] for b in blocks)
    return replace(
        matched,
        number=f"{matched.number}; their marks: median PSNR {psnr:.1f} dB, {_pct(clipped)} of "
        f"pixels clipped (mean); held-out users at k̂ = 0 in their own space: {held} of "
        f"{len(blocks)}",
    )


_BLUE_LISTS = ("blue_intensities", "blue_s_hat", "blue_match")
_BLUE_HELD = ("held_out_blue_s_hat", "held_out_blue_match")


def _blue_checked(r: dict) -> dict:
    """``r`` if it is a whole record of the blue-channel job (tools/jobs/blue.py), else a
    :class:`ReproductionError` naming its line: one intensity, s_hat and match per user, each
    match agreeing with |s_hat - s*| < tau, and the held-out user's s_hat and match per secret."""
    from anw_helpers.verify import BLUE_TAU, intensity_match

    where = r.get("_where", "a record")
    fields = _BLUE_LISTS + _BLUE_HELD
    if any(not isinstance(r.get(k), list) for k in fields) or len({len(r[k]) for k in fields}) != 1:
        raise ReproductionError(
            f"{where}: not a record of the blue-channel job (tools/jobs/blue.py): it needs one "
            f"{', '.join(fields)} entry per user; rerun tools/grids/ci_fig4_blue.toml."
        )
    tau = r.get("blue_tau", BLUE_TAU)
    rows = zip(r["blue_intensities"], r["blue_s_hat"], r["blue_match"], *(r[k] for k in _BLUE_HELD))
    for i, (s, s_hat, m, held, held_m) in enumerate(rows):
        numbers = all(_is_number(x) for x in (s, s_hat, held, tau))
        if not (numbers and isinstance(m, bool) and isinstance(held_m, bool)):
            raise ReproductionError(f"{where}: user {i}: intensities and matches must be numbers.")
        if m != intensity_match(s_hat, s, tau) or held_m != intensity_match(held, s, tau):
            raise ReproductionError(
                f"{where}: user {i}: a match disagrees with |s_hat - s*| < {tau:g} (s* {s:g})."
            )
    return r


def blue_intensities_matched(
    records: list[dict], yes_at: float = 1.0, partly_at: float = 0.5
) -> Optional[Outcome]:
    """The share of (learner, user) pairs whose blue-channel intensity eq. 6 recovers over
    intensities (|ŝ − s*| < τ = 0.1; Sec. 5.3, Fig. 4), each pair's |ŝ − s*|, and how many held-out
    users (the same positions and intensity, photos never trained on) match too: one that does
    makes the match no evidence, so the verdict is at most "partly"."""
    from anw_helpers.verify import intensity_distance

    checked = [_blue_checked(r) for r in records]
    pairs = [
        (m, s_hat, s)
        for r in checked
        for s, s_hat, m in zip(r["blue_intensities"], r["blue_s_hat"], r["blue_match"])
    ]
    if not pairs:
        return None
    hits = sum(m for m, *_ in pairs)
    held = [m for r in checked for m in r["held_out_blue_match"]]
    verdict = _threshold(hits / len(pairs), yes_at, partly_at)
    if verdict == "yes" and any(held):
        verdict = "partly"
    intensities = ", ".join(f"{s:g}" for s in sorted({s for *_, s in pairs}))
    return Outcome(
        verdict,
        f"{hits}/{len(pairs)} matched (intensities {intensities}); held-out users matched "
        f"{sum(held)}/{len(held)}",
        "|ŝ − s*|",
        tuple(float(intensity_distance(h, s)) for _, h, s in pairs),
        ".3f",
    )


# --------------------------------------- lesson 08's jobs (tools/jobs/membership.py): Sec. 5.5-5.6
def _block(record: dict, name: str) -> dict:
    """The job's block ``name`` of a record (``mia`` or ``memorisation``); a record without it was
    written by another job, which a claim's grid must not mix in."""
    block = record.get(name)
    if not isinstance(block, dict):
        raise ReproductionError(
            f"{record.get('_where', 'a record')}: no {name!r} block; the grid's records must come "
            f"from its job (tools/jobs/membership.py), not from another grid's."
        )
    return block


def _pct(x: float) -> str:
    return f"{x:.0%}".replace("%", " %")


def _mean_std(values: Sequence[float]) -> str:
    mean = statistics.fmean(values)
    return f"{mean:+.3f} ± {statistics.stdev(values):.3f}" if len(values) > 1 else f"{mean:+.3f}"


def anw_vs_shadow_mia(
    records: list[dict], yes_at: float = 0.9, mia_at_most: float = 0.6
) -> Optional[Outcome]:
    """Fig. 5b: the share of (learner, watermarking user) pairs whose key eq. 6 recovers (lesson
    08's ten users of one learner) against the balanced accuracy of MIA-std with each user's own
    shadow model as threshold (Sec. 5.5; 0.5 is a coin), per user; the gap attack, MIA-std with
    known members and the never-seen users' false matches are quoted beside them."""
    blocks = [_block(r, "mia") for r in records]
    users = [u for b in blocks for u in b["users"]]
    if not users:
        return None
    matched = sum(u["match"] for u in users)
    share = matched / len(users)
    shadow = statistics.fmean(b["pooled"]["accuracy"]["mia_shadow"] for b in blocks)
    known = statistics.fmean(b["pooled"]["accuracy"]["mia_std"] for b in blocks)
    gap = statistics.fmean(b["pooled"]["gap_attack_accuracy"] for b in blocks)
    false = sum(u["false_match"] for u in users)
    verdict = (
        "yes" if share >= yes_at and shadow <= mia_at_most else "partly" if share > shadow else "no"
    )
    return Outcome(
        verdict,
        f"ANW {matched}/{len(users)} users matched ({_pct(share)}); MIA-std with the user's "
        f"shadow model {_pct(shadow)} accurate (mean over learners; gap attack {_pct(gap)}, "
        f"MIA-std with known members {_pct(known)}); never-seen users falsely matched "
        f"{false}/{len(users)}",
        "shadow MIA-std accuracy per user",
        tuple(u["mia_shadow"]["accuracy"] for u in users),
        ".3f",
    )


_MIAS = ("mia_std", "mia_pow", "mia_shadow")


def advantage_over_mias(records: list[dict]) -> Optional[Outcome]:
    """Fig. 5c: eq. 7's protection advantage adv^P = (M − N p) / N of ANW (p = 1/12, one trial per
    user) and of MIA-std, MIA-pow and the shadow MIA (p = 1/2, one trial per photo), pooled per
    learner as lesson 08 pools them: each method's mean ± std over learners, and per learner
    ANW's adv^P minus the best MIA's (> 0: ANW ahead), also on the normalised scale
    (M/N − p) / (1 − p)."""
    blocks = [_block(r, "mia") for r in records]
    if not blocks:
        return None
    names = {**{m: m for m in ("anw",) + _MIAS}, **blocks[0].get("methods", {})}

    def margins(scale: str) -> list[float]:
        return [
            b["pooled"][scale]["anw"] - max(b["pooled"][scale][m] for m in _MIAS) for b in blocks
        ]

    adv = {m: [b["pooled"]["advantage"][m] for b in blocks] for m in ("anw",) + _MIAS}
    ahead, ahead_normalised = margins("advantage"), margins("normalised_advantage")
    mean_ahead = statistics.fmean(adv["anw"]) > max(statistics.fmean(adv[m]) for m in _MIAS)
    verdict = "yes" if all(x > 0 for x in ahead) else "partly" if mean_ahead else "no"
    each = ", ".join(f"{names[m]} {_mean_std(v)}" for m, v in adv.items())
    return Outcome(
        verdict,
        f"adv^P {each}; ANW above every MIA in {sum(x > 0 for x in ahead)}/{len(blocks)} "
        f"learners (normalised scale: {sum(x > 0 for x in ahead_normalised)}/{len(blocks)})",
        "ANW's adv^P minus the best MIA's, per learner",
        tuple(ahead),
    )


def memorisation_sign(
    records: list[dict], yes_at: float = 1.0, partly_at: float = 0.5
) -> Optional[Outcome]:
    """Sec. 5.6: Feldman & Zhang's memorisation estimate of one user's photos with her watermark
    and without it (the same photos and subsampled splits, anw_helpers.memorisation; lesson 08),
    mean over her photos; per learner the paired difference (watermarked − clean), and in how many
    seeds it is positive: the sign over seeds is the claim."""
    blocks = [_block(r, "memorisation") for r in records]
    if not blocks:
        return None
    diffs = [b["difference"]["mean"] for b in blocks]
    higher = sum(d > 0 for d in diffs)
    unit = "seeds" if len({r["config"]["seed"] for r in records}) == len(records) else "learners"
    clean = statistics.fmean(b["clean"]["mean"] for b in blocks)
    marked = statistics.fmean(b["watermarked"]["mean"] for b in blocks)
    fitted = sum(b["all_fitted"] for b in blocks)
    labels = "; ".join(sorted({b["label"] for b in blocks}))
    return Outcome(
        _threshold(higher / len(blocks), yes_at, partly_at),
        f"{higher} of {len(blocks)} {unit} higher with the mark; the user's mean mem "
        f"{clean:+.3f} clean → {marked:+.3f} watermarked ({labels}; every subsampled model "
        f"reached the plan's training accuracy in {fitted}/{len(blocks)})",
        "mem watermarked − clean (paired), per learner",
        tuple(diffs),
    )


def adversary_matched(
    records: list[dict], yes_below: float = 0.2, partly_below: float = 0.35
) -> Optional[Outcome]:
    """Fig. 5a's adversary: the share of guesses (random U(-1, 1) colour spaces, each user verified
    in several; tools/jobs/adversary.py) in which eq. 6 still matched a user's key, beside the share
    matched in the users' own spaces. Chance is 1/12 per guess; the paper reports about 10 %. The
    guesses on one user share her photos, so the spread is over users (their per-user shares)."""
    blocks = [(r, _block(r, "adversary")) for r in records]
    if not blocks:
        return None
    per_user: list[float] = []
    own = []
    for r, b in blocks:
        per_user += [m / b["guesses"] for m in b["matches"]]
        own += [m for m in r["match"] if m is not None]
    hits = sum(sum(b["matches"]) for _, b in blocks)
    tries = sum(len(b["matches"]) * b["guesses"] for _, b in blocks)
    share = hits / tries
    verdict = "yes" if share < yes_below else "partly" if share < partly_below else "no"
    return Outcome(
        verdict,
        f"guessed colour spaces matched {hits} of {tries} tries ({share:.0%}; chance 1/12), "
        f"the users' own spaces {sum(own)} of {len(own)} users ({sum(own) / len(own):.0%})",
        "share of one user's guesses that matched",
        tuple(per_user),
        ".2f",
    )


# ---------------------------------------- lesson 10: marks at equal cost over fractions (issue 27)
_MARK_FIELDS = ("mark", "twin_p", "innocent_rejected", "innocent_users", "membership_p")


def _marks(r: dict) -> list[dict]:
    """The ``marks`` block of a record of lesson 10's job (tools/jobs/marks.py: one entry per user,
    the unmarked user's twin fields None), else a :class:`ReproductionError` naming its line."""
    marks = r.get("marks")
    ok = isinstance(marks, list) and marks and isinstance(r["config"].get("n_train"), int)
    if not ok or any(not isinstance(m, dict) or set(_MARK_FIELDS) - set(m) for m in marks):
        raise ReproductionError(
            f"{r.get('_where', 'a record')}: not a record of lesson 10's job "
            f"(tools/jobs/marks.py): it needs a marks block with {', '.join(_MARK_FIELDS)} per "
            "user and an integer n_train; rerun tools/grids/ci_lesson10_fraction.toml."
        )
    return marks


def _by_regime(records: list[dict]) -> dict[int, list[dict]]:
    """Lesson 10's records by training-set size (the regime), smallest first."""
    out: dict[int, list[dict]] = {}
    for r in sorted(records, key=lambda r: r["config"]["n_train"]):
        out.setdefault(r["config"]["n_train"], []).append(r)
    return out


def _fractions(records: list[dict]) -> list[float]:
    return sorted({float(r["config"]["user_sizes"][0]) for r in records})


def _twin_p(records: list[dict], mark: str) -> list[float]:
    return [m["twin_p"] for r in records for m in _marks(r) if m["mark"] == mark]


def _mark_power(records: list[dict], mark: str, level: float) -> str:
    """E.g. "YIQ 11/12 (95 % CI 0.62–1.00; at 0.5, 1, 2, 4 % marked: 3, 2, 3, 3)"."""
    from anw_helpers.twins import rejections

    rate = rejections(_twin_p(records, mark), level)
    per = [
        sum(
            p <= level
            for p in _twin_p([r for r in records if r["config"]["user_sizes"][0] == f], mark)
        )
        for f in _fractions(records)
    ]
    fractions = ", ".join(f"{100 * f:g}" for f in _fractions(records))
    return (
        f"{mark} {rate.count}/{rate.n} (95 % CI {rate.low:.2f}–{rate.high:.2f}; at {fractions} % "
        f"marked: {', '.join(map(str, per))})"
    )


def twin_test_power(
    records: list[dict],
    marks: Sequence[str] = ("YIQ", "own T"),
    level: float = 0.01,
    yes_at: float = 1.0,
    partly_at: float = 0.5,
) -> Optional[Outcome]:
    """Lesson 10's kept-twin test (Huang, Gong & Reiter, CCS 2024; anw_helpers.twins): per regime
    (training-set size) and mark, how many marked users it finds at ``level``, pooled over marking
    fractions and seeds, with the Clopper-Pearson interval and the count at each fraction. The
    verdict counts the users of ``marks``; the other marks are shown beside them."""
    if not records:
        return None
    for r in records:
        _marks(r)
    shown = sorted(
        {m["mark"] for r in records for m in _marks(r) if m["twin_p"] is not None},
        key=lambda m: (m not in marks, m),
    )
    hits = [float(p <= level) for m in marks for p in _twin_p(records, m)]
    if not hits:
        return None
    regimes = "; ".join(
        f"n_train {n}: " + ", ".join(_mark_power(rs, m, level) for m in shown)
        for n, rs in _by_regime(records).items()
    )
    return Outcome(
        _threshold(statistics.fmean(hits), yes_at, partly_at),
        f"found at p ≤ {level:g} (of the learners, pooled over marked shares of the training "
        f"set and seeds): {regimes}",
        f"found (1) or not (0), per (learner, {' or '.join(marks)} user)",
        tuple(hits),
        ".2f",
    )


def twin_innocent_fpr(records: list[dict], level: float = 0.01) -> Optional[Outcome]:
    """The kept-twin test's false positives on innocent users (forward passes only; each learner's
    innocent users draw their photos from one pool of never-seen photos, so they are not
    independent): the pooled count rejected at ``level`` per mark, with the Clopper-Pearson
    interval of the pooled rate. Yes when that interval reaches down to ``level`` or below (no
    evidence that the test exceeds its level), no otherwise."""
    from anw_helpers.stats import Rate

    if not records:
        return None
    rows = [m for r in records for m in _marks(r) if m["innocent_users"]]
    if not rows:
        return None
    count = sum(m["innocent_rejected"] for m in rows)
    n = sum(m["innocent_users"] for m in rows)
    rate = Rate.from_counts(count, n, alpha=level)
    per_mark = ", ".join(
        f"{mark} {sum(m['innocent_rejected'] for m in rows if m['mark'] == mark)}/"
        f"{sum(m['innocent_users'] for m in rows if m['mark'] == mark)}"
        for mark in sorted({m["mark"] for m in rows})
    )
    return Outcome(
        "yes" if rate.consistent else "no",
        f"{count} of {n} innocent users rejected at p ≤ {level:g} ({rate.rate:.2%}; 95 % CI "
        f"{rate.low:.2%}–{rate.high:.2%}); by mark {per_mark}",
        "share of innocent users rejected, per (learner, mark)",
        tuple(m["innocent_rejected"] / m["innocent_users"] for m in rows),
        ".4f",
    )


def membership_alone_by_regime(records: list[dict], level: float = 0.01) -> Optional[Outcome]:
    """The unmarked user under the set-level membership test (her training photos against the
    learner's test split, lesson 10): per regime (training-set size) how many learners it finds at
    ``level``, beside their train and test accuracy. Yes when it finds every unmarked user in the
    smallest regime and at most half in the largest (membership alone fails where the learner
    generalises); partly when it finds fewer in the largest; no otherwise."""
    if not records:
        return None
    regimes = _by_regime(records)
    found = {
        n: [float(m["membership_p"] <= level) for r in rs for m in _marks(r) if m["mark"] == "none"]
        for n, rs in regimes.items()
    }
    if len(regimes) < 2 or not all(found.values()):
        return None
    share = [statistics.fmean(v) for v in found.values()]
    verdict = (
        "yes" if share[0] == 1 and share[-1] <= 0.5 else "partly" if share[-1] < share[0] else "no"
    )
    text = "; ".join(
        f"n_train {n}: {int(sum(found[n]))}/{len(found[n])} (train accuracy "
        f"{statistics.fmean(r['train_accuracy'] for r in rs):.2f}, test "
        f"{statistics.fmean(r['test_accuracy'] for r in rs):.2f})"
        for n, rs in regimes.items()
    )
    return Outcome(
        verdict,
        f"unmarked users found by membership alone at p ≤ {level:g}: {text}",
        "unmarked user found (1) or not (0), per learner, both regimes",
        tuple(x for v in found.values() for x in v),
        ".2f",
    )


@dataclass(frozen=True)
class Metric:
    """A metric and its bar, written from the options it is given (so the two cannot disagree)."""

    compute: Callable[..., Optional[Outcome]]
    bar: Callable[..., str]


def _share(x: float) -> str:
    return "all" if x >= 1 else f"at least {x:.0%}".replace("%", " %")


def _shares_bar(what: str) -> Callable[..., str]:
    return lambda yes_at, partly_at: (
        f"yes: {_share(yes_at)} of {what}; partly: {_share(partly_at)}; otherwise no"
    )


METRICS: dict[str, Metric] = {
    "keys_matched": Metric(keys_matched, _shares_bar("the (learner, user) pairs matched")),
    "keys_matched_by_model": Metric(
        keys_matched_by_model, _shares_bar("the (learner, user) pairs matched, over every model")
    ),
    "keys_missed": Metric(keys_missed, _shares_bar("the (learner, user) pairs missed")),
    "held_out_at_zero": Metric(held_out_at_zero, _shares_bar("the held-out users at k̂ = 0")),
    "hue_cosine_after_training": Metric(
        hue_cosine_after_training,
        lambda yes_at, partly_at: (
            f"yes: mean cos(k̂ − k*) after training at least {yes_at}; partly: at least "
            f"{partly_at}; otherwise no"
        ),
    ),
    "gap_grows_with_capacity": Metric(
        gap_grows_with_capacity,
        lambda models: (
            "yes: every size matches and the mean gap grows from each size to the next; partly: "
            "the largest size's mean gap exceeds the smallest's; otherwise no (sizes in the order "
            f"{', '.join(models)}, then by width; needs two sizes or more)"
        ),
    ),
    "colour_jitter_narrows_gap": Metric(
        colour_jitter_narrows_gap,
        lambda: (
            "yes: every colour-jitter variant's mean gap is below every other variant's; partly: "
            "below the plain learner's; otherwise no (needs the plain learner and a jitter "
            "variant)"
        ),
    ),
    "key_survives_pruning_fine_tuning": Metric(
        key_survives_pruning_fine_tuning,
        lambda yes_at, partly_at, max_accuracy_drop: (
            "counted: the (learner, user) pairs after each pruning amount and fine-tuning that "
            f"kept test accuracy within {max_accuracy_drop * 100:g} points of the trained "
            f"learner's (a model the learner would still use); yes: {_share(yes_at)} of them "
            "matched and no held-out user matched its key after such a defence; partly: "
            f"{_share(partly_at)} matched; otherwise no (the harsher defences are quoted, not "
            "counted)"
        ),
    ),
    "blue_intensities_matched": Metric(
        blue_intensities_matched,
        lambda yes_at, partly_at: (
            f"yes: {_share(yes_at)} of the (learner, user) pairs matched (|ŝ − s*| < 0.1) and no "
            f"held-out user matched; partly: {_share(partly_at)} matched; otherwise no"
        ),
    ),
    "match_drops_with_fraction": Metric(
        match_drops_with_fraction,
        lambda yes_drop: (
            f"yes: the share matched at the largest fraction is at least {yes_drop * 100:g} "
            "percentage points below the smallest fraction's; partly: below it; otherwise no "
            "(needs two fractions or more)"
        ),
    ),
    "tilted_keys_matched": Metric(
        tilted_keys_matched, _shares_bar("the (learner, user) pairs matched in their own spaces")
    ),
    "anw_vs_shadow_mia": Metric(
        anw_vs_shadow_mia,
        lambda yes_at, mia_at_most: (
            f"yes: ANW matches {_share(yes_at)} of the users and MIA-std with the user's shadow "
            f"model is at most {_pct(mia_at_most)} accurate; partly: ANW's share matched is above "
            "that MIA's accuracy; otherwise no"
        ),
    ),
    "advantage_over_mias": Metric(
        advantage_over_mias,
        lambda: (
            "yes: ANW's adv^P (eq. 7) is above every MIA's in every learner; partly: its mean over "
            "learners is above every MIA's mean; otherwise no"
        ),
    ),
    "adversary_matched": Metric(
        adversary_matched,
        lambda yes_below, partly_below: (
            f"yes: guessed colour spaces match under {_share(yes_below)} of the tries (chance "
            f"1/12); partly: under {_share(partly_below)}; otherwise no"
        ),
    ),
    "twin_test_power": Metric(
        twin_test_power,
        lambda marks, level, yes_at, partly_at: (
            f"yes: the kept-twin test finds {_share(yes_at)} of the {' and '.join(marks)} users "
            f"at p ≤ {level:g}, over every fraction and seed; partly: {_share(partly_at)}; "
            "otherwise no"
        ),
    ),
    "twin_innocent_fpr": Metric(
        twin_innocent_fpr,
        lambda level: (
            "yes: the 95 % Clopper-Pearson interval of the pooled false-positive rate over "
            f"innocent users reaches {level:g} or below (no evidence the test exceeds its level); "
            "otherwise no"
        ),
    ),
    "membership_alone_by_regime": Metric(
        membership_alone_by_regime,
        lambda level: (
            f"yes: membership alone (p ≤ {level:g}) finds every unmarked user of the smallest "
            "training set and at most half of the largest's; partly: fewer in the largest; "
            "otherwise no (needs two training-set sizes)"
        ),
    ),
    "memorisation_sign": Metric(
        memorisation_sign,
        lambda yes_at, partly_at: (
            f"yes: the user's memorisation is higher with the mark in {_share(yes_at)} of the "
            f"seeds; partly: in {_share(partly_at)}; otherwise no"
        ),
    ),
}


def bar_text(claim: Claim) -> str:
    """The claim's bar in words, from its metric's template and the claim's options, and what makes
    a verdict only indicative (fewer seeds than the claim needs; for a claim about all keys, a key
    of 30, ..., 330 that no user holds; for a claim about the paper's families of networks, Fig.
    2g, a family no record trained, or a model of fewer seeds)."""
    metric = METRICS[claim.metric]
    defaults = {
        name: p.default
        for name, p in inspect.signature(metric.compute).parameters.items()
        if p.default is not inspect.Parameter.empty
    }
    bar = metric.bar(**{**defaults, **_metric_options(claim)})
    short = f"records from fewer than {claim.seeds} seed{'s' * (claim.seeds != 1)}"
    families = claim.options.get("families")
    if families:
        short += (
            " (in all or of one model) or with no record of one of the "
            f"{len(families)} architectures ("
            + "; ".join(f"{name}: {', '.join(models)}" for name, models in families.items())
            + ")"
        )
    if claim.options.get("all_keys"):
        short += " or users that do not hold all eleven keys 30, 60, …, 330"
    return f"{bar}. With {short}, the verdict reads *indicative* (and what it would read)"


def _metric_options(claim: Claim) -> dict:
    return {k: v for k, v in claim.options.items() if k not in CELL_OPTIONS}


# ----------------------------------------------------------------------------------- the measures
@dataclass(frozen=True)
class Measure:
    """One claim in one profile (or one group of its records): the metric's outcome, what it was
    computed from, and why its verdict is only indicative (``caveats``; none: it stands).

    ``group_names`` are the (precision, ISA) groups of its records (:func:`record_group`);
    ``groups`` holds each group's own measure when their verdicts differ (empty: one group, or they
    agree and this pooled measure stands for all)."""

    outcome: Outcome
    seeds: int
    learners: int
    machines: tuple[str, ...]
    group_names: tuple[str, ...] = ()
    caveats: tuple[str, ...] = ()
    groups: tuple[Measure, ...] = ()

    @property
    def group(self) -> str:
        """The groups of its records in words: "bf16 (AVX512)", "fp32 (AVX2) and fp32 (AVX512)"."""
        return " and ".join(self.group_names)

    @property
    def verdict(self) -> str:
        """The verdict as the table gives it: the bar's, or "indicative (...)" with caveats."""
        return f"indicative ({'; '.join(self.caveats)})" if self.caveats else self.outcome.verdict


def measure(claim: Claim, records: list[dict]) -> dict[str, Optional[Measure]]:
    """The claim's measure in every profile (None: not yet measured) from its grids' records."""
    chosen = unique_learners(select_records(records, claim.select))
    return {p: measure_cell(claim, [r for r in chosen if r["profile"] == p]) for p in PROFILE_NAMES}


def measure_cell(claim: Claim, records: list[dict]) -> Optional[Measure]:
    """One profile's measure: pooled over its (precision, ISA) groups when each group alone reads
    the same verdict, else the pooled measure carrying each group's own (``groups``)."""
    pooled = _measure_records(claim, records)
    if pooled is None:
        return None
    parts = [_measure_records(claim, rs) for rs in by_group(records).values()]
    parts = [m for m in parts if m is not None]
    if len({m.outcome.verdict for m in parts}) > 1:
        return replace(pooled, groups=tuple(parts))
    return pooled


def _measure_records(claim: Claim, records: list[dict]) -> Optional[Measure]:
    outcome = METRICS[claim.metric].compute(records, **_metric_options(claim)) if records else None
    if outcome is None:
        return None
    if outcome.verdict not in VERDICTS or any(not math.isfinite(v) for v in outcome.values):
        raise AssertionError(f"metric {claim.metric} gave {outcome}")  # a bug, not bad input
    seeds = len({r["config"]["seed"] for r in records})
    return Measure(
        outcome,
        seeds,
        len(records),
        tuple(sorted({machine_label(r) for r in records})),
        tuple(by_group(records)),
        caveats(claim, records, seeds),
    )


def caveats(claim: Claim, records: list[dict], seeds: int) -> tuple[str, ...]:
    """Why a verdict from ``records`` (of ``seeds`` distinct seeds) is only indicative: fewer seeds
    than the claim needs ("2 seeds"); for a claim about all keys (``options.all_keys``; Fig.
    2d–f), keys of 30, ..., 330 no user holds ("6 of 11 keys; missing 90, 150, ..."); for a claim
    about the paper's families of networks (``options.families``; Fig. 2g), families no record
    trained ("3 of 5 architectures; missing Wide ResNet, DenseNet") and each model with fewer
    seeds than the claim needs and than the records as a whole ("resnet18: 2 seeds")."""
    found = []
    if seeds < claim.seeds:
        found.append(f"{seeds} seed{'s' * (seeds != 1)}")
    missing = missing_keys(records) if claim.options.get("all_keys") else ()
    if missing:
        found.append(
            f"{len(ALL_KEYS) - len(missing)} of {len(ALL_KEYS)} keys; missing "
            + ", ".join(f"{k:g}" for k in missing)
        )
    if claim.options.get("families"):
        lacking = missing_families(claim, records)
        if lacking:
            total = len(claim.options["families"])
            found.append(
                f"{total - len(lacking)} of {total} architectures; missing {', '.join(lacking)}"
            )
        short = min(seeds, claim.seeds)  # a cell short of seeds already says so for every model
        found += [
            f"{model}: {n} seed{'s' * (n != 1)}"
            for model, n in seeds_per_model(records).items()
            if n < short
        ]
    return tuple(found)


def spread(values: Sequence[float], fmt: str) -> str:
    """Mean ± sample standard deviation, and min–max: "+0.240 ± 0.090 std (min +0.150, max
    +0.370)"."""
    mean = format(statistics.fmean(values), fmt)
    if len(values) < 2:
        return f"{mean} (one value)"
    std = format(statistics.stdev(values), fmt.lstrip("+"))
    return f"{mean} ± {std} std (min {format(min(values), fmt)}, max {format(max(values), fmt)})"


# ------------------------------------------------------------------------------------ the document
@dataclass
class Sources:
    """Every results file the registry names: its records (None: not run yet)."""

    files: dict[str, Optional[list[dict]]] = field(default_factory=dict)
    profiles: dict[str, str] = field(default_factory=dict)
    grids: dict[str, str] = field(default_factory=dict)

    def records(self, claim: Claim) -> list[dict]:
        return [r for g in claim.grids for r in (self.files[results_path(g)] or [])]


def read_sources(claims: list[Claim], root: Path) -> Sources:
    """Read every grid's results file once (a missing file: not run yet)."""
    sources = Sources()
    jobs: dict[str, str] = {}
    for grid in dict.fromkeys(g for c in claims for g in c.grids):
        path = results_path(grid)
        data, profile = _read_grid(root / grid, grid)
        jobs[grid] = str(data.get("job", ""))
        sources.grids[grid] = path
        sources.profiles[path] = profile
        full = root / path
        records = read_results(full, root, profile) if full.is_file() else None
        sources.files[path] = records and check_current(records, data, grid)
    for c in claims:
        one_job_per_claim(c, {g: jobs[g] for g in c.grids})
    return sources


def one_job_per_claim(claim: Claim, jobs: dict[str, str]) -> None:
    """Refuse a claim whose grids run different jobs (``jobs``: grid -> its ``job``, "" for the
    sweep's own): :func:`unique_learners` counts records with the same config once, yet two jobs
    may train two learners from one config (lesson 07's tilted rotations and the paper's U(−1, 1)
    spaces do), so such a claim would silently drop one of them."""
    if len(set(jobs.values())) > 1:
        named = ", ".join(f"{g} ({j or 'the sweep job'})" for g, j in jobs.items())
        raise ReproductionError(
            f"claim {claim.id}: its grids run different jobs ({named}); records with one config "
            "may be different learners there. Give each job's grids their own claim."
        )


def check_current(records: list[dict], grid_data: dict, grid: str) -> list[dict]:
    """``records``, each checked to be one of the grid's jobs as the grid (``grid_data``: its TOML,
    already read) and its profile read today (``sweep.parse_grid``). A record whose config is not
    (the profile or the grid changed since it was measured) raises :class:`ReproductionError`: old
    and new learners must never be counted together (CONTRIBUTING.md, "Changing a profile")."""
    import contextlib
    import io
    import warnings

    from tools import sweep

    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            jobs = sweep.parse_grid(grid_data, grid).jobs
        except sweep.GridError as exc:
            raise ReproductionError(str(exc)) from None
    current = [json.loads(json.dumps(job.config.flat())) for job in jobs]
    for r in records:
        if r["config"] not in current:
            raise ReproductionError(
                f"{r['_where']}: its config is none of {grid}'s jobs today (the grid or its "
                "profile changed since it was measured); move the old records aside and rerun "
                "the grid."
            )
    return records


def _read_grid(path: Path, rel: str) -> tuple[dict, str]:
    """A grid's TOML (read once: :func:`check_current` parses its jobs from it) and its profile."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ReproductionError(f"{rel} is not valid TOML: {exc}.") from None
    profile = data.get("profile")
    if profile not in PROFILE_NAMES:
        raise ReproductionError(
            f"{rel}: profile {profile!r} is not one of {', '.join(PROFILE_NAMES)}."
        )
    return data, profile


def generate(claims_path: Path = DEFAULT_CLAIMS, root: Path = ROOT, out: Path = DEFAULT_OUT) -> str:
    """The text of docs/reproduction.md from the registry and the results files it names."""
    claims = load_claims(claims_path, root)
    sources = read_sources(claims, root)
    measures = {c.id: measure(c, sources.records(c)) for c in claims if c.grids}
    link = _Linker(root, out)
    parts = [_header(claims_path, root, sources, link), _summary(claims, measures, link)]
    parts += [_details(c, measures.get(c.id), link) for c in claims]
    seeds = [r for g in lesson_checks.SEED_GRIDS for r in sources.files.get(results_path(g)) or []]
    parts.append(lesson_checks.table(unique_learners(seeds)))
    return "\n".join(parts)


class _Linker:
    """Relative links from the output file's folder to files of the repository."""

    def __init__(self, root: Path, out: Path) -> None:
        self.root, self.folder = root, out.resolve().parent

    def __call__(self, rel: str, text: Optional[str] = None) -> str:
        target = os.path.relpath(self.root.resolve() / rel, self.folder)
        return f"[{text or rel}]({Path(target).as_posix()})"

    def lesson(self, lesson: str) -> str:
        py = _lesson_path(lesson, self.root, "lesson link")
        return self(str(py.with_suffix(".ipynb").relative_to(self.root)), f"lesson {lesson}")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _header(claims_path: Path, root: Path, sources: Sources, link: _Linker) -> str:
    rows = []
    for grid, path in sources.grids.items():
        records = sources.files[path]
        if records is None:
            state = f"`{path}`: not run yet"
        else:
            state = f"{link(path)}: {len(records)} record{'s' * (len(records) != 1)}"
        rows.append(f"| {link(grid)} | `{sources.profiles[path]}` | {state} |")
    return "\n".join(
        [
            f"<!-- Generated by `{COMMAND}`: do not edit by hand. Edit "
            f"{_rel(claims_path, root)} or rerun a sweep, then run the command again. -->",
            "",
            "# Reproduction: the paper's claims and the course's runs",
            "",
            f"**Generated** by `{COMMAND}` from the claims registry "
            f"{link(_rel(claims_path, root))} and the sweep results below; **do not edit by "
            f"hand**. `{COMMAND} --check` fails when this file is stale (a fast test runs it).",
            "",
            "One row per claim of Zou, Gong & Wang, *Anti-Neuron Watermarking* (ECCV 2022): the "
            "paper's number, then for each compute profile the verdict by the claim's bar, the "
            "course's number, the mean ± sample standard deviation and the min and max of the "
            "values behind it, the number of seeds (learners), and the machines the records came "
            "from. A verdict from fewer seeds than its claim needs "
            f"({DEFAULT_SEEDS} unless it says otherwise), or, for a claim about all keys, from "
            "users that do not hold all eleven keys, or, for a claim about the paper's families "
            "of networks, from records that lack a family or a model of fewer seeds, reads "
            "*indicative* with the reason and what "
            "the bar alone would read. Records of another training precision or instruction set "
            "(bf16 or fp32; fp32 on AVX2 or on AVX-512) are measured apart: where their verdicts "
            "differ the cell gives each on its own line, where they agree it gives the pooled "
            f"result and names them. A profile with no records for a claim says *{NOT_MEASURED}*: "
            "no number here is typed or projected. Grids run with "
            "`python -m tools.sweep GRID.toml`, which appends to `GRID.jsonl`; a learner "
            "found in two grids' results counts once.",
            "",
            "| grid | profile | results |",
            "|---|---|---|",
            *rows,
            "",
        ]
    )


def _summary(
    claims: list[Claim], measures: dict[str, dict[str, Optional[Measure]]], link: _Linker
) -> str:
    head = "| claim | the paper | " + " | ".join(f"`{p}`" for p in PROFILE_NAMES) + " | lessons |"
    rows = [head, "|---" * (len(PROFILE_NAMES) + 3) + "|"]
    for c in claims:
        by_profile = measures.get(c.id, {})
        cells = [_short(by_profile.get(p)) for p in PROFILE_NAMES]
        lessons = ", ".join(link.lesson(n) for n in c.lessons)
        rows.append(
            f"| [{_cell(c.where)}](#{c.id}): {_cell(c.title)} | {_cell(c.paper_number)} | "
            + " | ".join(cells)
            + f" | {lessons} |"
        )
    return "\n".join(["## Summary", "", *rows, ""])


def _short(m: Optional[Measure]) -> str:
    if m is None:
        return NOT_MEASURED
    if m.groups:
        return "<br>".join(_cell(f"{g.group}: {_reading(g)}; {_evidence(g)}") for g in m.groups)
    return _cell(f"{_reading(m)}; {_evidence(m)}; {'; '.join(m.machines)}{_pooled(m)}")


def _evidence(m: Measure) -> str:
    o = m.outcome
    return (
        f"{o.quantity} {spread(o.values, o.fmt)}; {m.seeds} seed{'s' * (m.seeds != 1)} "
        f"({m.learners} learner{'s' * (m.learners != 1)})"
    )


def verdict_text(m: Measure) -> str:
    """The verdict in bold, and what the bar alone would read when it is only indicative:
    "**indicative (2 seeds)**: would read yes"."""
    if m.caveats:
        return f"**{m.verdict}**: would read {m.outcome.verdict}"
    return f"**{m.verdict}**"


def _reading(m: Measure) -> str:
    return f"{verdict_text(m)}{'; ' if m.caveats else ': '}{m.outcome.number}"


def _pooled(m: Measure) -> str:
    return f"; pooled over {m.group}, which agree" if len(m.group_names) > 1 else ""


def _details(c: Claim, by_profile: Optional[dict[str, Optional[Measure]]], link: _Linker) -> str:
    lines = [
        f'<a id="{c.id}"></a>',
        "",
        f"## {c.where}: {c.title}",
        "",
        f"**The paper** ({c.where}): {c.quote.strip()}",
        "",
        f"**The paper's number:** {c.paper_number}",
        "",
    ]
    if c.grids:
        grids = ", ".join(f"{link(g)} → `{results_path(g)}`" for g in c.grids)
        which = f"; the records of {_select_text(c.select)}" if c.select else ""
        lines += [
            f"**Measured by:** {grids}{which}.",
            "",
            f"**The course's number:** `{c.metric}` (tools/reproduction.py): "
            f"{_flat(METRICS[c.metric].compute.__doc__)}",
            "",
            f"**Reproduces when:** {bar_text(c)}.",
            "",
        ]
    else:
        lines += [f"**Not measured by any sweep yet:** {c.needs.strip()}", ""]
    if c.note:
        lines += [f"**Note:** {c.note.strip()}", ""]
    lines += [f"**Taught in:** {', '.join(link.lesson(n) for n in c.lessons)}.", ""]
    measured = {p: m for p, m in (by_profile or {}).items() if m is not None}
    if measured:
        lines += [
            "| profile | precision (ISA) | reproduces | the course's number | mean ± std "
            "(min, max) | seeds (learners) | machines |",
            "|---|---|---|---|---|---|---|",
        ]
        for p, m in measured.items():
            lines += [_detail_row(p, g) for g in m.groups or (m,)]
        lines.append("")
    missing = [f"`{p}`" for p in PROFILE_NAMES if p not in measured]
    if missing:
        lines += [f"*{NOT_MEASURED.capitalize()}:* {', '.join(missing)}.", ""]
    return "\n".join(lines)


def _detail_row(profile: str, m: Measure) -> str:
    o = m.outcome
    group = f"{m.group}: pooled, they agree" if len(m.group_names) > 1 else m.group
    return (
        f"| `{profile}` | {_cell(group)} | {_cell(verdict_text(m))} | {_cell(o.number)} | "
        f"{_cell(o.quantity)}: {_cell(spread(o.values, o.fmt))} | {m.seeds} ({m.learners}) | "
        f"{_cell('; '.join(m.machines))} |"
    )


def _select_text(select: dict) -> str:
    words = {
        "users": "learners with {} users",
        "min_photos": "users of at least {} photos",
        "max_photos": "users of at most {} photos",
        "watermarked_fraction_min": "learners where at least a fraction {} of the users watermark",
        "watermarked_fraction_max": "learners where at most a fraction {} of the users watermark",
        "color_spaces": "colour spaces {} (yiq: one LCT for all; own: each user's own)",
    }
    parts = [words[k].format(v) for k, v in select.items() if k in words]
    parts += [f"{k} = {v!r}" for k, v in select.get("config", {}).items()]
    return ", ".join(parts)


def _flat(doc: Optional[str]) -> str:
    return " ".join((doc or "").split())


def _rel(path: Path, root: Path) -> str:
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


# ---------------------------------------------------------------------------------- command line
def main(argv: Optional[Sequence[str]] = None) -> int:
    """Write (or ``--check``) docs/reproduction.md; 0 done or up to date, 1 stale, 2 bad input."""
    p = argparse.ArgumentParser(
        prog=COMMAND, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="default: docs/reproduction.md")
    p.add_argument("--claims", type=Path, default=DEFAULT_CLAIMS, help="default: tools/claims.toml")
    p.add_argument("--root", type=Path, default=ROOT, help="the repository (paths are relative)")
    p.add_argument("--check", action="store_true", help="exit 1 if --out differs; write nothing")
    args = p.parse_args(argv)
    try:
        text = generate(args.claims, args.root, args.out)
    except ReproductionError as exc:
        print(f"reproduction: {exc}", file=sys.stderr)
        return 2
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.is_file() else None
        if current != text:
            state = "missing" if current is None else "stale"
            print(
                f"reproduction: {args.out} is {state}; regenerate it with {COMMAND}"
                + ("" if args.out == DEFAULT_OUT else f" --out {args.out}"),
                file=sys.stderr,
            )
            return 1
        print(f"{args.out} is up to date.")
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
