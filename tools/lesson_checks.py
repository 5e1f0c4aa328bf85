"""The lessons' asserts against the recorded seeds: one table of docs/reproduction.md.

A lesson may assert an outcome of training only where every recorded learner of its recipe, in
every recorded precision and instruction set, shows it (issue 25): fp32 on AVX2, fp32 on AVX-512
and bf16 on AMX give different numbers for the same seed. Each row below is one assert of lessons
03 and 04 (or a property the lesson prints rather than asserts), counted over the records of the
seed grids (``tools.sweep.lesson_checks`` measures them), one column per machine and
precision. ``python -m tools.reproduction`` writes the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Callable, Optional

from anw_helpers.verify import DEFAULT_TAU, circular_distance, match
from tools.sweep import GRADIENT_CONVERGED

#: The seed grids of lesson 03's learner, whose records carry the lesson checks.
SEED_GRIDS = (
    "tools/grids/ci_seeds.toml",
    "tools/grids/cpu_seeds.toml",
    "tools/grids/cpu_seeds_avx2.toml",
)
#: The lessons' thresholds on the learner's accuracies (lesson 03, section 4).
TRAIN_ACCURACY_OVER, TEST_ACCURACY_OVER = 0.90, 0.40


@dataclass(frozen=True)
class LessonCheck:
    """One lesson assert: where it is, what it asks, and the value each record gives it.

    ``value`` returns (holds, the number behind it) for one record, or None when the record does
    not measure it (records written before the sweep measured lesson checks). ``asserted`` is False
    for a property the lesson prints instead: it did not hold on every record.
    """

    lesson: str
    what: str
    value: Callable[[dict], Optional[tuple[bool, float]]]
    fmt: str  # "" for a yes/no check: its count alone
    asserted: bool = True


def _checks(r: dict) -> dict:
    return r.get("lesson_checks") or {}


def _margin(name: str) -> Callable[[dict], Optional[tuple[bool, float]]]:
    def value(r: dict) -> Optional[tuple[bool, float]]:
        x = _checks(r).get(name)
        return None if x is None else (x > 0, x)

    return value


def _flag(name: str, want: bool) -> Callable[[dict], Optional[tuple[bool, float]]]:
    def value(r: dict) -> Optional[tuple[bool, float]]:
        x = _checks(r).get(name)
        return None if x is None else (bool(x) == want, float(bool(x)))

    return value


def _user_matched(r: dict) -> tuple[bool, float]:
    return bool(r["match"][0]), r["gap"][0]


def _held_out_not_at_key(r: dict) -> tuple[bool, float]:
    d = float(circular_distance(r["held_out_k_hat"], r["held_out_key"]))
    return d >= DEFAULT_TAU, d


def _no_verdict_for_key(r: dict) -> Optional[tuple[bool, float]]:
    c = _checks(r)
    if "held_out_verdict_conclusive" not in c:
        return None
    at_key = match(c["held_out_verdict_k_hat"], r["held_out_key"])
    return not (c["held_out_verdict_conclusive"] and at_key), c["held_out_verdict_k_hat"]


def _gradient(r: dict) -> Optional[tuple[bool, float]]:
    d = _checks(r).get("gradient_distance")
    return None if d is None else (d < GRADIENT_CONVERGED, d)


CHECKS: tuple[LessonCheck, ...] = (
    LessonCheck(
        "03",
        f"training accuracy > {TRAIN_ACCURACY_OVER:.2f}",
        lambda r: (r["train_accuracy"] > TRAIN_ACCURACY_OVER, r["train_accuracy"]),
        ".3f",
    ),
    LessonCheck(
        "03",
        f"test accuracy > {TEST_ACCURACY_OVER:.2f} (chance + 0.30)",
        lambda r: (r["test_accuracy"] > TEST_ACCURACY_OVER, r["test_accuracy"]),
        ".3f",
    ),
    LessonCheck(
        "03", "user's loss: clean minus at k* > 0", _margin("user_loss_clean_minus_key"), "+.3f"
    ),
    LessonCheck(
        "03, 04",
        "held-out user's loss: at their key minus clean > 0",
        _margin("held_out_loss_key_minus_clean"),
        "+.3f",
    ),
    LessonCheck("04", "user matched: k_hat within tau of k* (loss gap)", _user_matched, "+.3f"),
    LessonCheck(
        "04", "held-out user not matched to their key (degrees away)", _held_out_not_at_key, ".0f"
    ),
    LessonCheck("04", "user's verdict conclusive", _flag("user_verdict_conclusive", True), ""),
    LessonCheck(
        "04",
        "held-out user: no conclusive verdict for their key (their k_hat)",
        _no_verdict_for_key,
        ".0f",
    ),
    LessonCheck(
        "04",
        "held-out user's verdict conclusive (printed: an innocent's may well be inconclusive)",
        _flag("held_out_verdict_conclusive", True),
        "",
        asserted=False,
    ),
    LessonCheck(
        "04",
        f"gradient search ends within {GRADIENT_CONVERGED:g}° of k* (degrees; printed: it did not "
        "on every seed)",
        _gradient,
        ".1f",
        asserted=False,
    ),
)


def column(r: dict) -> str:
    """A record's column: its precision and, on a CPU, the instruction set its fp32 kernels used."""
    m = r["machine"]
    where = m.get("gpu") or (m.get("cpu") or "unknown CPU")
    isa = "" if m.get("gpu") else f" ({m['isa']})" if m.get("isa") else " (ISA not recorded)"
    return f"`{r['profile']}` {r['precision']}, {where}{isa}"


def _cell(check: LessonCheck, records: Sequence[dict]) -> str:
    values = [v for v in (check.value(r) for r in records) if v is not None]
    if not values:
        return "not recorded"
    held = sum(ok for ok, _ in values)
    numbers = [x for _, x in values]
    text = f"{held}/{len(values)}"
    if check.fmt:
        lo, hi = format(min(numbers), check.fmt), format(max(numbers), check.fmt)
        text += f" ({lo})" if lo == hi else f" ({lo} … {hi})"
    return f"**{text}**" if held < len(values) else text


def table(records: Sequence[dict]) -> str:
    """The Markdown section: one row per lesson check, one column per machine and precision."""
    groups: dict[str, list[dict]] = {}
    for r in records:
        groups.setdefault(column(r), []).append(r)
    names = sorted(groups)
    if not names:
        return '<a id="lesson-checks"></a>\n\n## Lesson checks over the recorded seeds\n\n' + (
            "*Not yet measured:* no seed grid has records.\n"
        )
    head = "| lesson | check | in the lesson | " + " | ".join(names) + " |"
    rows = [head, "|" + "---|" * (3 + len(names))]
    for c in CHECKS:
        cells = " | ".join(_cell(c, groups[n]) for n in names)
        how = "asserted" if c.asserted else "printed"
        rows.append(f"| {c.lesson} | {c.what} | {how} | {cells} |")
    return "\n".join(
        [
            '<a id="lesson-checks"></a>',
            "",
            "## Lesson checks over the recorded seeds",
            "",
            "Each row is an assert of lessons 03 and 04 (or a property they print instead), "
            "counted over the learners of the seed grids: how many records it held on, then the "
            "smallest and largest value behind it. A lesson asserts an outcome only where it held"
            " on every record of every column; **bold** marks a count where it did not. The "
            "columns split records by training precision and, on a CPU, by the instruction set of"
            " the fp32 kernels (`torch.backends.cpu.get_cpu_capability()`), since each gives "
            "other numbers for the same seed. *Not recorded*: records from before the sweep "
            "measured lesson checks. Written by `tools/lesson_checks.py`.",
            "",
            *rows,
            "",
        ]
    )
