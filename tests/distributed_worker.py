"""Trains the tiny models of tests/test_distributed.py and saves what the test compares.

Run twice by the test, with the same settings: as two CPU processes under torchrun (gloo),
``python -m torch.distributed.run --standalone --nproc_per_node=2 tests/distributed_worker.py OUT``,
and as one plain process, ``python tests/distributed_worker.py OUT``. Either way it trains with
``distributed.parallel()``'s strategy, passed to ``train`` from outside. ``ANW_CACHE`` must be a
fresh folder (the learner's cache file is watched). Writes, per rank r, ``OUT/rank{r}.pt`` holding:

- ``plain``: the weights and record of a BatchNorm-free network trained by ``train.fit`` on
  synthetic uint8 images (301 of them in batches of 64: the last batch, 45, splits 23 + 22);
- ``learner``: the weights and record of a ``train.train_learner`` small ResNet (BatchNorm) on the
  same kind of data, trained (first call) and loaded from the cache (second call), with which
  rank called ``checkpoint.save`` and ``checkpoint.load_into``;
- ``per_share``: in one process only, the same small ResNet trained by ``train.fit`` with the
  BatchNorm statistics of two shares of each batch (:class:`PerShareBatchNorm`), what two CPU ranks
  compute;
- ``dp_error``: what ``make_train_step`` says to DP-SGD (under torchrun; None in one process).
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import torch
from torch import nn

from anw_helpers import models, train
from anw_helpers.datasets import ImageSet
from anw_helpers.machinery import checkpoint
from anw_helpers.recipe import DataSetting, LearnerConfig, TrainingRecipe
from anw_helpers.users import build_learner_data
from tools import distributed

CLASSES = tuple(f"class{i}" for i in range(10))
PLAIN = TrainingRecipe(width=4, epochs=2, batch_size=64, augment="crop_flip", seed=3)
PLAIN_N_TRAIN = 301
LEARNER = LearnerConfig(
    DataSetting(n_train=301, user_sizes=(10,), keys=(90.0,), n_test=40),
    TrainingRecipe(width=4, epochs=2, batch_size=64),
)


def synthetic(n: int, seed: int) -> ImageSet:
    """``n`` random 32 x 32 uint8 images with random labels of ten classes."""
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8)
    return ImageSet(images, torch.randint(0, 10, (n,), generator=g), CLASSES)


def plain_network() -> nn.Module:
    """A small convolutional network without BatchNorm (and without dropout), seeded."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(4),
        nn.Flatten(),
        nn.Linear(8 * 8 * 8, 10),
    )


class PerShareBatchNorm(nn.Module):
    """``model`` as ``world`` CPU ranks train it under DDP: each share of a batch (``shard``) goes
    through the model on its own, so BatchNorm normalises with the share's statistics; the running
    statistics follow share 0 alone (DDP sends rank 0's buffers to the others before each forward
    pass). The mean loss over the concatenated logits has the gradient DDP averages."""

    def __init__(self, model: nn.Module, world: int) -> None:
        super().__init__()
        self.model, self.world = model, world

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return self.model(x)
        norms = [m for m in self.model.modules() if isinstance(m, nn.BatchNorm2d)]
        names = ("running_mean", "running_var", "num_batches_tracked")
        out = [self.model(distributed.shard(x, self.world, 0))]
        for index in range(1, self.world):
            kept = [[getattr(m, n) for n in names] for m in norms]
            for m in norms:  # updates of ranks > 0 go to copies that are then dropped
                for n in names:
                    setattr(m, n, getattr(m, n).clone())
            out.append(self.model(distributed.shard(x, self.world, index)))
            for m, tensors in zip(norms, kept):
                for n, t in zip(names, tensors):
                    setattr(m, n, t)
        return torch.cat(out)


def weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def logged(calls: list[str], name: str):
    """Wrap ``checkpoint.<name>`` so that each call is noted in ``calls``."""
    original = getattr(checkpoint, name)

    def wrapper(*args, **kwargs):
        calls.append(name)
        return original(*args, **kwargs)

    setattr(checkpoint, name, wrapper)


def main(out: Path) -> None:
    parallel = distributed.parallel()  # torchrun: DDP over the ranks; else one process
    device = parallel.device()
    net = plain_network()
    init = weights(net)
    data = synthetic(PLAIN_N_TRAIN, seed=1)
    plain = train.fit(net, data.images, data.labels, PLAIN, device, False, parallel=parallel)

    dp_error = None
    if distributed.is_distributed():
        try:
            dp = replace(PLAIN, dp_noise_multiplier=1.0)
            train.make_train_step(plain_network(), dp, device, 1, parallel=parallel)
        except ValueError as exc:
            dp_error = str(exc)

    calls: list[str] = []
    logged(calls, "save")
    logged(calls, "load_into")
    train_set, test_set = synthetic(400, seed=2), synthetic(100, seed=4)
    learner_data = build_learner_data(
        train_set,
        test_set,
        LEARNER.data.n_train,
        LEARNER.data.user_sizes,
        LEARNER.data.keys,
        n_test=40,
    )
    first = train.train_learner(LEARNER, progress=False, data=learner_data, parallel=parallel)
    first_calls = list(calls)
    second = train.train_learner(LEARNER, progress=False, data=learner_data, parallel=parallel)
    per_share = None
    if not distributed.is_distributed():
        recipe = LEARNER.recipe
        resnet = models.build_model(recipe.model, 10, recipe.width, recipe.seed)
        resnet = resnet.to(device, memory_format=torch.channels_last)
        images, labels = learner_data.train.images, learner_data.train.labels
        train.fit(PerShareBatchNorm(resnet, 2), images, labels, recipe, device, progress=False)
        per_share = weights(resnet)
    torch.save(
        {
            "world": distributed.world_size(),
            "plain": {"init": init, "weights": weights(net), "record": plain.to_json()},
            "learner": {
                "weights": weights(first.model),
                "record": first.record.to_json(),
                "from_cache": [first.from_cache, second.from_cache],
                "calls": [first_calls, calls[len(first_calls) :]],
                "cache_file": str(first.cache_path),
                "reloaded": weights(second.model),
            },
            "per_share": per_share,
            "dp_error": dp_error,
        },
        out / f"rank{distributed.rank()}.pt",
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
