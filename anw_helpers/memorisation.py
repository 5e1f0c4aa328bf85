"""Memorisation estimate (paper Sec. 5.6): does watermarking make a network memorise the user's
photos more?

Feldman & Zhang (2020) define the memorisation of a training example (x, y) by a training algorithm
A as

    mem(x) = P[h(x) = y | h = A(S), x in S] - P[h(x) = y | h = A(S), x not in S]

over random training subsets S of the data set. It is estimated with models trained on subsamples:
the accuracy on x of the models that trained on x minus that of the models that did not. Sec. 5.6 of
the paper reports the mean over the user's photos: 26.8 % clean, 34.8 % watermarked.

Here the subsamples come in **complementary pairs**: each pair splits the pool at random into two
halves and trains one model on each, so every example is "in" for exactly one model of the pair and
"out" for the other. With P pairs, every example's estimate rests on P + P models ("an estimate from
P + P models"). The same splits are used for the clean and the watermarked pool, so the two
estimates differ only by the user's hue (a paired design, less noisy than two independent sets of
splits).

Subsampled models must fit their training subsets, or "in" means nothing:
:func:`train_subsampled_models` reports every model's training accuracy, and
:class:`MemorisationEstimate` keeps it.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor, nn

from .checkpoint import cache_path, load_or_train
from .datasets import ImageSet, to_float
from .profiles import PROFILES, SMOKE, LearnerConfig, MemorisationPlan
from .runtime import choose_device
from .train import TrainedLearner, TrainRecord, accuracy, fit, predict_logits, train_learner
from .users import LearnerData, User

__all__ = [
    "MemorisationPlan",
    "MEMORISATION_PLANS",
    "memorisation_plan",
    "complementary_splits",
    "fine_tune",
    "train_subsampled_models",
    "correctness",
    "MemorisationEstimate",
    "memorisation_estimate",
]


#: Every profile's lesson-08 plan by name: a view of ``profile.lessons.memorisation``, where the
#: plans are defined (anw_helpers/profiles.py).
MEMORISATION_PLANS: dict[str, MemorisationPlan] = {
    name: profile.lessons.memorisation
    for name, profile in {**PROFILES, SMOKE.name: SMOKE}.items()
    if profile.lessons.memorisation is not None
}


def memorisation_plan(profile_name: str) -> MemorisationPlan:
    """The memorisation plan of a profile (``ci``, ``cpu``, ``colab``, ``gpu`` or ``paper``)."""
    if profile_name not in MEMORISATION_PLANS:
        raise ValueError(
            f"no memorisation plan for profile {profile_name!r}; expected one of "
            f"{', '.join(MEMORISATION_PLANS)}."
        )
    return MEMORISATION_PLANS[profile_name]


def complementary_splits(n: int, n_pairs: int, seed: int = 0) -> Tensor:
    """Membership masks for ``2 * n_pairs`` subsampled models over a pool of ``n`` examples (Sec.
    5.6).

    Row 2j is a random half of the pool (``n // 2`` examples), row 2j + 1 its complement, so each
    example is in exactly one model of every pair. Returns a bool tensor of shape (2 * n_pairs, n).
    Seeded.
    """
    if not isinstance(n, int) or n < 2:
        raise ValueError(
            f"the pool needs at least 2 examples to be split in halves; got n = {n!r}."
        )
    if not isinstance(n_pairs, int) or n_pairs < 1:
        raise ValueError(f"n_pairs must be an integer >= 1; got {n_pairs!r}.")
    g = torch.Generator().manual_seed(seed)
    masks = torch.zeros(2 * n_pairs, n, dtype=torch.bool)
    for j in range(n_pairs):
        half = torch.randperm(n, generator=g)[: n // 2]
        masks[2 * j, half] = True
        masks[2 * j + 1] = ~masks[2 * j]
    return masks


def _state_digest(model: nn.Module) -> str:
    h = hashlib.sha1()
    for name, value in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(value.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def fine_tune(
    base: nn.Module, data: LearnerData, config: LearnerConfig, progress: bool = False
) -> TrainedLearner:
    """Train a copy of ``base`` on ``data.train`` with the learner's pipeline
    (``train.make_train_step``: augmentation, SGD, schedule, all from ``config``) for
    ``config.epochs`` epochs; ``base`` is untouched.

    The subsampled models of Sec. 5.6 in the small profiles start from a public network that never
    saw the pool, so that a few epochs fit the subset. Cached under ``$ANW_CACHE/models`` by the
    config, the data's pixels and the base's weights. Returns a ``TrainedLearner`` (training, test
    and tracked-photo accuracy).
    """
    device = choose_device()
    settings = {
        "kind": "fine_tune",
        "config": dataclasses.asdict(config),
        "data": data.train.fingerprint(),
        "base": _state_digest(base),
    }

    def build(for_training: bool) -> nn.Module:
        model = copy.deepcopy(base).to(device, memory_format=torch.channels_last)
        for p in model.parameters():
            p.requires_grad_(p.requires_grad or for_training)
        return model

    def train(model: nn.Module) -> str:
        record = fit(
            model,
            data.train.images,
            data.train.labels,
            config,
            device,
            progress,
            desc="fine-tuning",
        )
        model.eval()
        record.train_accuracy = accuracy(model, data.train.images, data.train.labels)
        record.test_accuracy = accuracy(model, data.test.images, data.test.labels)
        tracked = [u for u in data.users if len(u)]
        if tracked:
            images = torch.cat([data.train.images[u.indices] for u in tracked])
            record.user_accuracy = accuracy(model, images, torch.cat([u.labels for u in tracked]))
        return record.to_json()

    path = cache_path("finetune", settings)
    done = load_or_train(path, build, train, dataclasses.asdict(config))
    record = TrainRecord.from_json(done.record)
    return TrainedLearner(done.model, data, config, record, done.from_cache, path)


def train_subsampled_models(
    pool: ImageSet,
    masks: Tensor,
    config: LearnerConfig,
    test: ImageSet,
    tracked: Optional[Tensor] = None,
    start_from: Optional[nn.Module] = None,
    progress: bool = False,
) -> list[TrainedLearner]:
    """Train one model per row of ``masks`` on that subset of ``pool`` (cached by pixels; Sec. 5.6).

    From scratch with :func:`anw_helpers.train.train_learner`, or, with ``start_from``, by
    fine-tuning a copy of that network (:func:`fine_tune`). ``tracked`` (pool positions, e.g. the
    user's photos) only labels the records: each model's ``record.user_accuracy`` is its accuracy on
    the tracked photos it trained on. ``test`` gives every record a test accuracy. Returns the
    models in the order of ``masks``.
    """
    if masks.dtype != torch.bool or masks.dim() != 2 or masks.shape[1] != len(pool):
        raise ValueError(
            f"masks must be a bool tensor of shape (models, {len(pool)}); got {masks.dtype} "
            f"{tuple(masks.shape)}."
        )
    if bool((masks.sum(dim=1) == 0).any()):
        raise ValueError(
            "every subsampled model needs at least one training example; a row of masks is empty."
        )
    tracked = torch.empty(0, dtype=torch.int64) if tracked is None else tracked.long()
    models = []
    for row in masks:
        idx = row.nonzero().squeeze(1)
        train = pool.subset(idx)
        position = torch.full((len(pool),), -1, dtype=torch.int64)
        position[idx] = torch.arange(len(idx))
        inside, outside = tracked[row[tracked]], tracked[~row[tracked]]
        user = User(
            "tracked", pool.images[inside], pool.labels[inside], None, None, position[inside]
        )
        rest = User("tracked-out", pool.images[outside], pool.labels[outside], None, None, outside)
        data = LearnerData(train, [user], rest, test)
        if start_from is None:
            models.append(train_learner(config, data=data, progress=progress))
        else:
            models.append(fine_tune(start_from, data, config, progress=progress))
    return models


def correctness(models: Sequence[TrainedLearner], images: Tensor, labels: Tensor) -> Tensor:
    """Whether each model classifies each image correctly: a bool tensor (models, images).

    ``images`` are uint8 (N, 3, H, W) or floats in [0, 1]; ``labels`` (N,).
    """
    if len(models) == 0:
        raise ValueError("correctness needs at least one model; got none.")
    x = to_float(images) if images.dtype == torch.uint8 else images
    if x.dim() != 4 or labels.shape != (len(x),):
        raise ValueError(
            f"need images (N, 3, H, W) and labels (N,); got {tuple(x.shape)} and "
            f"{tuple(labels.shape)}."
        )
    return torch.stack([predict_logits(m.model, x).argmax(1) == labels for m in models])


@dataclass
class MemorisationEstimate:
    """Per-example Feldman-Zhang estimate: accuracy of the in-models, of the out-models, and their
    difference."""

    mem: Tensor  # (N,) mem(x) = in_accuracy - out_accuracy
    in_accuracy: Tensor  # (N,) share of the models that trained on x and classify it correctly
    out_accuracy: Tensor  # (N,) the same for the models that did not train on x
    n_in: Tensor  # (N,) how many models trained on x
    n_out: Tensor  # (N,) how many did not

    def mean(self) -> float:
        """Mean memorisation over the examples (Sec. 5.6 reports this for the user's photos)."""
        return float(self.mem.double().mean())

    def sd_of_mean(self) -> float:
        """Standard error of the mean over examples (examples vary; the models are shared, so this
        is a floor)."""
        n = len(self.mem)
        return float(self.mem.double().std() / n**0.5) if n > 1 else float("nan")

    def label(self) -> str:
        """How many models each example's estimate rests on, e.g. "estimate from 2 + 2 models"."""
        lo_in, lo_out = int(self.n_in.min()), int(self.n_out.min())
        hi_in, hi_out = int(self.n_in.max()), int(self.n_out.max())
        same = lo_in == hi_in and lo_out == hi_out
        return (
            f"estimate from {lo_in} + {lo_out} models"
            if same
            else f"estimate from {lo_in}-{hi_in} + {lo_out}-{hi_out} models"
        )


def memorisation_estimate(correct: Tensor, member: Tensor) -> MemorisationEstimate:
    """Feldman & Zhang's subsampled estimate of mem(x) (Sec. 5.6) from per-model correctness and
    membership.

    ``correct[m, i]``: model m classifies example i correctly; ``member[m, i]``: example i was in
    model m's training subset. Both (models, N), bool. Every example needs at least one in-model and
    one out-model.
    """
    if not isinstance(correct, Tensor) or not isinstance(member, Tensor):
        raise TypeError("correct and member must be tensors of shape (models, examples).")
    if correct.shape != member.shape or correct.dim() != 2:
        raise ValueError(
            f"correct and member must have the same shape (models, examples); got "
            f"{tuple(correct.shape)} and {tuple(member.shape)}."
        )
    if correct.shape[1] == 0:
        raise ValueError("no examples to estimate memorisation for (0 columns).")
    correct, member = correct.bool(), member.bool()
    n_in, n_out = member.sum(dim=0), (~member).sum(dim=0)
    if bool((n_in == 0).any()) or bool((n_out == 0).any()):
        bad = int(((n_in == 0) | (n_out == 0)).sum())
        raise ValueError(
            f"{bad} example(s) have no model that trained on them or none that did not; "
            f"each needs at least one of each (use complementary_splits)."
        )
    c = correct.double()
    in_acc = (c * member).sum(dim=0) / n_in
    out_acc = (c * ~member).sum(dim=0) / n_out
    return MemorisationEstimate(in_acc - out_acc, in_acc, out_acc, n_in, n_out)
