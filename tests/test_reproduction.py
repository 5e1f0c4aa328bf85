"""docs/reproduction.md, generated from the sweep's records by tools/reproduction.py (issue 17).

Synthetic records are written by the sweep's own ``run_job`` (so in exactly its format), with the
training and eq. 6 replaced by stand-ins that return chosen k_hat and loss gaps.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from anw_helpers import verify
from anw_helpers.profiles import (
    DEFENCE_VARIANTS,
    HIGH_RES,
    PROFILES,
    get_profile,
    many_users_config,
    multi_user_config,
)
from tools import reproduction as rp
from tools import sweep
from tools.sweep import tomllib

ROOT = Path(__file__).resolve().parent.parent
SLOTS = [float(k) for k in range(0, 360, 30)]


# --------------------------------------------------------------------- records from sweep.run_job
def _losses(k_hat: float, depth: float) -> torch.Tensor:
    """Twelve grid losses with the minimum, ``depth`` below the rest, at ``k_hat``."""
    losses = torch.full((len(SLOTS),), 2.0, dtype=torch.float64)
    losses[SLOTS.index(k_hat)] -= depth
    return losses


def write_record(
    monkeypatch,
    results: Path,
    *,
    seed: int,
    keys,
    k_hat,
    depth,
    sizes=None,
    held: float = 0.0,
    profile: str = "ci",
    precision: str = "fp32",
    isa=None,
    **changes,
) -> dict:
    """Append one record through ``sweep.run_job``: users with ``keys`` (None: no watermark) get
    ``k_hat`` with a loss minimum ``depth`` deep (gap +depth on a match, -depth on a miss), trained
    in ``precision`` on a CPU with instruction set ``isa`` (None: this machine's)."""
    keys = tuple(None if k is None else float(k) for k in keys)
    sizes = tuple(sizes or (50,) * len(keys))
    seeds = changes.pop("color_space_seeds", (None,) * len(keys))
    config = get_profile(profile).config.with_(
        seed=seed, keys=keys, user_sizes=sizes, color_space_seeds=seeds, **changes
    )
    users = [_User(f"user {i}", k, n) for i, (k, n) in enumerate(zip(keys, sizes))]
    held_user = SimpleNamespace(key=keys[0], clean=lambda: None, labels=None, color_space=None)
    record = SimpleNamespace(
        train_accuracy=0.97,
        test_accuracy=0.61,
        user_accuracy=0.98,
        images_per_second=1000.0,
        epoch_seconds=[1.0, 2.0],
        device="cpu",
        precision=precision,
    )
    learner = SimpleNamespace(
        model=None,
        data=SimpleNamespace(users=users, held_out=held_user),
        record=record,
        from_cache=False,
    )
    verdicts = verify.UserVerdicts(
        [u.name for u in users],
        torch.tensor([float("nan") if k is None else k for k in keys], dtype=torch.float64),
        torch.tensor(SLOTS, dtype=torch.float64),
        torch.stack([_losses(h, d) for h, d in zip(k_hat, depth)]),
    )
    monkeypatch.setattr("anw_helpers.train.train_learner", lambda *a, **k: learner)
    monkeypatch.setattr(verify, "verify_users", lambda *a, **k: verdicts)
    monkeypatch.setattr(
        verify,
        "grid_search",
        lambda *a, **k: verify.SearchResult(torch.tensor(SLOTS), _losses(held, 0.5)),
    )
    monkeypatch.setattr(sweep, "lesson_checks", lambda *a: dict(LESSON_CHECKS))
    if isa is not None:
        here = sweep.machine()
        monkeypatch.setattr(sweep, "machine", lambda: {**here, "isa": isa})
    return sweep.run_job(config, str(results), profile, f"seed={seed}")


LESSON_CHECKS = {
    "user_loss_clean_minus_key": 0.3,
    "held_out_loss_key_minus_clean": 0.8,
    "user_verdict_conclusive": True,
    "held_out_verdict_conclusive": False,
    "held_out_verdict_k_hat": 0.0,
    "gradient_distance": 1.5,
}


class _User:
    def __init__(self, name: str, key, size: int) -> None:
        self.name, self.key, self.size = name, key, size

    def __len__(self) -> int:
        return self.size


# --------------------------------------------------------------------------- a registry in tmp
GRID = 'profile = "{profile}"\n[zip]\nseed = [0]\n'


@pytest.fixture(autouse=True)
def _any_config(request, monkeypatch):
    """The synthetic records below vary their config freely under one tiny grid; the check that a
    record is one of its grid's jobs today has its own tests (marked ``current_configs``)."""
    if "current_configs" not in request.keywords:
        monkeypatch.setattr(rp, "check_current", lambda records, path, grid: records)


@pytest.mark.current_configs
def test_a_record_measured_before_its_grid_changed_is_refused(tmp_path):
    grid = tomllib.loads('profile = "ci"\n[zip]\nseed = [0, 1]\n')
    jobs = sweep.parse_grid(grid).jobs
    records = [{"config": jobs[i].config.flat(), "_where": f"g.jsonl line {i + 1}"} for i in (0, 1)]
    records = [{**r, "config": json.loads(json.dumps(r["config"]))} for r in records]
    assert rp.check_current(records, grid, "g.toml") == records
    stale = {**records[1], "config": {**records[1]["config"], "epochs": 39}}  # ci changed since
    with pytest.raises(rp.ReproductionError, match="g.jsonl line 2: its config is none of g.toml"):
        rp.check_current([records[0], stale], grid, "g.toml")
    with pytest.raises(rp.ReproductionError, match="g.toml: .*same learner"):
        rp.check_current(records, {**grid, "zip": {"seed": [0, 0]}}, "g.toml")


@pytest.mark.current_configs
def test_every_committed_record_is_one_of_its_grids_jobs_today():
    claims = rp.load_claims(rp.DEFAULT_CLAIMS, ROOT)
    sources = rp.read_sources(claims, ROOT)  # raises on a stale record
    assert sum(len(r or []) for r in sources.files.values()) > 0


def make_root(tmp_path: Path, claims: str, grids=("ci",)) -> Path:
    """A repository in tmp: a lesson, one grid per profile (tools/grids/<profile>.toml), claims."""
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "05_demo.py").write_text("# %% [markdown]\n# demo\n")
    (tmp_path / "tools" / "grids").mkdir(parents=True)
    for profile in grids:
        (tmp_path / "tools" / "grids" / f"{profile}.toml").write_text(GRID.format(profile=profile))
    (tmp_path / "tools" / "claims.toml").write_text(claims)
    return tmp_path


def claim(id="demo", grids=("ci",), metric="keys_matched", extra="") -> str:
    names = ", ".join(f'"tools/grids/{g}.toml"' for g in grids)
    return (
        f'[[claim]]\nid = "{id}"\ntitle = "a demo"\nwhere = "Fig. 0"\nquote = "words"\n'
        f'paper_number = "all"\nlessons = ["05"]\ngrids = [{names}]\nmetric = "{metric}"\n{extra}'
    )


def generate(root: Path) -> str:
    return rp.generate(root / "tools" / "claims.toml", root, root / "docs" / "reproduction.md")


def measures(root: Path) -> dict:
    claims = rp.load_claims(root / "tools" / "claims.toml", root)
    sources = rp.read_sources(claims, root)
    return {c.id: rp.measure(c, sources.records(c)) for c in claims}


def results(root: Path, profile: str = "ci") -> Path:
    return root / "tools" / "grids" / f"{profile}.jsonl"


# ------------------------------------------------------------------------- numbers and verdicts
def test_a_record_written_by_the_sweep_reads_back_whole(tmp_path, monkeypatch):
    r = write_record(monkeypatch, tmp_path / "r.jsonl", seed=0, keys=[60], k_hat=[60], depth=[0.2])
    assert r["match"] == [True] and r["gap"] == [pytest.approx(0.2)] and r["held_out_at_zero"]
    (back,) = rp.read_results(tmp_path / "r.jsonl", tmp_path, "ci")
    assert back["k_hat"] == [60.0] and back["_where"] == "r.jsonl line 1"
    assert rp.machine_label(back).endswith(", fp32") and r["machine"]["cpu"] in rp.machine_label(
        back
    )


def test_keys_matched_gives_the_share_the_gaps_and_the_verdict(tmp_path, monkeypatch):
    root = make_root(tmp_path, claim(extra="options = { yes_at = 1.0, partly_at = 0.5 }\n"))
    for seed, key, k_hat, depth in [(0, 60, 60, 0.2), (1, 210, 210, 0.3), (2, 300, 270, 0.1)]:
        write_record(
            monkeypatch, results(root), seed=seed, keys=[key], k_hat=[k_hat], depth=[depth]
        )
    m = measures(root)["demo"]["ci"]
    assert m.outcome.verdict == "partly"  # 2 of 3: below the bar of all, above half
    assert m.outcome.number == "2 of 3 users matched (3 keys)"
    assert m.outcome.values == pytest.approx((0.2, 0.3, -0.1))
    assert (m.seeds, m.learners) == (3, 3)
    assert rp.spread(m.outcome.values, m.outcome.fmt) == (
        "+0.133 ± 0.208 std (min -0.100, max +0.300)"
    )
    assert all(measures(root)["demo"][p] is None for p in ("cpu", "colab", "gpu", "paper"))
    text = generate(root)
    row = next(line for line in text.splitlines() if line.startswith("| [Fig. 0](#demo)"))
    cells = [c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]]
    assert cells[2].startswith(
        "**partly**: 2 of 3 users matched (3 keys); loss gap +0.133 ± 0.208 std"
    )
    assert "3 seeds (3 learners)" in cells[2] and ", fp32" in cells[2]
    assert cells[3:7] == ["not yet measured"] * 4
    assert "yes: all of the (learner, user) pairs matched; partly: at least 50 %" in text


def test_every_key_matched_is_yes_and_users_are_selected_by_size(tmp_path, monkeypatch):
    root = make_root(tmp_path, claim(extra="select = { min_photos = 10 }\n"))
    write_record(  # a 2-photo user who misses does not count for users of 10 photos or more
        monkeypatch,
        results(root),
        seed=0,
        keys=[60, 150, 240],
        sizes=[50, 10, 2],
        k_hat=[60, 150, 90],
        depth=[0.2, 0.1, 0.05],
    )
    m = measures(root)["demo"]["ci"]
    assert m.outcome.verdict == "yes" and m.outcome.number == "2 of 2 users matched (2 keys)"


def test_users_without_a_key_are_not_counted(tmp_path, monkeypatch):
    root = make_root(tmp_path, claim())
    write_record(
        monkeypatch, results(root), seed=0, keys=[60, None], k_hat=[60, 0], depth=[0.2, 0.3]
    )
    assert measures(root)["demo"]["ci"].outcome.number == "1 of 1 users matched (1 key)"


def test_held_out_users_at_zero(tmp_path, monkeypatch):
    root = make_root(tmp_path, claim(metric="held_out_at_zero"))
    for seed, held in [(0, 0.0), (1, 330.0), (2, 0.0), (3, 0.0)]:
        write_record(
            monkeypatch, results(root), seed=seed, keys=[60], k_hat=[60], depth=[0.2], held=held
        )
    o = measures(root)["demo"]["ci"].outcome
    assert (o.verdict, o.number) == ("partly", "3 of 4 held-out users at k̂ = 0")
    assert o.values == (0.0, 30.0, 0.0, 0.0)  # 330 is 30 degrees from 0 on the circle


def test_hue_cosine_after_training_and_before(tmp_path, monkeypatch):
    root = make_root(tmp_path, claim(metric="hue_cosine_after_training"))
    write_record(monkeypatch, results(root), seed=0, keys=[60], k_hat=[60], depth=[0.2])
    write_record(monkeypatch, results(root), seed=1, keys=[60], k_hat=[90], depth=[0.2])
    o = measures(root)["demo"]["ci"].outcome
    after = (1 + 0.8660254) / 2
    assert o.values == pytest.approx((1.0, 0.8660254)) and o.verdict == "partly"  # 0.933
    assert o.number.startswith(f"after training {after:+.3f} over 2 users; before (held-out")


def test_table_1_before_training_is_a_spread_over_the_held_out_users(tmp_path, monkeypatch):
    """Table 1's "before" is cos(k̂ − k*) of each held-out user (its learner's first key): at
    k̂ = 0 it is cos k*, so its spread comes from the keys chosen; one user off 0 is counted."""
    root = make_root(tmp_path, claim(metric="hue_cosine_after_training"))
    for seed, key, held in [(0, 60, 0.0), (1, 180, 0.0), (2, 60, 30.0)]:
        write_record(
            monkeypatch, results(root), seed=seed, keys=[key], k_hat=[key], depth=[0.2], held=held
        )
    o = measures(root)["demo"]["ci"].outcome
    # before: cos(0 - 60) = +0.5, cos(0 - 180) = -1, cos(30 - 60) = +0.866
    assert o.number == (
        "after training +1.000 over 3 users; before (held-out users; k̂ = 0 for 2 of 3, where "
        "cos(k̂ − k*) = cos k*) +0.122 ± 0.989 std (min -1.000, max +0.866), n = 3"
    )
    assert rp.held_out_cosine([]) == ""


def test_gap_grows_with_capacity(tmp_path, monkeypatch):
    extra = 'options = { models = ["small_resnet", "resnet18"] }\n'
    root = make_root(tmp_path, claim(metric="gap_grows_with_capacity", extra=extra))
    for width, depth in [(4, 0.05), (16, 0.2), (8, 0.1)]:
        write_record(
            monkeypatch, results(root), seed=0, keys=[60], k_hat=[60], depth=[depth], width=width
        )
    o = measures(root)["demo"]["ci"].outcome
    assert o.verdict == "yes"
    assert o.number.startswith("mean gap small_resnet w4 +0.050, small_resnet w8 +0.100, ")
    write_record(  # a wider network that misses: no longer growing, but the largest still wins
        monkeypatch, results(root), seed=1, keys=[60], k_hat=[90], depth=[0.05], width=16
    )
    assert measures(root)["demo"]["ci"].outcome.verdict == "partly"


def test_gap_grows_needs_two_sizes_and_a_known_model(tmp_path, monkeypatch):
    root = make_root(tmp_path, claim(metric="gap_grows_with_capacity"))
    write_record(monkeypatch, results(root), seed=0, keys=[60], k_hat=[60], depth=[0.2])
    assert measures(root)["demo"]["ci"] is None  # one size: not yet measured
    assert "| not yet measured |" in generate(root)
    write_record(
        monkeypatch, results(root), seed=0, keys=[60], k_hat=[60], depth=[0.2], model="alexnet"
    )
    with pytest.raises(rp.ReproductionError, match=r"ci.jsonl line 2: model 'alexnet' has no"):
        measures(root)


def test_colour_jitter_narrows_gap(tmp_path, monkeypatch):
    root = make_root(tmp_path, claim(metric="colour_jitter_narrows_gap"))
    for changes, depth in [
        ({}, 0.3),
        ({"augment": "crop_flip+color_jitter"}, 0.02),
        ({"augment": "crop_flip+cutout"}, 0.25),
        ({"label_smoothing": 0.1}, 0.05),
    ]:
        write_record(
            monkeypatch, results(root), seed=0, keys=[60], k_hat=[60], depth=[depth], **changes
        )
    o = measures(root)["demo"]["ci"].outcome
    assert o.verdict == "yes" and o.values == pytest.approx((0.02,))
    assert o.number == (
        "mean gap with color_jitter +0.020; plain +0.300; lowest of the 3 other variants +0.050"
    )
    write_record(  # label smoothing narrows it more: colour jitter is no longer the only one
        monkeypatch, results(root), seed=1, keys=[60], k_hat=[90], depth=[0.05], label_smoothing=0.1
    )
    assert measures(root)["demo"]["ci"].outcome.verdict == "partly"


def test_matching_drops_with_the_fraction_of_users_who_watermark(tmp_path, monkeypatch):
    root = make_root(tmp_path, claim(metric="match_drops_with_fraction"))
    # f = 0.5: 2 users, 1 watermarks and matches; f = 1: 2 users, 1 of 2 matches
    write_record(
        monkeypatch, results(root), seed=0, keys=[60, None], k_hat=[60, 0], depth=[0.2, 0.2]
    )
    write_record(monkeypatch, results(root), seed=1, keys=[60, 90], k_hat=[60, 0], depth=[0.2, 0.2])
    o = measures(root)["demo"]["ci"].outcome
    assert (o.verdict, o.number) == (
        "yes",
        "matched f = 0.5: 1 of 1 users, f = 1: 1 of 2 users; drop +0.50",
    )


def test_records_are_selected_by_fraction_and_colour_space(tmp_path, monkeypatch):
    select = 'select = { watermarked_fraction_min = 1.0, color_spaces = "own" }\n'
    root = make_root(tmp_path, claim(extra=select))
    write_record(monkeypatch, results(root), seed=0, keys=[60, 90], k_hat=[0, 0], depth=[1, 1])
    write_record(
        monkeypatch,
        results(root),
        seed=0,
        keys=[60, 90],
        k_hat=[60, 90],
        depth=[1, 1],
        color_space_seeds=(5, 6),
    )
    assert measures(root)["demo"]["ci"].outcome.number == "2 of 2 users matched (2 keys)"


def test_a_learner_in_two_results_files_counts_once_and_profiles_stay_apart(tmp_path, monkeypatch):
    grids = ("ci", "gpu")
    root = make_root(tmp_path, claim(grids=("ci", "ci2", "gpu")), grids=grids)
    (root / "tools" / "grids" / "ci2.toml").write_text(GRID.format(profile="ci"))
    for path in (results(root), root / "tools" / "grids" / "ci2.jsonl"):
        write_record(monkeypatch, path, seed=0, keys=[60], k_hat=[60], depth=[0.2])
    write_record(
        monkeypatch, results(root, "gpu"), seed=0, keys=[60], k_hat=[90], depth=[0.2], profile="gpu"
    )
    m = measures(root)["demo"]
    assert m["ci"].learners == 1 and m["ci"].outcome.verdict == "yes"
    assert m["gpu"].outcome.verdict == "no" and m["cpu"] is None


# ----------------------------------------------------- verdicts that say what the evidence says
def _summary_cell(text: str, anchor: str = "demo", column: int = 2) -> str:
    row = next(line for line in text.splitlines() if line.startswith(f"| [Fig. 0](#{anchor})"))
    return [c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]][column]


def test_a_cell_from_fewer_seeds_than_the_claim_needs_reads_indicative(tmp_path, monkeypatch):
    root = make_root(tmp_path, claim())  # no seeds = N: the default, 3
    for seed, key in [(0, 60), (1, 210)]:
        write_record(monkeypatch, results(root), seed=seed, keys=[key], k_hat=[key], depth=[0.2])
    m = measures(root)["demo"]["ci"]
    assert (m.outcome.verdict, m.verdict) == ("yes", "indicative (2 seeds)")
    text = generate(root)
    assert _summary_cell(text).startswith(
        "**indicative (2 seeds)**: would read yes; 2 of 2 users matched (2 keys); loss gap"
    )
    assert "| **indicative (2 seeds)**: would read yes | 2 of 2 users matched" in text
    assert "With records from fewer than 3 seeds, the verdict reads *indicative*" in text
    write_record(monkeypatch, results(root), seed=2, keys=[300], k_hat=[300], depth=[0.2])
    assert measures(root)["demo"]["ci"].verdict == "yes"
    (root / "tools" / "claims.toml").write_text(claim(extra="seeds = 6\n"))
    assert measures(root)["demo"]["ci"].verdict == "indicative (3 seeds)"
    assert rp.DEFAULT_SEEDS == 3


def test_a_claim_about_all_keys_cannot_read_yes_while_keys_are_missing(tmp_path, monkeypatch):
    extra = "options = { yes_at = 1.0, partly_at = 0.5, all_keys = true }\nseeds = 1\n"
    root = make_root(tmp_path, claim(extra=extra))
    some = [30, 60, 120, 180, 210, 240, 300, 330]
    write_record(monkeypatch, results(root), seed=0, keys=some, k_hat=some, depth=[0.2] * 8)
    m = measures(root)["demo"]["ci"]
    assert m.outcome.verdict == "yes"  # every user matched, but three keys were never tried
    assert m.verdict == "indicative (8 of 11 keys; missing 90, 150, 270)"
    text = generate(root)
    assert _summary_cell(text).startswith(
        "**indicative (8 of 11 keys; missing 90, 150, 270)**: would read yes; 8 of 8 users"
    )
    assert "or users that do not hold all eleven keys 30, 60, …, 330" in text
    rest = [90, 150, 270]  # another learner's users hold the rest: the claim can stand
    write_record(monkeypatch, results(root), seed=1, keys=rest, k_hat=rest, depth=[0.2] * 3)
    assert measures(root)["demo"]["ci"].verdict == "yes"
    assert rp.missing_keys([{"user_keys": [None, 95.0]}]) == tuple(
        rp.ALL_KEYS[:2] + rp.ALL_KEYS[3:]
    )


FAMILIES = (
    "[claim.options.families]\n"
    'AlexNet = ["alexnet"]\nVGG = ["vgg11_bn", "vgg16_bn"]\n'
    'ResNet = ["small_resnet", "resnet18"]\n"Wide ResNet" = ["wide_resnet50_2"]\n'
    'DenseNet = ["densenet121"]\n'
)
ARCHITECTURES = ("small_resnet", "alexnet", "vgg11_bn", "resnet18")


def architectures(monkeypatch, root: Path, models=ARCHITECTURES, seeds=(0, 1, 2), miss=()):
    """One learner per (model, seed) of Fig. 2g's ``ci`` grid, each with one user of key 60 + 90
    seed who is matched, except the (model, seed) pairs in ``miss`` (k̂ one slot off)."""
    for model in models:
        for seed in seeds:
            key = 60 + 90 * seed
            k_hat = key + 30 if (model, seed) in miss else key
            write_record(
                monkeypatch,
                results(root),
                seed=seed,
                keys=[key],
                k_hat=[k_hat],
                depth=[0.2],
                model=model,
            )


FIT = " (train acc 0.97)"  # every synthetic learner fitted 97 % of its training set


def test_fig_2g_every_family_matched_reads_yes_and_each_model_is_counted(tmp_path, monkeypatch):
    root = make_root(tmp_path, claim(metric="keys_matched_by_model") + FAMILIES)
    models = ARCHITECTURES + ("wide_resnet50_2", "densenet121")
    architectures(monkeypatch, root, models)
    m = measures(root)["demo"]["ci"]
    assert (m.verdict, m.caveats, m.learners) == ("yes", (), 18)
    assert m.outcome.number == (
        f"alexnet 3/3{FIT}, densenet121 3/3{FIT}, resnet18 3/3{FIT}, small_resnet 3/3{FIT}, "
        f"vgg11_bn 3/3{FIT}, wide_resnet50_2 3/3{FIT}; 18 of 18 users matched (3 keys)"
    )
    assert m.outcome.values == pytest.approx((0.2,) * 18)


def test_fig_2g_a_missing_family_reads_indicative_and_the_bar_says_why(tmp_path, monkeypatch):
    root = make_root(tmp_path, claim(metric="keys_matched_by_model") + FAMILIES)
    architectures(monkeypatch, root)  # the `ci` grid: no Wide ResNet, no DenseNet
    m = measures(root)["demo"]["ci"]
    assert m.outcome.verdict == "yes"  # every user matched, but two families never trained
    assert m.verdict == "indicative (3 of 5 architectures; missing Wide ResNet, DenseNet)"
    assert m.outcome.number == (
        f"alexnet 3/3{FIT}, resnet18 3/3{FIT}, small_resnet 3/3{FIT}, vgg11_bn 3/3{FIT}; "
        "12 of 12 users matched (3 keys)"
    )
    text = generate(root)
    assert _summary_cell(text).startswith(
        "**indicative (3 of 5 architectures; missing Wide ResNet, DenseNet)**: would read yes; "
        f"alexnet 3/3{FIT}, resnet18 3/3{FIT}"
    )
    assert (
        "With records from fewer than 3 seeds (in all or of one model) or with no record of one "
        "of the 5 architectures (AlexNet: alexnet; VGG: vgg11_bn, vgg16_bn; ResNet: small_resnet, "
        "resnet18; Wide ResNet: wide_resnet50_2; DenseNet: densenet121), the verdict reads "
        "*indicative*"
    ) in text


def test_fig_2g_a_miss_shows_in_its_models_count(tmp_path, monkeypatch):
    root = make_root(tmp_path, claim(metric="keys_matched_by_model") + FAMILIES)
    models = ARCHITECTURES + ("wide_resnet50_2", "densenet121")
    architectures(monkeypatch, root, models, miss={("resnet18", 1)})
    m = measures(root)["demo"]["ci"]
    assert (m.verdict, m.caveats) == ("partly", ())
    assert m.outcome.number.startswith(
        f"alexnet 3/3{FIT}, densenet121 3/3{FIT}, resnet18 2/3{FIT}, small_resnet"
    )
    assert m.outcome.number.endswith("; 17 of 18 users matched (3 keys)")


def test_fig_2g_a_model_short_of_seeds_is_named(tmp_path, monkeypatch):
    root = make_root(tmp_path, claim(metric="keys_matched_by_model") + FAMILIES)
    architectures(monkeypatch, root, ("alexnet", "vgg16_bn", "wide_resnet50_2", "densenet121"))
    architectures(monkeypatch, root, ("resnet18",), seeds=(0, 2))
    m = measures(root)["demo"]["ci"]
    assert (m.outcome.verdict, m.verdict) == ("yes", "indicative (resnet18: 2 seeds)")
    assert f"resnet18 2/2{FIT}" in m.outcome.number
    (root / "tools" / "claims.toml").write_text(
        claim(metric="keys_matched_by_model", extra="seeds = 4\n") + FAMILIES
    )  # every model and the cell short of 4 seeds: one caveat, plus the model shorter still
    assert measures(root)["demo"]["ci"].verdict == "indicative (3 seeds; resnet18: 2 seeds)"
    assert rp.seeds_per_model([{"config": {"model": "alexnet", "seed": 0}}] * 2) == {"alexnet": 1}


def test_fig_2g_a_model_in_no_family_is_refused_not_counted(tmp_path, monkeypatch):
    root = make_root(tmp_path, claim(metric="keys_matched_by_model") + FAMILIES)
    architectures(monkeypatch, root)
    write_record(
        monkeypatch, results(root), seed=0, keys=[60], k_hat=[60], depth=[0.2], model="resnet50"
    )
    with pytest.raises(
        rp.ReproductionError,
        match=r"ci.jsonl line 13: model 'resnet50' is in none of claim demo's families",
    ):
        measures(root)
    # without options.families any model counts: the claim is not about the families
    (root / "tools" / "claims.toml").write_text(claim(metric="keys_matched_by_model"))
    assert measures(root)["demo"]["ci"].outcome.number.startswith(
        f"alexnet 3/3{FIT}, resnet18 3/3{FIT}, "
    )
    assert (
        f"resnet50 1/1{FIT}, small_resnet 3/3{FIT}" in measures(root)["demo"]["ci"].outcome.number
    )


@pytest.mark.current_configs
def test_a_grid_is_read_once_and_learners_apart_only_in_model_stay_apart(tmp_path, monkeypatch):
    root = make_root(tmp_path, claim(metric="keys_matched_by_model", extra="seeds = 1\n"))
    grid = root / "tools" / "grids" / "ci.toml"
    grid.write_text(
        'profile = "ci"\n[cross]\nmodel = ["small_resnet", "alexnet"]\n[zip]\nseed = [0]\n'
    )
    architectures(monkeypatch, root, ("small_resnet", "alexnet"), seeds=(0,))
    claims = rp.load_claims(root / "tools" / "claims.toml", root)
    read, loads = [], rp.tomllib.loads
    monkeypatch.setattr(rp.tomllib, "loads", lambda text: read.append(text) or loads(text))
    sources = rp.read_sources(claims, root)
    assert read == [grid.read_text()]  # the grid's profile and its jobs from one parse
    records = sources.records(claims[0])
    assert len(rp.unique_learners(records)) == 2
    assert rp.measure(claims[0], records)["ci"].outcome.number.startswith(
        f"alexnet 1/1{FIT}, small"
    )
    write_record(  # a model the grid does not train (any more) is refused
        monkeypatch, results(root), seed=0, keys=[60], k_hat=[60], depth=[0.2], model="resnet18"
    )
    with pytest.raises(rp.ReproductionError, match="ci.jsonl line 3: its config is none of"):
        rp.read_sources(claims, root)


def test_without_all_keys_missing_keys_do_not_matter(tmp_path, monkeypatch):
    root = make_root(tmp_path, claim(extra="seeds = 1\n"))
    write_record(monkeypatch, results(root), seed=0, keys=[60], k_hat=[60], depth=[0.2])
    assert measures(root)["demo"]["ci"].verdict == "yes"


def test_bf16_and_fp32_records_that_disagree_both_appear(tmp_path, monkeypatch):
    root = make_root(tmp_path, claim())
    for seed, key in [(0, 60), (1, 210), (2, 300)]:
        write_record(  # bf16 on AVX-512: every key matched
            monkeypatch,
            results(root),
            seed=seed,
            keys=[key],
            k_hat=[key],
            depth=[0.2],
            precision="bf16",
            isa="AVX512",
        )
        write_record(  # fp32 on AVX2: the last two miss by a slot
            monkeypatch,
            results(root),
            seed=seed,
            keys=[key],
            k_hat=[key if seed == 0 else key - 30],
            depth=[0.2],
            isa="AVX2",
        )
    m = measures(root)["demo"]["ci"]
    assert m.group == "bf16 (AVX512) and fp32 (AVX2)" and m.learners == 6
    assert [(g.group, g.verdict, g.outcome.number, g.seeds) for g in m.groups] == [
        ("bf16 (AVX512)", "yes", "3 of 3 users matched (3 keys)", 3),
        ("fp32 (AVX2)", "no", "1 of 3 users matched (3 keys)", 3),
    ]
    text = generate(root)
    bf16, fp32 = _summary_cell(text).split("<br>")
    assert bf16 == (
        "bf16 (AVX512): **yes**: 3 of 3 users matched (3 keys); loss gap +0.200 ± 0.000 std "
        "(min +0.200, max +0.200); 3 seeds (3 learners)"
    )
    assert fp32.startswith("fp32 (AVX2): **no**: 1 of 3 users matched (3 keys); loss gap -0.067")
    details = [line for line in text.splitlines() if line.startswith("| `ci` |")]
    assert [line.split(" | ")[1:3] for line in details] == [
        ["bf16 (AVX512)", "**yes**"],
        ["fp32 (AVX2)", "**no**"],
    ]


def test_groups_that_agree_are_pooled_and_named(tmp_path, monkeypatch):
    root = make_root(tmp_path, claim())
    for seed, key in [(0, 60), (1, 210), (2, 300)]:
        for isa in ("AVX512", "AVX2"):
            write_record(
                monkeypatch, results(root), seed=seed, keys=[key], k_hat=[key], depth=[0.2], isa=isa
            )
    m = measures(root)["demo"]["ci"]
    assert (m.verdict, m.groups, m.learners) == ("yes", (), 6)
    cell = _summary_cell(generate(root))
    assert cell.startswith("**yes**: 6 of 6 users matched (3 keys)")
    assert cell.endswith("; pooled over fp32 (AVX2) and fp32 (AVX512), which agree")


def test_a_group_is_its_precision_and_instruction_set_or_its_device():
    cpu = {"precision": "fp32", "train_device": "cpu", "machine": {"isa": "AVX2"}}
    assert rp.record_group(cpu) == "fp32 (AVX2)"
    gpu = {"precision": "bf16", "train_device": "cuda", "machine": {"isa": "AVX512"}}
    assert rp.record_group(gpu) == "bf16 (cuda)"
    assert rp.record_group({"precision": None, "machine": {}}) == "unknown precision (unknown ISA)"


# ------------------------------------------------------------------------ nothing measured yet
def test_missing_results_say_not_yet_measured_for_every_profile(tmp_path):
    needs = (
        '[[claim]]\nid = "later"\ntitle = "t"\nwhere = "Sec. 9"\nquote = "q"\n'
        'paper_number = "n"\nlessons = ["05"]\nneeds = "a results file nobody writes yet"\n'
    )
    root = make_root(tmp_path, claim() + "\n" + needs)
    text = generate(root)
    for anchor in ("demo", "later"):
        row = next(line for line in text.splitlines() if f"](#{anchor})" in line)
        assert row.count("| not yet measured ") == len(PROFILES)
    assert "`tools/grids/ci.jsonl`: not run yet" in text
    assert "**Not measured by any sweep yet:** a results file nobody writes yet" in text
    assert re.search(r"\d\.\d", text.split("## Summary")[1]) is None  # no number anywhere


# --------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda r: '{"config": {"seed": 1}, "k_hat": [60', r"line 2: not a JSON record"),
        (lambda r: json.dumps({k: v for k, v in r.items() if k != "k_hat"}), r"line 2: .*no k_hat"),
        (lambda r: json.dumps(r).replace('"gap": [', '"gap": [NaN, '), r"line 2: not a JSON"),
        (lambda r: json.dumps({**r, "gap": [None]}), r"line 2: user 0: a key needs .* finite gap"),
        (lambda r: json.dumps({**r, "match": [False]}), r"line 2: user 0: match False disagrees"),
        (lambda r: json.dumps({**r, "profile": "gpu"}), r"line 2: profile 'gpu', but its grid"),
        (lambda r: json.dumps({**r, "k_hat": [60, 90]}), r"line 2: .*one entry per user"),
    ],
)
def test_a_malformed_record_is_one_line_naming_file_and_line(
    tmp_path, monkeypatch, capsys, damage, message
):
    root = make_root(tmp_path, claim())
    r = write_record(monkeypatch, results(root), seed=0, keys=[60], k_hat=[60], depth=[0.2])
    with open(results(root), "a") as f:
        f.write(damage(r) + "\n")
    out = root / "docs" / "reproduction.md"
    args = ["--root", str(root), "--claims", str(root / "tools/claims.toml"), "--out", str(out)]
    assert rp.main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert re.search("reproduction: tools/grids/ci.jsonl " + message, err), err
    assert not out.exists()


@pytest.mark.parametrize(
    "extra, message",
    [
        ('metric = "keys_matchd"\n', r"unknown metric 'keys_matchd'"),
        ("options = { yes = 1 }\n", r"metric keys_matched takes options"),
        ('options = { all_keys = "yes" }\n', r"options.all_keys is true or false"),
        ('options = { families = ["alexnet"] }\n', r"options.families is a table of the paper"),
        ("options = { families = { VGG = [] } }\n", r"options.families is a table of the paper"),
        (
            'options = { families = { VGG = ["vgg19"] } }\n',
            r"tools/claims.toml \(demo\): options.families names \['vgg19'\], not",
        ),
        (
            'options = { families = { A = ["alexnet"], B = ["alexnet"] } }\n',
            r"options.families puts \['alexnet'\] in more than one family",
        ),
        ("seeds = 0\n", r"seeds is a whole number of seeds, 1 or more"),
        ("seeds = 2.5\n", r"seeds is a whole number of seeds, 1 or more"),
        ("select = { photos = 1 }\n", r"unknown select key\(s\) \['photos'\]"),
        ('needs = "x"\n', r"either grids .* or needs"),
    ],
)
def test_a_bad_registry_says_what_to_fix(tmp_path, extra, message):
    text = claim() + extra
    if extra.startswith("metric"):
        text = text.replace('metric = "keys_matched"\n', "")
    root = make_root(tmp_path, text)
    with pytest.raises(rp.ReproductionError, match=message):
        generate(root)
    (root / "tools" / "claims.toml").write_text(claim(grids=("nowhere",)))
    with pytest.raises(rp.ReproductionError, match=r"tools/grids/nowhere.toml does not exist"):
        generate(root)


# ----------------------------------------------------------------------------------- --check
def test_check_detects_a_stale_file_and_writes_nothing(tmp_path, monkeypatch, capsys):
    root = make_root(tmp_path, claim(extra="seeds = 1\n"))
    out = root / "docs" / "reproduction.md"
    args = ["--root", str(root), "--claims", str(root / "tools/claims.toml"), "--out", str(out)]
    assert rp.main(args + ["--check"]) == 1  # not written yet
    assert "is missing" in capsys.readouterr().err and not out.exists()
    assert rp.main(args) == 0
    assert rp.main(args + ["--check"]) == 0
    write_record(monkeypatch, results(root), seed=0, keys=[60], k_hat=[60], depth=[0.2])
    before = out.read_text()
    assert rp.main(args + ["--check"]) == 1  # a new record: the committed table is stale
    assert "is stale; regenerate it with python -m tools.reproduction" in capsys.readouterr().err
    assert out.read_text() == before
    assert rp.main(args) == 0 and "**yes**" in out.read_text()
    out.write_text(out.read_text().replace("**yes**", "**no**"))  # edited by hand
    assert rp.main(args + ["--check"]) == 1


# ------------------------------------------------------------------ the committed registry & doc
def test_the_committed_reproduction_table_is_up_to_date():
    """Fails when a results file, the registry or the generator changed without regenerating:
    run ``python -m tools.reproduction`` and commit docs/reproduction.md."""
    assert rp.DEFAULT_OUT.read_text(encoding="utf-8") == rp.generate(), (
        "docs/reproduction.md is stale: run python -m tools.reproduction"
    )


def _claims() -> list:
    return rp.load_claims(rp.DEFAULT_CLAIMS, ROOT)


def test_the_registry_has_every_claim_the_issue_lists():
    ids = {c.id for c in _claims()}
    wanted = {"fig-2a-c", "fig-2d-f", "fig-2g", "fig-2h", "fig-2i", "fig-3", "fig-4", "fig-5a"}
    wanted |= {"fig-5b", "fig-5c", "table-1", "sec-5-4", "sec-5-6"}
    assert wanted <= ids


def _normalise(text: str) -> str:
    return " ".join(text.replace("’", "'").replace("$", " ").split())


def test_the_quotes_are_the_papers_words():
    """Every run of plain words (no formula) inside a claim's quotation marks is in the paper."""
    paper = _normalise(
        (ROOT.parent / "shared" / "reference" / "anti-neuron-watermarking-paper.md").read_text()
        if (ROOT.parent / "shared" / "reference").is_dir()
        else pytest.skip("the paper's text is not next to this checkout")
    )
    for c in _claims():
        quoted = re.findall(r'"([^"]+)"', c.quote)
        assert quoted, f"{c.id}: the quote has no quotation marks"
        source = paper + (_lessons_text(c) if "beyond the paper" in c.where else "")
        for words in quoted:
            for run in re.split(r"[|<>∼τ*̂−=()]", words):  # formulas and brackets break runs
                run = _normalise(run)
                if len(run.split()) >= 4:
                    assert run in source, f"{c.id}: {run!r} is not in its source"


def _lessons_text(claim) -> str:
    """A beyond-the-paper claim may quote its lessons: their text, comment markers removed."""
    lines = []
    for lesson in claim.lessons:
        (path,) = (ROOT / "notebooks").glob(f"{lesson}_*.py")
        lines += [re.sub(r"^#\s?", "", line) for line in path.read_text().splitlines()]
    return _normalise("\n".join(lines))


def test_every_grid_the_registry_names_parses():
    for grid in {g for c in _claims() for g in c.grids}:
        assert sweep.load_grid(ROOT / grid).jobs, grid


def test_every_claim_can_stand_in_some_profile():
    """A claim's ``seeds`` is reachable: some profile's grids ask for that many distinct seeds (a
    profile whose grids ask for fewer can only ever read "indicative")."""
    for c in _claims():
        asked: dict = {}
        for grid in map(sweep.load_grid, (ROOT / g for g in c.grids)):
            asked.setdefault(grid.profile, set()).update(j.config.flat()["seed"] for j in grid.jobs)
        if c.grids:
            assert max(len(s) for s in asked.values()) >= c.seeds, (c.id, c.seeds, asked)


def _configs(grid: str) -> list:
    return [j.config for j in sweep.load_grid(ROOT / "tools" / "grids" / grid).jobs]


def test_the_new_grids_train_what_the_lessons_train():
    ci = get_profile("ci").config
    assert _configs("ci_fig2_users.toml") == [multi_user_config(ci).with_(seed=s) for s in range(6)]
    cpu = get_profile("cpu").config
    fp32 = [multi_user_config(cpu).with_(seed=s) for s in range(6)]
    assert _configs("cpu_fig2_users.toml") == fp32
    assert _configs("cpu_fig2_users_unshared.toml") == _configs("ci_fig2_users_unshared.toml")
    setting = get_profile("ci").lessons.many_users
    base = ci.with_(n_train=setting.n_train, batch_size=setting.batch_size)
    assert _configs("ci_fig5a_many_users.toml") == [
        many_users_config(base.with_(seed=s), setting.n_users, f, own)
        for f in (0.2, 1.0)
        for own in (False, True)
        for s in (0, 1, 2)
    ]
    variants = {"colour jitter", "colour jitter, YIQ hue", "cutout", "Gaussian noise (std 0.1)"}
    variants |= {"label smoothing 0.1", "cutout + noise + label smoothing"}
    variants |= {"adversarial, FGSM 2/255"}
    wanted = [ci] + [ci.with_(**DEFENCE_VARIANTS[v][0]) for v in sorted(variants)]
    got = _configs("ci_fig3_defences.toml")
    assert {c.with_(seed=0) for c in got} == set(wanted) and len(got) == 3 * len(wanted)
    assert _configs("gpu_fig2i_high_res.toml") == [HIGH_RES.with_(seed=s) for s in range(3)]
    assert _configs("ci_fig2g_architectures.toml") == [  # lesson 03's learner, three networks
        ci.with_(seed=s, keys=(float(k),), model=m)
        for s, k in zip((0, 1, 2), (60, 210, 300))
        for m in ("small_resnet", "alexnet", "vgg11_bn")
    ]


def test_every_lesson_links_to_rows_that_exist():
    doc = rp.DEFAULT_OUT.read_text(encoding="utf-8")
    anchors = set(re.findall(r'<a id="([a-z0-9-]+)"></a>', doc))
    assert anchors == {c.id for c in _claims()} | {"lesson-checks"}
    for n in ("03", "04", "05", "06", "07", "08", "09"):
        (lesson,) = (ROOT / "notebooks").glob(f"{n}_*.py")
        last_cell = lesson.read_text(encoding="utf-8").rsplit("# %%", 1)[1]
        links = re.findall(r"\(\.\./docs/reproduction\.md#([a-z0-9-]+)\)", last_cell)
        assert links, f"{lesson.name}: its last cell links to no row of docs/reproduction.md"
        assert set(links) <= anchors, f"{lesson.name}: {set(links) - anchors}"


def test_missing_keys_measure_on_the_circle_with_verify():
    """tools/reproduction.py uses verify.match (no copy of circular_distance): a key of -20
    (340 on the circle) holds the slot 330."""
    held = rp.missing_keys([{"user_keys": [-20.0]}])
    assert 330.0 not in held and 300.0 in held
    assert rp.missing_keys([{"user_keys": [float(k) for k in rp.ALL_KEYS]}]) == ()


@pytest.mark.parametrize("rejected, verdict", [(1, "yes"), (20, "no")])
def test_the_twin_fpr_row_says_yes_only_when_its_interval_reaches_the_level(rejected, verdict):
    """Lesson 10's innocent users: ``stats.Rate.consistent`` at the level decides the verdict (1 of
    1,000 at 1 %: its interval reaches 1 %; 20 of 1,000: 95 % CI 1.2 %-3.1 %, above it)."""
    mark = dict(mark="YIQ", twin_p=0.5, innocent_rejected=rejected, innocent_users=1000)
    record = {"config": {"n_train": 2500}, "marks": [{**mark, "membership_p": 0.5}]}
    outcome = rp.twin_innocent_fpr([record], level=0.01)
    assert outcome.verdict == verdict, outcome
    assert f"{rejected} of 1000 innocent users rejected at p ≤ 0.01" in outcome.number


def test_a_claim_over_grids_of_different_jobs_is_refused():
    """Two jobs can train two learners from one config (tilted rotations against U(-1, 1) spaces):
    a claim mixing their grids would count one of them only, so it is refused, naming both."""
    claim = next(c for c in _claims() if c.id == "fig-5a-own")
    rp.one_job_per_claim(claim, {"a.toml": "", "b.toml": ""})
    jobs = {"a.toml": "", "b.toml": "tools.jobs.tilted:tilted_job"}
    with pytest.raises(rp.ReproductionError, match="fig-5a-own.*different jobs.*tilted_job"):
        rp.one_job_per_claim(claim, jobs)
