"""The sweep runner (issue 17 part 1): grids, records, resume, failures, submitit end to end."""

from __future__ import annotations

import json
import math
import multiprocessing
import re
from pathlib import Path

import pytest

from anw_helpers.profiles import get_profile
from tools import sweep

ROOT = Path(__file__).resolve().parent.parent
TINY = {"n_train": 300, "user_sizes": 10, "n_test": 100, "width": 4, "epochs": 1, "batch_size": 64}


def _grid(**sections) -> sweep.Grid:
    return sweep.parse_grid({"profile": "ci", **sections}, "test.toml")


# ----------------------------------------------------------------------------------------- grids
def test_zip_is_crossed_with_cross_over_the_set_settings():
    grid = _grid(
        set={"epochs": 3},
        zip={"seed": [0, 1], "keys": [60, 210]},
        cross={"user_sizes": [50, 0.02], "augment": ["crop_flip", "crop_flip+cutout"]},
    )
    assert len(grid.jobs) == 2 * 2 * 2
    first = grid.jobs[0].config
    assert (first.recipe.seed, first.data.keys, first.data.user_sizes) == (0, (60.0,), (50,))
    assert first.recipe.epochs == 3
    assert grid.jobs[0].label == "seed=0 keys=60 user_sizes=50 augment=crop_flip"
    assert {j.config.data.user_sizes for j in grid.jobs} == {(50,), (0.02,)}  # count or fraction
    pairs = {(j.config.recipe.seed, j.config.data.keys) for j in grid.jobs}
    assert pairs == {(0, (60.0,)), (1, (210.0,))}
    base = get_profile("ci").config
    assert all(
        j.config.data.n_train == base.data.n_train and j.config.recipe.width == base.recipe.width
        for j in grid.jobs
    )
    assert len({sweep.config_id(j.config) for j in grid.jobs}) == len(grid.jobs)


def test_a_list_of_keys_is_several_users_each_in_yiq():
    grid = _grid(set={"user_sizes": [50, 30]}, cross={"keys": [[60, 150], [90, "none"]]})
    assert [j.config.data.keys for j in grid.jobs] == [(60.0, 150.0), (90.0, None)]
    assert all(j.config.data.color_space_seeds == (None, None) for j in grid.jobs)


def test_no_lists_is_the_profile_itself():
    (job,) = _grid().jobs
    assert job.config == get_profile("ci").config and job.label == "base"


@pytest.mark.parametrize(
    "sections, message",
    [
        ({"cross": {"widht": [4]}}, r"unknown setting\(s\) 'widht'.*width"),
        ({"cross": {"width": ["4"]}}, r"width = '4' is not a valid width"),
        ({"cross": {"seed": [True]}}, r"seed = True is not a valid seed"),
        ({"cross": {"seed": []}}, r"seed must be a non-empty list"),
        ({"cross": {"seed": 3}}, r"seed must be a non-empty list"),
        ({"zip": {"seed": [0, 1], "keys": [60]}}, r"lengths seed=2, keys=1"),
        ({"set": {"seed": 0}, "cross": {"seed": [1]}}, r"seed set in more than one section"),
        ({"cross": {"augment": ["crop_flop"]}}, r"\(augment=crop_flop\).*crop_flop"),
        ({"cross": {"keys": [[60, 150]]}}, r"one entry per user"),
        ({"cross": {"seed": [0, 0]}}, r"'seed=0' and 'seed=0' are the same learner"),
        ({"seeds": [0, 1]}, r"unknown entries seeds"),
        ({"profile": "laptop"}, r"unknown profile 'laptop'"),
    ],
)
def test_bad_grids_say_what_is_wrong(sections, message):
    with pytest.raises(sweep.GridError, match=message):
        sweep.parse_grid({"profile": "ci", **sections}, "test.toml")


def test_the_command_line_rejects_a_bad_grid_in_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('profile = "ci"\n[cross]\nseed = [0, 1\n')
    assert sweep.main([str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"sweep: {bad} is not valid TOML") and "Traceback" not in err
    assert sweep.main([str(tmp_path / "missing.toml")]) == 2
    assert "cannot read the grid file" in capsys.readouterr().err
    assert not (tmp_path / "bad.jsonl").exists()
    good = ROOT / "tools" / "grids" / "ci_seeds.toml"
    for args, message in [
        (["--parallel", "0"], "--parallel must be at least 1; got 0."),
        (["--slurm-partition", "gpu"], "--slurm-* options are for --executor slurm"),
        (["--results", str(tmp_path)], "is a folder; name a file"),
    ]:
        assert sweep.main([str(good), *args]) == 2
        assert message in capsys.readouterr().err


def test_the_example_grid_is_the_ci_seed_table_of_the_benchmarks():
    grid = sweep.load_grid(ROOT / "tools" / "grids" / "ci_seeds.toml")
    pairs = [(j.config.recipe.seed, j.config.data.keys) for j in grid.jobs]
    command = re.search(
        r"check_profile --profile ci --pairs ([\d: ]+)`",
        (ROOT / "docs" / "benchmarks.md").read_text(),
    )
    documented = [
        (int(s), (float(k),)) for s, k in (p.split(":") for p in command.group(1).split())
    ]
    assert pairs == documented and len(pairs) == 6
    assert all(j.config.with_(seed=0, keys=(60.0,)) == get_profile("ci").config for j in grid.jobs)


# ------------------------------------------------------------------------------ the results file
def _append_many(path: str, worker: int) -> None:
    for i in range(40):
        sweep.append_record(path, {"config": {"worker": worker, "i": i}, "pad": "x" * 20000})


def test_records_from_concurrent_jobs_never_interleave(tmp_path):
    path = tmp_path / "results.jsonl"
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context(
        "fork" if "fork" in methods else "spawn"
    )  # fork: no re-import
    workers = [ctx.Process(target=_append_many, args=(str(path), w)) for w in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
    assert [w.exitcode for w in workers] == [0, 0, 0]
    records = [json.loads(line) for line in path.read_text().splitlines()]  # every line whole
    assert sorted((r["config"]["worker"], r["config"]["i"]) for r in records) == [
        (w, i) for w in range(3) for i in range(40)
    ]


def test_a_record_is_strict_json_and_a_damaged_line_is_reported(tmp_path):
    path = tmp_path / "results.jsonl"
    sweep.append_record(path, {"config": {"seed": 0}, "gap": [math.nan], "k_hat": (60.0,)})
    with open(path, "a") as f:
        f.write('{"config": {"seed": 1}, "gap": [0.1')  # a job killed mid-write: no newline
    sweep.append_record(path, {"config": {"seed": 2}})
    assert json.loads(path.read_text().splitlines()[0]) == {
        "config": {"seed": 0},
        "gap": [None],
        "k_hat": [60.0],
    }
    finished, bad = sweep.read_finished(path)
    ids = {sweep.resume_id({"seed": s}, None, None, None) for s in (0, 2)}
    assert finished == ids and bad == [2]
    assert sweep.read_finished(tmp_path / "none.jsonl") == (set(), [])


# ------------------------------------------------------------------- resume and failures (fake job)
def _trained_here(precision=None):
    import torch

    from anw_helpers.machinery.runtime import choose_device, choose_precision

    return {
        "precision": precision or choose_precision().name,
        "train_device": str(choose_device()),
        "machine": {"isa": torch.backends.cpu.get_cpu_capability()},
    }


def test_a_record_in_another_precision_or_isa_is_not_this_learner(tmp_path):
    grid = _grid(zip={"seed": [0], "keys": [60]})
    config = grid.jobs[0].config
    here = _trained_here()
    other = "bf16" if here["precision"] == "fp32" else "fp32"
    same = {"config": config.flat(), **here}
    assert sweep.record_id(same) == sweep.here_id(config)
    assert sweep.record_id({**same, **_trained_here(other)}) != sweep.here_id(config)
    assert sweep.record_id({**same, "machine": {"isa": "OTHER"}}) != sweep.here_id(config)
    assert sweep.record_id({**same, "train_device": "cuda:0"}) != sweep.here_id(config)


def _fake_job(config, results, profile="", label="", **options):
    if config.recipe.seed == 2:
        raise RuntimeError("the learner's data could not be built")
    record = {
        "config": config.flat(),
        "k_hat": [60.0],
        "match": [True],
        "gap": [0.2],
        "held_out_k_hat": 0.0,
        "wall_seconds": 1.0,
        "from_cache": False,
        **_trained_here(),
    }
    sweep.append_record(results, record)
    return sweep._jsonable(record)


def test_a_sweep_skips_finished_learners_and_reports_failed_ones(tmp_path, monkeypatch):
    import pdb

    monkeypatch.setattr(pdb, "post_mortem", lambda *a: None)  # the debug executor's post-mortem
    grid = _grid(zip={"seed": [0, 1, 2, 3], "keys": [60, 210, 300, 120]})
    results = tmp_path / "results.jsonl"
    _fake_job(grid.jobs[1].config, str(results))  # seed 1 finished in an earlier run
    executor = sweep.make_executor("debug", tmp_path / "logs", 1, 5)
    lines: list[str] = []
    failed = sweep.run_sweep(grid, results, executor, job=_fake_job, say=lines.append)
    out = "\n".join(lines)
    assert failed == 1
    assert "skip seed=1 keys=210: already in results.jsonl" in out
    assert "FAILED seed=2 keys=300: the learner's data could not be built" in out
    assert re.search(r"log: \S+\.err", out)
    assert "done seed=3 keys=120: k_hat 60 (match); gap +0.200" in out  # ran after the failure
    assert "2 finished, 1 failed, 1 skipped." in out
    seeds = [json.loads(line)["config"]["seed"] for line in results.read_text().splitlines()]
    assert sorted(seeds) == [0, 1, 3]
    lines.clear()
    assert sweep.run_sweep(grid, results, executor, job=_fake_job, say=lines.append) == 1
    assert "1 of 4 learner(s) to run (3 done)" in "\n".join(lines)  # only the failed one again


# ---------------------------------------------------------------------- end to end with submitit
@pytest.mark.slow  # trains two tiny learners in subprocesses (about 25 s on 2 cores)
def test_the_local_executor_runs_a_tiny_grid_and_resumes(
    cifar_train, tmp_path, monkeypatch, capsys
):
    from anw_helpers.machinery.paths import cache_dir

    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "datasets").symlink_to(cache_dir("datasets"))  # CIFAR-10, no models
    monkeypatch.setenv("ANW_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("ANW_PRECISION", "fp32")
    grid = tmp_path / "tiny.toml"
    tiny = {k: v for k, v in TINY.items() if k != "n_train"}
    grid.write_text(
        'profile = "ci"\n[set]\n'
        + "".join(f"{k} = {v}\n" for k, v in tiny.items())
        + "[zip]\nseed = [0, 1, 2]\nkeys = [90, 210, 90]\n"
        + "n_train = [300, 300, 1000000]\n"
    )  # the third fails inside its job
    args = [str(grid), "--executor", "local", "--logs", str(tmp_path / "logs")]
    assert sweep.main(args) == 1
    out = capsys.readouterr().out
    assert "3 of 3 learner(s) to run (0 done), 1 at a time" in out
    log = re.search(r"log: (\S+)", out).group(1)
    assert "n_train must be in 1..50000" in Path(log).read_text()
    records = [json.loads(line) for line in (tmp_path / "tiny.jsonl").read_text().splitlines()]
    assert [(r["config"]["seed"], r["config"]["keys"]) for r in records] == [
        (0, [90.0]),
        (1, [210.0]),
    ]
    for r in records:
        assert r["config"]["width"] == 4 and r["profile"] == "ci" and not r["from_cache"]
        k_hat, key = r["k_hat"][0], r["user_keys"][0]
        assert k_hat in range(0, 360, 30) and r["match"][0] == (k_hat == key)
        assert isinstance(r["gap"][0], float) and r["held_out_k_hat"] in range(0, 360, 30)
        assert 0 <= r["train_accuracy"] <= 1 and 0 <= r["test_accuracy"] <= 1
        assert r["images_per_second"] > 0 and r["wall_seconds"] > 0 and r["train_seconds"] > 0
        assert r["precision"] == "fp32" and r["machine"]["device"] == "cpu"
        assert r["user_sizes"] == [10]
    good = tmp_path / "good.toml"  # the same two learners, without the one that fails
    two = grid.read_text().replace(", 2]", "]").replace(", 90]", "]").replace(", 1000000]", "]")
    good.write_text(two)
    assert sweep.main([str(good), "--results", str(tmp_path / "tiny.jsonl")]) == 0  # resumed
    out = capsys.readouterr().out
    assert "skip seed=0 keys=90 n_train=300: already in tiny.jsonl" in out
    assert "0 of 2 learner(s) to run (2 done)" in out and "0 finished, 0 failed, 2 skipped." in out
    assert len((tmp_path / "tiny.jsonl").read_text().splitlines()) == 2


def test_the_readme_grid_is_the_example_grid_file():
    """README's "Reproducing at scale" shows tools/grids/ci_seeds.toml: they cannot drift apart."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Reproducing at scale.*?```toml\n(.*?)```", readme, re.S).group(1)
    shown = sweep.parse_grid(sweep.tomllib.loads(block), "README.md")
    assert shown.jobs == sweep.load_grid(ROOT / "tools" / "grids" / "ci_seeds.toml").jobs


def test_the_slurm_flags_make_a_job_array_script(tmp_path, monkeypatch):
    """Without a cluster here: submitit's own sbatch script, with our parameter names accepted."""
    from submitit.slurm.slurm import SlurmExecutor

    monkeypatch.setattr(SlurmExecutor, "affinity", classmethod(lambda cls: 1))  # "srun is here"
    slurm = {"slurm_partition": "gpu", "gpus_per_node": 1, "cpus_per_task": None}
    executor = sweep.make_executor("slurm", tmp_path, 4, 90, slurm)
    assert executor._executor.parameters["array_parallelism"] == 4
    script = executor._executor._make_submission_file_text("python -m job", "uid")
    for line in ("--partition=gpu", "--gpus-per-node=1", "--time=90", "--job-name=anw-sweep"):
        assert f"#SBATCH {line}\n" in script
    assert "--cpus-per-task" not in script  # not asked for: Slurm's default


def test_a_grid_may_name_its_own_job_function():
    grid = sweep.parse_grid(
        {"profile": "ci", "job": "json:dumps", "zip": {"seed": [0, 1], "keys": [60, 210]}}
    )
    assert grid.job == "json:dumps" and sweep.job_function(grid) is json.dumps
    assert sweep.job_function(sweep.parse_grid({"profile": "ci"})) is sweep.run_job
    with pytest.raises(sweep.GridError, match="module:function"):
        sweep.parse_grid({"profile": "ci", "job": "no_colon"})
    with pytest.raises(sweep.GridError, match="cannot be imported"):
        sweep.job_function(sweep.parse_grid({"profile": "ci", "job": "no_such_module_x:f"}))


def test_here_fields_make_a_record_this_machine_skips(tmp_path):
    grid = _grid(zip={"seed": [0], "keys": [60]})
    record = {"config": grid.jobs[0].config.flat(), **sweep.here_fields("ci", "seed=0")}
    assert sweep.record_id(record) == sweep.here_id(grid.jobs[0].config)


# ------------------------------------------------------------- records of own-colour-space users
def test_held_out_and_lesson_checks_search_in_the_users_own_colour_space(monkeypatch):
    """A learner whose users mark in their own colour space T (Sec. 5.4, Fig. 5a): its held-out
    user carries the first user's T, and every search of the record runs in it, never in YIQ."""
    from types import SimpleNamespace

    import torch

    from anw_helpers import verify
    from anw_helpers.color import color_space_from_seed
    from anw_helpers.datasets import ImageSet
    from anw_helpers.models import build_model
    from anw_helpers.users import build_learner_data

    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (200, 3, 16, 16), dtype=torch.uint8, generator=g)
    photos = ImageSet(images, torch.arange(200) % 10, tuple(str(c) for c in range(10)))
    own = color_space_from_seed(5)
    data = build_learner_data(photos, photos, 100, [4], [60.0], [own], n_test=20, seed=0)
    monkeypatch.setattr(sweep, "GRADIENT_STARTS", 1)
    assert torch.equal(data.held_out.color_space, own)
    seen: list = []  # the colour space of each search the record asks for (not verify's own)
    depth = [0]
    for name, at in (("grid_search", 4), ("verdict", 3), ("gradient_search", 4),
                     ("signature_losses", 4)):  # fmt: skip
        real = getattr(verify, name)

        def spy(*args, _real=real, _at=at, **kwargs):
            if depth[0] == 0:
                seen.append(kwargs["color_space"] if "color_space" in kwargs else args[_at])
            depth[0] += 1
            try:
                return _real(*args, **kwargs)
            finally:
                depth[0] -= 1

        monkeypatch.setattr(verify, name, spy)
    record = SimpleNamespace(
        train_accuracy=1.0, test_accuracy=0.1, user_accuracy=1.0, images_per_second=1.0,
        epoch_seconds=[1.0], device="cpu", precision="fp32",
    )  # fmt: skip
    learner = SimpleNamespace(
        model=build_model("small_resnet", 10, 4).eval(), data=data, record=record, from_cache=True
    )
    fields = sweep.learner_fields(learner)
    assert fields["lesson_checks"] is not None and len(seen) >= 5
    assert all(isinstance(t, torch.Tensor) and torch.equal(t, own) for t in seen), seen
