"""The learner (paper Sec. 3, 5.1): train a classifier on a training set that contains a user's watermarked images.

Fast on small machines: the whole training set stays on the device as uint8, augmentation runs
batch-wise on the device, bf16 autocast on CPU / fp16 AMP on CUDA, channels_last memory layout.
Load-or-train: a model is cached under ``$ANW_CACHE/models`` by a hash of every setting that shapes it
and of the training data itself; the same settings load in well under a second.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .augment import get_augmentation
from .color import color_space_from_seed
from .data import LearnerData, build_learner_data, load_cifar10, to_float
from .models import build_model
from .paths import atomic_write, cache_dir
from .profiles import LearnerConfig, get_profile
from .runtime import choose_device

__all__ = ["TrainRecord", "TrainedLearner", "learner_data", "train_learner", "predict_logits", "accuracy", "model_cache_key", "make_train_step"]

#: Bump when the training code changes in a way that changes the trained weights.
_TRAINING_CODE_VERSION = 2


@dataclass
class TrainRecord:
    """What happened in training: per-epoch loss/accuracy/lr/seconds and final accuracies."""

    epoch_loss: list[float] = field(default_factory=list)
    epoch_accuracy: list[float] = field(default_factory=list)
    epoch_lr: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    train_accuracy: float = float("nan")
    test_accuracy: float = float("nan")
    user_accuracy: float = float("nan")
    images_per_second: float = float("nan")
    device: str = ""

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "TrainRecord":
        return cls(**json.loads(text))


@dataclass
class TrainedLearner:
    """A trained model with its data (users, held-out user, test set), config and training record."""

    model: nn.Module
    data: LearnerData
    config: LearnerConfig
    record: TrainRecord
    from_cache: bool
    cache_path: Path


def learner_data(config: LearnerConfig) -> LearnerData:
    """Build the learner's data for ``config`` from CIFAR-10 (users watermarked in place, held-out user, test set)."""
    spaces = [color_space_from_seed(s) for s in config.color_space_seeds]
    return build_learner_data(
        load_cifar10("train"), load_cifar10("test"), config.n_train, config.user_sizes, config.keys,
        spaces, config.held_out_size, config.n_test, config.seed,
    )


def model_cache_key(config: LearnerConfig, data: LearnerData) -> str:
    """Hash of every setting that shapes the model and of the training data's identity (pixels and labels)."""
    payload = json.dumps(
        {"config": dataclasses.asdict(config), "data": data.train.fingerprint(), "code": _TRAINING_CODE_VERSION},
        sort_keys=True, default=str,
    )
    return hashlib.sha1(payload.encode()).hexdigest()[:20]


@torch.no_grad()
def predict_logits(model: nn.Module, images: Tensor, batch_size: int = 1000) -> Tensor:
    """Logits for float images in [0, 1] (any count), in eval mode and fp32, on the model's device."""
    model.eval()
    device = next(model.parameters()).device
    out = [model(images[i : i + batch_size].to(device)).float().cpu() for i in range(0, len(images), batch_size)]
    return torch.cat(out) if out else torch.empty(0)


def accuracy(model: nn.Module, images_uint8: Tensor, labels: Tensor) -> float:
    """Top-1 accuracy of ``model`` on uint8 images (converted to [0, 1] batch by batch)."""
    correct = 0
    for i in range(0, len(images_uint8), 1000):
        logits = predict_logits(model, to_float(images_uint8[i : i + 1000]))
        correct += int((logits.argmax(1) == labels[i : i + 1000]).sum())
    return correct / max(1, len(images_uint8))


def _autocast(device: torch.device):
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.float16)
    return torch.autocast("cpu", dtype=torch.bfloat16)


def _scheduler(opt: torch.optim.Optimizer, config: LearnerConfig, steps_per_epoch: int):
    total = config.epochs * steps_per_epoch
    if config.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=total, pct_start=0.25,
                                                   anneal_strategy="linear", div_factor=20, final_div_factor=200)
    return torch.optim.lr_scheduler.StepLR(opt, step_size=30 * steps_per_epoch, gamma=0.1)


def make_train_step(model: nn.Module, config: LearnerConfig, device: torch.device, steps_per_epoch: int) -> Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]:
    """One optimisation step of the fast pipeline: uint8 batch on the device -> float, batch-wise augmentation,
    channels_last, autocast (bf16 on CPU, fp16 AMP on CUDA), SGD + schedule. Returns ``step(x_uint8, y) -> (loss, logits)``."""
    opt = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                          weight_decay=config.weight_decay, nesterov=True)
    sched = _scheduler(opt, config, steps_per_epoch)
    scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda")
    augment = get_augmentation(config.augment)
    gen = torch.Generator(device=device).manual_seed(config.seed)

    def step(x_uint8: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        xb = augment(x_uint8.float().div_(255.0), gen).contiguous(memory_format=torch.channels_last)
        with _autocast(device):
            logits = model(xb)
            loss = F.cross_entropy(logits, y, label_smoothing=config.label_smoothing)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        sched.step()
        return loss.detach(), logits.detach()

    step.optimizer = opt  # type: ignore[attr-defined]
    return step


def _fit(model: nn.Module, data: LearnerData, config: LearnerConfig, device: torch.device, progress: bool) -> TrainRecord:
    from tqdm.auto import tqdm

    torch.manual_seed(config.seed)
    x_all, y_all = data.train.images.to(device), data.train.labels.to(device)
    n = len(y_all)
    step = make_train_step(model, config, device, math.ceil(n / config.batch_size))
    order_gen = torch.Generator(device=device).manual_seed(config.seed + 1)
    record = TrainRecord(device=str(device))
    bar = tqdm(range(config.epochs), desc=f"training {config.model} on {device}", unit="epoch", disable=not progress)
    for _ in bar:
        model.train()
        start, loss_sum, correct = time.perf_counter(), torch.zeros((), device=device), torch.zeros((), device=device)
        for idx in torch.randperm(n, device=device, generator=order_gen).split(config.batch_size):
            loss, logits = step(x_all[idx], y_all[idx])
            loss_sum += loss * len(idx)
            correct += (logits.argmax(1) == y_all[idx]).sum()
        record.epoch_seconds.append(time.perf_counter() - start)
        record.epoch_loss.append(float(loss_sum) / n)
        record.epoch_accuracy.append(float(correct) / n)
        record.epoch_lr.append(step.optimizer.param_groups[0]["lr"])  # type: ignore[attr-defined]
        bar.set_postfix(loss=f"{record.epoch_loss[-1]:.3f}", train_acc=f"{record.epoch_accuracy[-1]:.3f}")
    record.images_per_second = n * config.epochs / max(1e-9, sum(record.epoch_seconds))
    return record


def train_learner(
    config: Optional[LearnerConfig] = None,
    profile: Optional[str] = None,
    progress: bool = True,
    retrain: bool = False,
    data: Optional[LearnerData] = None,
    **overrides: object,
) -> TrainedLearner:
    """Load-or-train a learner (Sec. 5.1) from one config: the profile's (``profile`` / ``$ANW_PROFILE``) or ``config``.

    ``overrides`` change single settings, e.g. ``train_learner(keys=(210.0,), seed=1)``. A model with the
    same settings and data is loaded from ``$ANW_CACHE/models`` (``torch.load(weights_only=True)``);
    otherwise it is trained with a progress bar and written atomically. ``retrain=True`` ignores the cache.
    Returns the model (eval mode, on the course's device), the data (users, held-out user, test set),
    the config and the training record (per-epoch loss/accuracy, final train/test/user accuracy).
    ``data`` trains on a LearnerData built elsewhere (e.g. a subsample for lesson 08's memorisation
    estimate) instead of the one ``config`` describes; the cache key covers its pixels and labels.
    """
    base = config if config is not None else get_profile(profile).config
    config = base.with_(**overrides) if overrides else base
    device = choose_device()
    data = learner_data(config) if data is None else data
    path = cache_dir("models") / f"{config.model}-{model_cache_key(config, data)}.pt"
    model = build_model(config.model, len(data.train.classes), config.width, config.seed)
    model = model.to(device, memory_format=torch.channels_last)
    if path.exists() and not retrain:
        saved = torch.load(path, map_location=device, weights_only=True)
        model.load_state_dict(saved["state_dict"])
        record = TrainRecord.from_json(saved["record"])
        model.eval()
        return TrainedLearner(model, data, config, record, True, path)
    record = _fit(model, data, config, device, progress)
    model.eval()
    record.train_accuracy = accuracy(model, data.train.images, data.train.labels)
    record.test_accuracy = accuracy(model, data.test.images, data.test.labels)
    user_images = torch.cat([data.train.images[u.indices] for u in data.users])
    user_labels = torch.cat([u.labels for u in data.users])
    record.user_accuracy = accuracy(model, user_images, user_labels)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    atomic_write(path, lambda f: torch.save({"state_dict": state, "record": record.to_json(),
                        "config": json.dumps(dataclasses.asdict(config), default=str)}, f))
    return TrainedLearner(model, data, config, record, False, path)
