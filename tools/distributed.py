"""One learner on several GPUs (or CPU processes) with torchrun: DistributedDataParallel (DDP).

    torchrun --standalone --nproc_per_node=4 -m tools.distributed --profile paper

Launched by torchrun (it sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT),
:func:`parallel` starts the process group (``nccl`` on GPUs, ``gloo`` on CPUs) and returns the
strategy (:class:`DataParallel`) that ``train.train_learner(config, parallel=...)`` (and
``train.fit``, ``train.train_model``) take: each rank then trains on ``cuda:LOCAL_RANK`` (or the
CPU). The training code knows nothing of processes or ranks: it calls the strategy's methods
(``train.Parallel``, whose default is one process) at the few points where N processes differ from
one, and this module supplies the torchrun answers. Without a process group every function here
does nothing, and one process trains exactly as before, bit for bit. The command below
(:func:`main`) passes the strategy in.

How the course's pipeline (``train.fit``, ``train.make_train_step``) is split:

- Every rank holds the whole training set on its device (uint8) and draws the same batch order from
  the same seeded generator. A batch is ``batch_size`` images whatever N is, the learning rate and
  schedule are the profile's: the effective batch and learning rate do not change with N.
- Every rank augments the whole global batch with the same seeded generator, so it draws the same
  crops and flips as one process does, then keeps its share (:func:`shard`: N contiguous slices of
  nearly equal size; in an uneven last batch the first ranks get one image more). Augmenting N
  times is cheap next to the network's forward and backward pass, and keeps the results comparable
  with one process. Adversarial examples (Sec. 5.3) are likewise computed for the whole global
  batch on every rank: adversarial training is not sped up.
- Each rank's loss, the mean over its share, is scaled by N x share / batch
  (:func:`scale_share_loss`), so that DDP's average of the ranks' gradients is the gradient of the
  mean over the global batch, also for an uneven last batch.
- BatchNorm: on CUDA, SyncBatchNorm normalises each layer with the statistics of the global batch,
  as one process does (the model gets its own BatchNorm layers back after training). PyTorch has no
  SyncBatchNorm for CPUs, so under gloo each rank normalises with the statistics of its own share
  (batch / N images): noisier statistics, so gradients, and the trained weights, differ from one
  process's by more than rounding (tests/test_distributed.py measures how much), and the running
  statistics saved are rank 0's (DDP sends rank 0's buffers to the others before every forward
  pass). Without BatchNorm a CPU run in N processes matches one process to rounding.
- Per-epoch loss and accuracy are summed over the ranks (:func:`all_reduce_sum`): the training
  record holds global values. Progress bars show on rank 0 only.
- The model cache (``checkpoint.load_or_train``, which asks its caller): a cached model is used only
  if every rank can load it (:func:`all_ranks`); after training, rank 0 alone writes the file
  (atomically) while the others wait (:func:`write_on_rank0`), then they load it, so every rank
  ends with the model in the file.
  ``ANW_CACHE`` must therefore be a folder every rank reads (on several nodes: a shared one).
- DP-SGD (Opacus) is refused under torchrun (:func:`refuse`): train it in one process.

On a Slurm cluster, several nodes: in a submitit job of ``nodes x tasks_per_node`` tasks,
``submitit.helpers.TorchDistributedEnvironment().export()`` sets the same variables torchrun does;
``train_learner(config, parallel=distributed.parallel())`` then trains distributed the same way.
Tested here with gloo on CPUs only: the nccl path (GPUs) and multi-node runs have not been run.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import sys
from collections.abc import Sequence
from typing import Callable, Optional

import torch
from torch import Tensor, nn
from torch import distributed as dist

from anw_helpers.machinery.runtime import choose_device, launched_by_torchrun
from anw_helpers.train import Parallel, train_learner

__all__ = [
    "DataParallel",
    "parallel",
    "launched_by_torchrun",
    "init_from_env",
    "is_distributed",
    "world_size",
    "rank",
    "local_rank",
    "is_main",
    "shard",
    "check_batches",
    "scale_share_loss",
    "wrap_model",
    "refuse",
    "all_reduce_sum",
    "all_ranks",
    "write_on_rank0",
    "device_label",
    "teardown",
    "main",
]


# ------------------------------------------------------------------------ the process group
def local_rank() -> int:
    """This process's rank on its machine (``LOCAL_RANK``; 0 outside torchrun)."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def init_from_env() -> Optional[torch.device]:
    """Start the process group from torchrun's environment (once) and return this rank's device.

    ``cuda:LOCAL_RANK`` with ``nccl`` when the course's device (``runtime.choose_device``, which
    honours ``ANW_DEVICE``) is a GPU, else the CPU with ``gloo``. Returns None, and starts nothing,
    when the process was not launched by torchrun. The group is destroyed at exit
    (:func:`teardown`).
    """
    if not launched_by_torchrun():
        return None
    cuda = choose_device().type == "cuda"
    device = torch.device("cuda", local_rank()) if cuda else torch.device("cpu")
    if not is_distributed():
        if cuda:
            torch.cuda.set_device(device)
            dist.init_process_group("nccl")
        else:
            dist.init_process_group("gloo")
        atexit.register(teardown)
    return device


def teardown() -> None:
    """Destroy the process group, if there is one (registered at exit by :func:`init_from_env`)."""
    if is_distributed():
        dist.destroy_process_group()


def is_distributed() -> bool:
    """True when a process group is running (several ranks train one model)."""
    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    """The number of ranks (1 without a process group)."""
    return dist.get_world_size() if is_distributed() else 1


def rank() -> int:
    """This process's global rank (0 without a process group)."""
    return dist.get_rank() if is_distributed() else 0


def is_main() -> bool:
    """True on rank 0, the one that writes files and prints (always True in one process)."""
    return rank() == 0


def device_label(device: torch.device) -> str:
    """The training device for the record: ``str(device)`` in one process, else e.g.
    ``"4 x cuda (torchrun)"``."""
    if not is_distributed():
        return str(device)
    return f"{world_size()} x {device.type} (torchrun)"


# ----------------------------------------------------------------------- splitting the batch
def shard(batch: Tensor, world: Optional[int] = None, index: Optional[int] = None) -> Tensor:
    """This rank's share of a global batch (along dim 0); the whole batch in one process.

    The batch is cut into ``world`` contiguous slices whose sizes differ by at most one (the first
    ``len(batch) % world`` ranks get one image more); ``world`` and ``index`` default to the
    process group's size and this rank.
    """
    world = world_size() if world is None else world
    index = rank() if index is None else index
    if world == 1:
        return batch
    if not 0 <= index < world:
        raise ValueError(f"rank {index} is not one of the {world} ranks.")
    return batch.tensor_split(world)[index]


def check_batches(n: int, batch_size: int, world: Optional[int] = None) -> None:
    """Refuse a split that leaves a rank without images: every batch of an epoch of ``n`` images
    in batches of ``batch_size`` (the last holds ``n % batch_size``) needs at least one per rank."""
    world = world_size() if world is None else world
    smallest = n % batch_size or batch_size  # a single batch of n < batch_size: n
    if world > 1 and smallest < world:
        raise ValueError(
            f"torchrun with {world} processes needs at least {world} images in every batch, but "
            f"{n} training images in batches of {batch_size} leave a batch of {smallest}; change "
            "n_train or batch_size, or use fewer processes."
        )


def scale_share_loss(loss: Tensor, share: int, total: int, world: Optional[int] = None) -> Tensor:
    """The loss to back-propagate on this rank: its ``share``'s mean loss times
    ``world * share / total``.

    DDP averages the ranks' gradients; with this scale the average is the gradient of the mean loss
    over the whole global batch of ``total`` images, even when the shares differ in size. ``loss``
    itself in one process.
    """
    world = world_size() if world is None else world
    if world == 1:
        return loss
    return loss * (world * share / total)


# --------------------------------------------------------------------------------- the model
def _sync_batchnorm(model: nn.Module) -> Callable[[], None]:
    """Swap every BatchNorm of ``model`` for a SyncBatchNorm sharing its weights and statistics;
    returns the function that puts the original layers back (with the trained values)."""
    norms = nn.modules.batchnorm._BatchNorm
    originals = [(name, m) for name, m in model.named_modules() if name and isinstance(m, norms)]
    nn.SyncBatchNorm.convert_sync_batchnorm(model)  # replaces the children in place

    def restore() -> None:
        for name, original in originals:
            parent, _, child = name.rpartition(".")
            owner = model.get_submodule(parent)
            synced = getattr(owner, child)
            original.load_state_dict(synced.state_dict())
            original.train(synced.training)
            setattr(owner, child, original)

    return restore


def wrap_model(model: nn.Module, device: torch.device) -> tuple[nn.Module, Callable[[], None]]:
    """The module to train and the function that undoes the wrapping after training.

    Under torchrun: ``model`` in DistributedDataParallel (it starts from rank 0's weights and
    averages the gradients), with SyncBatchNorm on CUDA (none exists for CPUs; see the module's
    docstring for what that changes). In one process: ``model`` itself and a function that does
    nothing.
    """
    if not is_distributed():
        return model, lambda: None
    cuda = device.type == "cuda"
    restore = _sync_batchnorm(model) if cuda else (lambda: None)
    wrapped = nn.parallel.DistributedDataParallel(model, device_ids=[device] if cuda else None)
    return wrapped, restore


def refuse(what: str) -> None:
    """Raise a one-line error when ``what`` (a training option DDP cannot run) is asked for under
    torchrun."""
    if is_distributed():
        raise ValueError(
            f"{what} cannot run under torchrun ({world_size()} processes) in this course: train "
            "that learner in one process (python instead of torchrun)."
        )


# ----------------------------------------------------------------------------- collectives
def _collective_device() -> torch.device:
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_reduce_sum(*tensors: Tensor) -> None:
    """Sum each tensor over the ranks, in place (nothing in one process): the epoch's totals."""
    if is_distributed():
        for t in tensors:
            dist.all_reduce(t, op=dist.ReduceOp.SUM)


def all_ranks(flag: bool) -> bool:
    """True only when ``flag`` is True on every rank (``flag`` itself in one process): one decision
    that all ranks share, e.g. whether the cached model can be used."""
    if not is_distributed():
        return bool(flag)
    value = torch.tensor(int(bool(flag)), device=_collective_device())
    dist.all_reduce(value, op=dist.ReduceOp.MIN)
    return bool(value.item())


def write_on_rank0(write: Callable[[], None]) -> bool:
    """Run ``write()`` on rank 0 alone while the other ranks wait for it; True on the ranks that
    should now read what it wrote.

    In one process ``write()`` runs and the answer is False. Under torchrun an error in rank 0's
    ``write()`` is raised there, and the other ranks raise one naming it, instead of waiting
    forever.
    """
    if not is_distributed():
        write()
        return False
    error: Optional[BaseException] = None
    if is_main():
        try:
            write()
        except Exception as exc:  # noqa: BLE001 - re-raised below, after the others are told
            error = exc
    if not all_ranks(error is None):  # also the barrier: the file is complete after it
        if error is not None:
            raise error
        raise RuntimeError("rank 0 failed to write its file (its error is in rank 0's output).")
    return not is_main()


# ------------------------------------------------------------------- the strategy for train.py
class DataParallel(Parallel):
    """``train.Parallel`` under torchrun: DDP over the process group's ranks (see the module's
    docstring for how a batch, the loss, BatchNorm and the model cache are split)."""

    def __init__(self, device: torch.device) -> None:
        self._device = device

    def device(self) -> torch.device:
        """This rank's device (``cuda:LOCAL_RANK``, or the CPU): :func:`init_from_env`'s."""
        return self._device

    def is_main(self) -> bool:
        """True on rank 0, the one that prints."""
        return is_main()

    def label(self, device: torch.device) -> str:
        """E.g. ``"4 x cuda (torchrun)"`` (:func:`device_label`)."""
        return device_label(device)

    def refuse(self, what: str) -> None:
        """Refuse what DDP cannot train, e.g. DP-SGD (:func:`refuse`)."""
        refuse(what)

    def check_batches(self, n: int, batch_size: int) -> None:
        """Refuse a batch with fewer images than ranks (:func:`check_batches`)."""
        check_batches(n, batch_size)

    def wrap(self, model: nn.Module, device: torch.device) -> tuple[nn.Module, Callable[[], None]]:
        """``model`` in DDP, with SyncBatchNorm on CUDA (:func:`wrap_model`)."""
        return wrap_model(model, device)

    def share(self, batch: Tensor) -> Tensor:
        """This rank's contiguous share of the global batch (:func:`shard`)."""
        return shard(batch)

    def scale_loss(self, loss: Tensor, share: int, total: int) -> Tensor:
        """The share's loss scaled so that DDP's average is the global mean's gradient
        (:func:`scale_share_loss`)."""
        return scale_share_loss(loss, share, total)

    def sum_over_processes(self, *tensors: Tensor) -> None:
        """The epoch's totals summed over the ranks (:func:`all_reduce_sum`)."""
        all_reduce_sum(*tensors)

    def agree(self, flag: bool) -> bool:
        """True only where ``flag`` holds on every rank (:func:`all_ranks`)."""
        return all_ranks(flag)

    def write_once(self, write: Callable[[], None]) -> bool:
        """Rank 0 writes, the others wait and then read (:func:`write_on_rank0`)."""
        return write_on_rank0(write)


def parallel() -> Parallel:
    """The training strategy for this process: :class:`DataParallel` when launched by torchrun
    (the process group started by :func:`init_from_env`), else ``train.Parallel()``, one process
    exactly as without this module."""
    device = init_from_env()
    return Parallel() if device is None else DataParallel(device)


# -------------------------------------------------------------------------- the command line
def _parse_setting(text: str) -> tuple[str, object]:
    """``NAME=VALUE``, VALUE read as JSON (``60``, ``[60, 150]``, ``null``) or else as text."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, e.g. seed=1; got {text!r}")
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = value
    return name.strip(), "none" if parsed is None else parsed


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.distributed",
        description="Train (or load from the model cache) one learner; under torchrun on several "
        "GPUs, e.g. torchrun --standalone --nproc_per_node=4 -m tools.distributed "
        "--profile paper --set seed=1 --set 'keys=[210]'. The settings are read as a sweep grid's "
        "[set] table, so the same learner in a grid (python -m tools.sweep) then loads "
        "from the cache.",
    )
    parser.add_argument("--profile", help="the base recipe (default: $ANW_PROFILE or automatic)")
    parser.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        type=_parse_setting,
        metavar="NAME=VALUE",
        help="change one LearnerConfig setting (repeatable), e.g. --set seed=1 --set 'keys=[60]'",
    )
    parser.add_argument("--retrain", action="store_true", help="train even if cached")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Train one learner (``train.train_learner`` with :func:`parallel`'s strategy), distributed
    when launched by torchrun; rank 0 prints its cache file and its accuracies. Returns the exit
    code (2 for bad settings).

    The settings become the config exactly as a sweep grid's ``[set]`` table would
    (``sweep.parse_grid``), so that the sweep finds this learner in the cache.
    """
    from anw_helpers.profiles import get_profile
    from tools.sweep import GridError, parse_grid

    args = _parser().parse_args(argv)
    try:
        grid = {"profile": args.profile or get_profile().name, "set": dict(args.settings)}
        config = parse_grid(grid, "the command line").jobs[0].config
    except (GridError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    learner = train_learner(config, progress=True, retrain=args.retrain, parallel=parallel())
    if is_main():
        r = learner.record
        how = "loaded from" if learner.from_cache else "trained and cached in"
        print(f"{how} {learner.cache_path}")
        print(
            f"train {r.train_accuracy:.3f}, test {r.test_accuracy:.3f}, user {r.user_accuracy:.3f}"
            f" accuracy; {r.images_per_second:.0f} images/s on {r.device} ({r.precision})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
