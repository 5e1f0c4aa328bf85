"""The result tables the lessons print, as Markdown strings (no pandas): a lesson shows one with
``display(Markdown(plots.results_table(rows)))``.

Each function only formats what the lesson measured; nothing here computes a result. Rows are the
plain dicts or tuples the lessons build (their keys are listed in each docstring).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import torch

__all__ = [
    "markdown_table",
    "yes_no",
    "mean_sd",
    "settings_list",
    "verdict_table",
    "cost_table",
    "capacity_table",
    "variants_table",
    "results_table",
    "matching_table",
    "PAPER_TABLE1",
    "tracing_table",
    "comparison_table",
]


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table: one header line, the separator, one line per row (cells as given)."""
    if not header:
        raise ValueError("markdown_table needs at least one column.")
    bad = [len(r) for r in rows if len(r) != len(header)]
    if bad:
        raise ValueError(f"every row needs {len(header)} cells; got rows of {bad} cells.")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def yes_no(match: bool) -> str:
    """A match cell: "yes", or a bold "**no**" so that misses stand out."""
    return "yes" if match else "**no**"


def mean_sd(values) -> str:
    """ "+0.123 ± 0.045": the mean and standard deviation of a sample (Table 1's cells)."""
    x = torch.as_tensor(values)
    x = x if x.is_floating_point() else x.double()
    return f"{x.mean():+.3f} ± {x.std():.3f}"


def settings_list(config: object, names: Collection[str], separator: str = "\n  ") -> str:
    """``name = value`` for each of ``names`` among a config's fields, in the config's order."""
    return separator.join(f"{k} = {v}" for k, v in vars(config).items() if k in names)


# ---------------------------------------------------------------------------------------- lesson 05
def verdict_table(rows: Sequence[Mapping]) -> str:
    """Lesson 05: each user's verdict next to how well the learner fits their photos. Row keys:
    user, photos, key, k_hat, match, gap, train_loss, fitted (a share)."""
    return markdown_table(
        ["user", "photos", "k*", "k̂", "match", "gap", "training loss at k*", "photos fitted"],
        [
            (
                r["user"],
                r["photos"],
                f"{r['key']:g}",
                f"{r['k_hat']:g}",
                yes_no(r["match"]),
                f"{r['gap']:+.3f}",
                f"{r['train_loss']:.3f}",
                f"{r['fitted']:.0%}",
            )
            for r in rows
        ],
    )


def cost_table(rows: Sequence[tuple[str, float, float, bool]], profile_name: str) -> str:
    """Lesson 05: per architecture (name, training images/s here, minutes of one training of the
    profile, trained in this profile?)."""
    return markdown_table(
        [
            "model",
            "training images/s here",
            f"one `{profile_name}` training",
            "trained in this profile",
        ],
        [(n, f"{ips:,.0f}", f"{m:,.0f} min", "yes" if t else "no") for n, ips, m, t in rows],
    )


def capacity_table(rows: Sequence[Mapping]) -> str:
    """Lesson 05, Fig. 2g-h: each network's fit next to eq. 6's verdict. Row keys: model,
    train_acc, test_acc, train_loss, k_hat, match, gap."""
    return markdown_table(
        [
            "model",
            "training accuracy",
            "test accuracy",
            "user's training loss at k*",
            "k̂",
            "match",
            "gap",
        ],
        [
            (
                r["model"],
                f"{r['train_acc']:.3f}",
                f"{r['test_acc']:.3f}",
                f"{r['train_loss']:.3f}",
                f"{r['k_hat']:g}",
                yes_no(r["match"]),
                f"{r['gap']:+.3f}",
            )
            for r in rows
        ],
    )


# ---------------------------------------------------------------------------------------- lesson 06
def variants_table(
    variants: Mapping[str, tuple[Mapping, str]],
    trained_in: Mapping[str, Sequence[str]],
    to_train: Collection[str],
) -> str:
    """Lesson 06: each defence variant (name -> (config changes, what the paper cites)), the
    profiles that train it, and whether this run trains it."""
    return markdown_table(
        ["variant", "settings", "paper", "trained in", "here"],
        [
            (
                name,
                f"`{changes}`",
                cite,
                ", ".join(trained_in[name]),
                "**trained**" if name in to_train else "skipped (see the profiles)",
            )
            for name, (changes, cite) in variants.items()
        ],
    )


def results_table(results: Sequence[Mapping]) -> str:
    """Lesson 06: one row per variant. Row keys: variant, kind, acc, k_hat, match, gap, note."""
    return markdown_table(
        ["variant", "kind", "test acc", "k_hat", "match", "gap", "note"],
        [
            (
                r["variant"],
                r["kind"],
                f"{r['acc']:.3f}",
                f"{r['k_hat']:g}",
                yes_no(r["match"]),
                f"{r['gap']:+.3f}",
                r["note"],
            )
            for r in results
        ],
    )


# ---------------------------------------------------------------------------------------- lesson 07
def matching_table(rows: Sequence[Sequence[float]]) -> str:
    """Lesson 07, Fig. 5a: rows (f, same LCT, own LCT, adversary) of matching accuracies."""
    return markdown_table(
        ["f", "same LCT", "own LCT", "adversary (arbitrary LCT)"],
        [(f"{f:.1f}", f"{s:.2f}", f"{o:.2f}", f"{a:.2f}") for f, s, o, a in rows],
    )


# ---------------------------------------------------------------------------------------- lesson 08
#: The paper's Table 1 (cosines, mean ± std), shown in italics under the run's rows.
PAPER_TABLE1 = (
    ("*paper, dataset tracing (0.1 % marked)*", "*-0.005 ± 0.030*", "*-0.005 ± 0.015*", ""),
    ("*paper, watermark*", "*0.045 ± 0.52*", "*0.999 ± 0.001*", ""),
)


def tracing_table(initial, marked, unmarked, hue_before, hue_after) -> str:
    """Lesson 08, Table 1: cos(w_c, u_c) per class for radioactive data (at initialisation, trained
    with the marked photos, trained with them unmarked) and cos(k_hat - k*) per user for the
    watermark (never-seen users before, trained-on users after), next to the paper's values."""
    rows = [
        (
            f"dataset tracing: cos($w_c$, $u_c$), {len(marked)} classes",
            mean_sd(initial),
            mean_sd(marked),
            f"unmarked: {mean_sd(unmarked)}",
        ),
        (
            f"watermark: cos($\\hat k - k^*$), {len(hue_after)} users",
            f"{mean_sd(hue_before)} (never seen)",
            mean_sd(hue_after),
            "",
        ),
    ]
    header = ["Table 1 (this run)", "before training", "after training", "control"]
    return markdown_table(header, rows + list(PAPER_TABLE1))


def comparison_table(
    anw_matches,
    false_matches,
    mias: Sequence[tuple[object, str, str]],
    advantage: Mapping[str, float],
    normalised: Mapping[str, float],
    hue_after,
    tracing_after,
    n_marked: int,
    memorisation: tuple[float, float, str],
    watermark_name: str = "ANW (p = 1/12)",
) -> str:
    """Lesson 08, section 6: every method side by side, then the memorisation line.

    Args:
        anw_matches: one bool per watermarking user (eq. 6 matched her key).
        false_matches: one bool per innocent (never-seen) user with the same key.
        mias: per MIA, (its ``membership.MIAResult``, what the user needs, a note or "").
        advantage, normalised: method name -> adv^P of eq. 7 and its normalised form; the
            watermark's entry is under ``watermark_name``, each MIA's under its ``name``.
        hue_after: cos(k_hat - k*) per trained-on user; tracing_after: cos(w_c, u_c) per class
            of the learner trained with the marked photos; n_marked: how many photos were marked.
        memorisation: (watermarked - clean mean mem, its standard error, the estimate's label).
    """

    def adv(name: str) -> str:
        return f"{advantage[name]:+.2f} ({normalised[name]:+.2f})"

    n, n_innocent = len(anw_matches), len(false_matches)
    rows = [
        (
            "Watermark (ANW)",
            "only her own photos and key",
            f"{int(sum(anw_matches))}/{n} users matched ({int(sum(false_matches))} false "
            f"matches of {n_innocent} innocent)",
            adv(watermark_name),
            f"cos = {mean_sd(hue_after)}",
        )
    ]
    for result, needs, note in mias:
        outcome = f"accuracy {result.accuracy:.0%}" + (f" ({note})" if note else "")
        rows.append((result.name, needs, outcome, adv(result.name), ""))
    rows.append(
        (
            "Radioactive data",
            f"a public extractor; marks {n_marked} photos",
            "",
            "",
            f"cos = {mean_sd(tracing_after)}",
        )
    )
    difference, error, label = memorisation
    header = ["method", "what the user needs", "result", "adv$^P$ (eq. 7) (normalised)"]
    return (
        markdown_table(header + ["Table 1 cosine"], rows)
        + f"\n\nMemorisation (Sec. 5.6), {label}: watermarked − clean = {difference:+.2f} ± "
        f"{error:.2f} (paper: +0.08)."
    )
