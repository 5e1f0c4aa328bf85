"""One learner in several processes (torchrun, DDP; ``tools.distributed``), on CPUs with gloo.

tests/distributed_worker.py trains tiny models twice, as two ranks under torchrun and as one plain
process, in fp32 with one thread each; the tests compare what they saved. Tolerances:

- A network without BatchNorm must match one process to rounding: the ranks draw the same batches,
  augment them alike and DDP averages gradients scaled to the global batch's mean. 1e-5 (absolute,
  on every weight) is far above float32 rounding after ten steps and far below the training's own
  change of the weights (measured: 5e-8 apart, against 3e-2 of change from the start).
- A model with BatchNorm cannot match one process on CPUs: PyTorch has no SyncBatchNorm there, so
  each rank normalises with its own half batch. It must match, to 1e-5, one process that normalises
  each half batch on its own (``PerShareBatchNorm``: measured 0 apart). From the plain one-process
  run it differs by far more than rounding, which is only checked to be so: in this tiny, noisy
  setting (random labels, lr 0.1, two epochs) the weights were up to 0.43 apart, against up to 0.92
  of change from the start (0.89 of the change, in norm).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from anw_helpers.train import Parallel
from tools import distributed

ROOT = Path(__file__).resolve().parent.parent
WORKER = ROOT / "tests" / "distributed_worker.py"
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
_LAUNCH_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def _env(cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _LAUNCH_VARIABLES}
    env.update(
        PYTHONPATH=str(ROOT),
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        ANW_PRECISION="fp32",
        ANW_DEVICE="cpu",
        ANW_CACHE=str(cache),
    )
    return env


def _run(command: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """What the worker saved: ``one`` (one process) and ``ddp`` (rank 0, rank 1)."""
    saved = {}
    for name, launcher in (("one", [sys.executable]), ("ddp", TORCHRUN)):
        out = tmp_path_factory.mktemp(name)
        _run(launcher + [str(WORKER), str(out)], _env(out / "cache"))
        saved[name] = [
            torch.load(out / f"rank{r}.pt", weights_only=True)
            for r in range(len(list(out.glob("rank*.pt"))))
        ]
    assert len(saved["one"]) == 1 and len(saved["ddp"]) == 2
    return {"one": saved["one"][0], "ddp": saved["ddp"]}


def _max_difference(a: dict, b: dict, keys=None) -> float:
    keys = keys or [k for k in a if a[k].is_floating_point()]
    return max(float((a[k].double() - b[k].double()).abs().max()) for k in keys)


def _parameters(state: dict) -> list[str]:
    """The trained parameters' names (not BatchNorm's statistics, not the fixed normalisation)."""
    skip = ("running_mean", "running_var", "num_batches_tracked")
    return [k for k in state if not k.endswith(skip) and k not in ("mean", "std")]


# ------------------------------------------------------------------- torchrun against one process
@pytest.mark.slow  # the runs fixture: torchrun ranks in fresh processes (about 9 s)
def test_without_batchnorm_two_ranks_train_what_one_process_trains(runs):
    one, (rank0, rank1) = runs["one"]["plain"], runs["ddp"]
    assert rank0["world"] == 2
    assert _max_difference(rank0["plain"]["weights"], rank1["plain"]["weights"]) == 0.0
    change = _max_difference(one["weights"], one["init"])
    difference = _max_difference(rank0["plain"]["weights"], one["weights"])
    assert change > 1e-3, f"the weights barely moved ({change}): the comparison would be empty"
    assert difference < 1e-5, f"DDP and one process differ by {difference} (trained {change})"
    # the record holds the global loss and accuracy, not rank 0's half
    ddp_record, one_record = (json.loads(r) for r in (rank0["plain"]["record"], one["record"]))
    torch.testing.assert_close(
        ddp_record["epoch_loss"], one_record["epoch_loss"], atol=1e-5, rtol=0
    )
    torch.testing.assert_close(
        ddp_record["epoch_accuracy"], one_record["epoch_accuracy"], atol=1.01 / 301, rtol=0
    )
    assert ddp_record["device"] == "2 x cpu (torchrun)" and one_record["device"] == "cpu"


@pytest.mark.slow  # the runs fixture: torchrun ranks in fresh processes (about 9 s)
def test_with_batchnorm_two_cpu_ranks_train_what_per_share_statistics_give(runs):
    ddp = runs["ddp"][0]["learner"]["weights"]
    per_share = runs["one"]["per_share"]
    assert _max_difference(ddp, per_share) < 1e-5  # weights and running statistics


@pytest.mark.slow  # the runs fixture: torchrun ranks in fresh processes (about 9 s)
def test_per_rank_batchnorm_statistics_change_the_cpu_result_measurably(runs):
    """The docstring of ``distributed`` says CPU ranks normalise with their own share: the learner
    is not the one-process learner (difference measured in the module docstring above)."""
    ddp = runs["ddp"][0]["learner"]["weights"]
    one = runs["one"]["learner"]["weights"]
    keys = _parameters(one)
    assert _max_difference(ddp, one, keys) > 1e-3


# ---------------------------------------------------------------------------- the model cache
@pytest.mark.slow  # the runs fixture: torchrun ranks in fresh processes (about 9 s)
def test_rank0_alone_writes_the_cache_and_the_other_rank_loads_it(runs):
    rank0, rank1 = (r["learner"] for r in runs["ddp"])
    assert rank0["calls"] == [["save"], ["load_into"]]
    assert rank1["calls"] == [["load_into"], ["load_into"]]
    assert rank0["from_cache"] == rank1["from_cache"] == [False, True]
    assert rank0["record"] == rank1["record"]  # rank 1 took rank 0's record from the file
    for state in (rank1["weights"], rank0["reloaded"], rank1["reloaded"]):
        assert _max_difference(rank0["weights"], state) == 0.0
    folder = Path(rank0["cache_file"]).parent
    assert [p.name for p in folder.iterdir()] == [Path(rank0["cache_file"]).name]
    saved = torch.load(rank0["cache_file"], weights_only=True)["state_dict"]
    assert _max_difference(rank0["weights"], saved) == 0.0


@pytest.mark.slow  # the runs fixture: torchrun ranks in fresh processes (about 9 s)
def test_dp_sgd_is_refused_under_torchrun_in_one_line(runs):
    message = runs["ddp"][0]["dp_error"]
    assert "DP-SGD" in message and "torchrun (2 processes)" in message and "\n" not in message
    assert runs["one"]["dp_error"] is None


# ---------------------------------------------------------------- the helpers, in one process
def test_shard_cuts_uneven_batches_into_near_equal_contiguous_slices():
    batch = torch.arange(10)
    parts = [distributed.shard(batch, 3, r) for r in range(3)]
    assert [p.tolist() for p in parts] == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]
    parts = [distributed.shard(torch.arange(45), 2, r) for r in range(2)]
    assert [len(p) for p in parts] == [23, 22] and torch.equal(torch.cat(parts), torch.arange(45))
    assert distributed.shard(batch) is batch  # one process: the whole batch
    with pytest.raises(ValueError, match="rank 3 is not one of the 3 ranks"):
        distributed.shard(batch, 3, 3)


def test_scaled_share_losses_average_to_the_global_mean():
    losses = torch.rand(45, dtype=torch.float64)
    world = 4
    shares = [distributed.shard(losses, world, r) for r in range(world)]
    averaged = sum(
        distributed.scale_share_loss(s.mean(), len(s), len(losses), world) for s in shares
    )
    torch.testing.assert_close(averaged / world, losses.mean())
    one = losses.mean()
    assert distributed.scale_share_loss(one, 45, 45) is one


def test_a_batch_with_fewer_images_than_ranks_is_refused_before_training():
    with pytest.raises(
        ValueError, match="257 training images in batches of 256 leave a batch of 1"
    ):
        distributed.check_batches(257, 256, world=2)
    with pytest.raises(ValueError, match="needs at least 4 images in every batch"):
        distributed.check_batches(3, 256, world=4)
    distributed.check_batches(258, 256, world=2)
    distributed.check_batches(301, 64, world=2)
    distributed.check_batches(1, 256, world=1)


def test_without_a_process_group_everything_is_as_in_one_process(monkeypatch):
    for name in _LAUNCH_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert distributed.init_from_env() is None and not distributed.is_distributed()
    assert (distributed.world_size(), distributed.rank(), distributed.is_main()) == (1, 0, True)
    model = torch.nn.Linear(2, 2)
    wrapped, unwrap = distributed.wrap_model(model, torch.device("cpu"))
    assert wrapped is model
    unwrap()
    written = []
    assert distributed.write_on_rank0(lambda: written.append(1)) is False and written == [1]
    assert distributed.all_ranks(True) and not distributed.all_ranks(False)
    distributed.refuse("DP-SGD")  # nothing to refuse in one process
    assert distributed.device_label(torch.device("cpu")) == "cpu"
    total = torch.tensor(3.0)
    distributed.all_reduce_sum(total)
    assert float(total) == 3.0
    assert type(distributed.parallel()) is Parallel  # train's own default: one process


def test_the_torchrun_strategy_is_the_functions_above_and_a_no_op_without_a_group(monkeypatch):
    """``DataParallel`` (what ``parallel()`` gives under torchrun) answers ``train``'s questions
    with this module's functions, which do nothing without a process group."""
    for name in _LAUNCH_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    strategy = distributed.DataParallel(torch.device("cpu"))
    assert isinstance(strategy, Parallel) and strategy.device() == torch.device("cpu")
    batch, model = torch.arange(5), torch.nn.Linear(2, 2)
    assert strategy.share(batch) is batch and strategy.wrap(model, strategy.device())[0] is model
    loss = torch.tensor(2.0)
    assert strategy.scale_loss(loss, 5, 5) is loss and strategy.is_main()
    written: list = []
    assert strategy.write_once(lambda: written.append(1)) is False and written == [1]
    assert strategy.agree(True) and not strategy.agree(False)
    assert strategy.label(torch.device("cpu")) == "cpu"
    strategy.refuse("DP-SGD")
    strategy.check_batches(1, 256)


def test_syncbatchnorm_swapped_in_for_cuda_gives_back_the_trained_batchnorm_layers():
    """What ``wrap_model`` does on CUDA, checked on the CPU (no process group is needed to swap)."""
    from anw_helpers import models

    model = models.build_model("small_resnet", width=4)
    before = {name: type(m) for name, m in model.named_modules()}
    parameters = list(model.parameters())
    restore = distributed._sync_batchnorm(model)
    synced = [m for m in model.modules() if isinstance(m, torch.nn.SyncBatchNorm)]
    assert len(synced) == sum(t is torch.nn.BatchNorm2d for t in before.values()) > 0
    assert all(a is b for a, b in zip(model.parameters(), parameters))  # the optimizer's tensors
    with torch.no_grad():
        synced[0].weight.fill_(2.0)
        synced[0].running_mean.fill_(0.5)
    restore()
    assert {name: type(m) for name, m in model.named_modules()} == before
    first = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert bool((first.weight == 2.0).all()) and bool((first.running_mean == 0.5).all())


# ---------------------------------------------------------------------------- the command line
def test_the_command_refuses_unknown_settings_in_one_line(capsys):
    assert distributed.main(["--profile", "ci", "--set", "epoch=3"]) == 2
    err = capsys.readouterr().err
    assert "unknown setting(s) 'epoch'" in err and err.count("\n") == 1
    assert distributed.main(["--profile", "ci", "--set", "schedule=cosine"]) == 2
    assert "schedule must be 'onecycle' or 'step'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        distributed.main(["--set", "seed"])


TINY_SETTINGS = [
    "--profile", "ci", "--set", "n_train=300", "--set", "user_sizes=10", "--set", "keys=[90]",
    "--set", "n_test=100", "--set", "width=4", "--set", "epochs=1", "--set", "batch_size=64",
]  # fmt: skip


def test_the_command_trains_one_learner_in_one_process(cifar_train, capsys):
    assert distributed.main(TINY_SETTINGS) == 0
    out = capsys.readouterr().out
    assert "cached in" in out or "loaded from" in out
    assert " accuracy; " in out and "images/s on " in out


@pytest.mark.slow  # two processes, each loading CIFAR-10 and training
def test_the_readme_command_trains_one_learner_under_torchrun(cifar_train):
    env = _env(Path(os.environ.get("ANW_CACHE") or Path.home() / ".cache" / "anw"))
    command = TORCHRUN + ["-m", "tools.distributed", *TINY_SETTINGS, "--retrain"]
    out = _run(command, env)
    assert out.count("trained and cached in") == 1, out  # rank 0 alone prints
    assert "images/s on 2 x cpu (torchrun)" in out
