"""The learner (paper Sec. 3, 5.1): train a classifier on a training set that contains a user's
watermarked images.

Fast on small machines: the whole training set stays on the device as uint8, augmentation runs
batch-wise on the device, autocast in the precision the machine runs natively (bf16 on CPUs with
native bf16 and on recent GPUs, fp16 AMP on older GPUs, fp32 elsewhere:
``runtime.choose_precision``), channels_last memory layout.
A :class:`~anw_helpers.recipe.TrainingRecipe` says how to train (:func:`fit` only trains, whatever
the images); :func:`train_learner` builds the learner's data from its ``LearnerConfig`` and trains
it, and :func:`train_model` trains one model on one set of images (a shadow model, a subsampled
model). Load-or-train: a model is cached under ``$ANW_CACHE/models`` by a hash of every setting that
shapes it and of the training data itself; the same settings load in well under a second.

:func:`fit` is lesson 03's loop (a seeded order, one optimisation step per batch, the epoch's mean
loss) with the course's extras: the step's precision and on-device augmentation
(:func:`make_train_step`) and a progress bar. It trains in one process; a :class:`Parallel`
strategy passed in from outside (``tools.distributed.parallel()`` under torchrun) spreads it over
several: nothing here knows about processes or ranks.
"""

from __future__ import annotations

import contextlib
import copy
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
from .datasets import ImageSet, load_cifar10, load_cub200, to_float
from .machinery.checkpoint import Cached, cache_key, cache_path, load_or_train
from .machinery.pretrained import install_from_env
from .machinery.runtime import Precision, choose_device, choose_precision, trained_with
from .models import build_model
from .profiles import get_profile
from .recipe import LearnerConfig, TrainingRecipe
from .users import LearnerData, build_learner_data

__all__ = [
    "Parallel",
    "ONE_PROCESS",
    "TrainRecord",
    "TrainedLearner",
    "TrainedModel",
    "learner_data",
    "fit",
    "train_learner",
    "train_model",
    "predict_logits",
    "accuracy",
    "model_cache_key",
    "trained_with",
    "make_train_step",
    "adversarial_batch",
    "make_dp_compatible",
    "dp_epsilon",
]


def _nothing() -> None:
    """Undo nothing (a model that was not wrapped)."""


class Parallel:
    """How :func:`fit` spreads one model's training over processes; this default: not at all.

    One process trains on every image of every batch, shows the progress bar and writes the model
    cache. A data-parallel strategy (``tools.distributed.DataParallel``, under torchrun) overrides
    these methods: they are the only points where several processes differ from one, and each does
    nothing (or gives back what it was given) here.
    """

    def device(self) -> torch.device:
        """The device this process trains on: the course's (``runtime.choose_device``)."""
        return choose_device()

    def is_main(self) -> bool:
        """Whether this process prints (progress bars, messages): the only one does."""
        return True

    def label(self, device: torch.device) -> str:
        """The training device as the record names it: ``str(device)``."""
        return str(device)

    def refuse(self, what: str) -> None:
        """Raise a one-line error if this strategy cannot train ``what`` (a training option)."""

    def check_batches(self, n: int, batch_size: int) -> None:
        """Raise a one-line error if ``n`` images in batches of ``batch_size`` cannot be split."""

    def wrap(self, model: nn.Module, device: torch.device) -> tuple[nn.Module, Callable[[], None]]:
        """The module to train and the function that undoes the wrapping: ``model`` itself."""
        return model, _nothing

    def share(self, batch: Tensor) -> Tensor:
        """This process's share of a global batch (along dim 0): all of it."""
        return batch

    def scale_loss(self, loss: Tensor, share: int, total: int) -> Tensor:
        """The loss to back-propagate for a share of ``share`` of the batch's ``total`` images:
        ``loss`` itself."""
        return loss

    def sum_over_processes(self, *tensors: Tensor) -> None:
        """Sum each tensor over the processes, in place: one process has the sums already."""

    def agree(self, flag: bool) -> bool:
        """One decision all processes share (e.g. whether the cached model is usable): ``flag``."""
        return bool(flag)

    def write_once(self, write: Callable[[], None]) -> bool:
        """Run ``write()`` (the cache file); True where this process must then read the file back
        (another one wrote it). Here: write, and False."""
        write()
        return False


#: The default strategy: one process, as lesson 03's loop trains.
ONE_PROCESS = Parallel()


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
    precision: str = ""

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> TrainRecord:
        return cls(**json.loads(text))


@dataclass
class TrainedLearner:
    """A trained model with its data (users, held-out user, test set), config and training
    record."""

    model: nn.Module
    data: LearnerData
    config: LearnerConfig
    record: TrainRecord
    from_cache: bool
    cache_path: Path


@dataclass
class TrainedModel:
    """A model trained with ``recipe`` on one set of images, with no users or held-out user (a
    shadow model, Sec. 5.5; a subsampled model, Sec. 5.6) and its training record."""

    model: nn.Module
    recipe: TrainingRecipe
    record: TrainRecord
    from_cache: bool
    cache_path: Path


def learner_data(config: LearnerConfig) -> LearnerData:
    """Build the learner's data for ``config.data`` (users watermarked in place, held-out user, test
    set), drawn with the recipe's seed.

    CIFAR-10 by default; ``config.data.dataset == "cub200"`` loads CUB-200-2011 at
    ``config.data.image_size`` (default 448, the paper's Fig. 2i).
    """
    setting = config.data
    spaces = [color_space_from_seed(s) for s in setting.color_space_seeds]
    if setting.dataset == "cub200":
        size = setting.image_size or 448
        train, test = load_cub200("train", size), load_cub200("test", size)
    else:
        train, test = load_cifar10("train"), load_cifar10("test")
    return build_learner_data(
        train,
        test,
        setting.n_train,
        setting.user_sizes,
        setting.keys,
        spaces,
        setting.held_out_size,
        setting.n_test,
        config.recipe.seed,
    )


def model_cache_key(config: LearnerConfig, data: LearnerData) -> str:
    """Hash of every setting that shapes the model, of the training data's identity
    (``ImageSet.identity``: canonical CIFAR-10's name and selection, the same from either source;
    else the pixels and labels), of the device type and precision it trains with here
    (:func:`trained_with`) and of ``checkpoint.CACHE_VERSION``."""
    return cache_key(_cache_settings(config, data))


def _cache_settings(config: LearnerConfig, data: LearnerData) -> dict:
    return {
        "kind": "learner",
        "config": dataclasses.asdict(config),
        "data": data.train.identity,
        **trained_with(),
    }


@torch.no_grad()
def predict_logits(model: nn.Module, images: Tensor, batch_size: int = 1000) -> Tensor:
    """Logits for float images in [0, 1] (any count), in eval mode and fp32, on the model's
    device."""
    model.eval()
    device = next(model.parameters()).device
    out = [
        model(images[i : i + batch_size].to(device)).float().cpu()
        for i in range(0, len(images), batch_size)
    ]
    return torch.cat(out) if out else torch.empty(0)


def accuracy(model: nn.Module, images_uint8: Tensor, labels: Tensor) -> float:
    """Top-1 accuracy of ``model`` on uint8 images (converted to [0, 1] batch by batch).

    Batches hold about a thousand 32 x 32 images' worth of pixels (fewer, larger photos at high
    resolution).
    """
    pixels = (
        int(images_uint8.shape[-1] * images_uint8.shape[-2]) if images_uint8.dim() == 4 else 1024
    )
    batch = max(8, 1000 * 1024 // max(1, pixels))
    correct = 0
    for i in range(0, len(images_uint8), batch):
        logits = predict_logits(model, to_float(images_uint8[i : i + batch]), batch_size=batch)
        correct += int((logits.argmax(1) == labels[i : i + batch]).sum())
    return correct / max(1, len(images_uint8))


def _scheduler(opt: torch.optim.Optimizer, recipe: TrainingRecipe, steps_per_epoch: int):
    total = recipe.epochs * steps_per_epoch
    if recipe.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            opt,
            max_lr=recipe.lr,
            total_steps=total,
            pct_start=0.25,
            anneal_strategy="linear",
            div_factor=20,
            final_div_factor=200,
        )
    return torch.optim.lr_scheduler.StepLR(opt, step_size=30 * steps_per_epoch, gamma=0.1)


#: fp16 input gradients are taken of the loss times this (GradScaler's first scale); their sign,
#: all FGSM and PGD use, is the same, but it no longer underflows to sign(0) = 0.
FP16_LOSS_SCALE = 2.0**16


def _input_gradient(
    model: nn.Module, x: Tensor, y: Tensor, label_smoothing: float, precision: Precision
) -> Tensor:
    """The gradient of the loss at ``x`` (``requires_grad``) in ``precision``, up to a positive
    factor: under fp16 the loss is scaled first (:data:`FP16_LOSS_SCALE`) and, should that overflow,
    the gradient is taken again in fp32."""
    scale = FP16_LOSS_SCALE if precision.needs_grad_scaler else 1.0
    with torch.enable_grad(), precision.autocast(x.device):
        loss = F.cross_entropy(model(x), y, label_smoothing=label_smoothing)
        (grad,) = torch.autograd.grad(loss * scale, x)
    if scale != 1.0 and not bool(torch.isfinite(grad).all()):
        with torch.enable_grad():
            loss = F.cross_entropy(model(x), y, label_smoothing=label_smoothing)
            (grad,) = torch.autograd.grad(loss, x)
    return grad


def adversarial_batch(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    eps: float,
    steps: int = 1,
    generator: Optional[torch.Generator] = None,
    label_smoothing: float = 0.0,
    precision: Optional[Precision] = None,
) -> Tensor:
    """Adversarial examples for adversarial training [22] (Sec. 5.3, Fig. 3): L-infinity radius
    ``eps``, pixels in [0, 1].

    ``steps`` = 1 is FGSM with a random start (step 1.25 eps; Wong et al. 2020), more is PGD (Madry
    et al. [22]: random start, step 2.5 eps / steps). The model stays in its current mode; its
    parameters get no gradient. The gradient is taken in ``precision`` (default: the machine's),
    with the loss scaled under fp16 so that it does not underflow. Returns detached images in
    [0, 1].
    """
    if eps < 0 or steps < 1:
        raise ValueError(f"need eps >= 0 and steps >= 1; got eps={eps}, steps={steps}.")
    if eps == 0:
        return x
    precision = precision or choose_precision()
    step_size = 1.25 * eps if steps == 1 else 2.5 * eps / steps
    start = (2 * torch.rand(x.shape, device=x.device, generator=generator, dtype=x.dtype) - 1) * eps
    delta = (x + start).clamp(0.0, 1.0) - x
    for _ in range(steps):
        adv = (x + delta).requires_grad_(True)
        grad = _input_gradient(model, adv, y, label_smoothing, precision)
        delta = (delta + step_size * grad.sign()).clamp(-eps, eps)
        delta = (x + delta).clamp(0.0, 1.0) - x
    return (x + delta).detach()


def make_dp_compatible(model: nn.Module) -> nn.Module:
    """Prepare a course model (``models.Normalized``) for DP-SGD with Opacus, in place, and return
    it.

    Per-example gradients are undefined with BatchNorm (it mixes the examples of a batch), so
    Opacus's ``ModuleValidator.fix`` swaps every BatchNorm for GroupNorm; in-place ReLUs become
    out-of-place (Opacus's backward hooks cannot see through them). A model that is already
    compatible is left as it is.
    """
    from opacus.validators import ModuleValidator

    inner = getattr(model, "net", None)
    if inner is None:
        raise TypeError(
            f"expected a course model (models.Normalized with a .net); got {type(model).__name__}."
        )
    if ModuleValidator.validate(inner, strict=False):
        model.net = ModuleValidator.fix(inner)
    for module in model.modules():
        if isinstance(module, nn.ReLU):
            module.inplace = False
    return model


def dp_epsilon(recipe: TrainingRecipe, n_train: int, delta: float = 1e-5) -> float:
    """The (epsilon, delta) privacy budget DP-SGD [7] spends training ``recipe`` on ``n_train``
    images, by Opacus's RDP accountant.

    Sampling rate ``batch_size / n_train`` for ``epochs * ceil(n_train / batch_size)`` steps. The
    accountant assumes Poisson sampling; the course shuffles fixed-size batches, so read epsilon as
    an approximation.
    """
    if recipe.dp_noise_multiplier is None:
        raise ValueError(
            "the recipe trains without DP-SGD (dp_noise_multiplier is None); there is no epsilon."
        )
    if recipe.dp_noise_multiplier == 0:
        return float("inf")
    from opacus.accountants import RDPAccountant

    accountant = RDPAccountant()
    steps = recipe.epochs * math.ceil(n_train / recipe.batch_size)
    accountant.history = [
        (recipe.dp_noise_multiplier, min(1.0, recipe.batch_size / n_train), steps)
    ]
    return float(accountant.get_epsilon(delta))


def make_train_step(
    model: nn.Module,
    recipe: TrainingRecipe,
    device: torch.device,
    steps_per_epoch: int,
    precision: Optional[Precision] = None,
    parallel: Parallel = ONE_PROCESS,
) -> Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]:
    """One optimisation step of the fast pipeline: uint8 batch on the device -> float, batch-wise
    augmentation, channels_last, autocast in the machine's precision (``runtime.choose_precision``),
    SGD + schedule. Returns ``step(x_uint8, y) -> (loss, logits)``.

    Sec. 5.3's learner-side defences: ``recipe.adversarial_eps`` > 0 replaces each augmented batch
    by adversarial examples (:func:`adversarial_batch`); ``recipe.dp_noise_multiplier`` trains with
    DP-SGD through Opacus (per-example clipping and noise, fp32; the model must have passed
    :func:`make_dp_compatible`). ``step.close()`` removes what DP-SGD attached to the model (call it
    after the last step). ``precision`` (default: the machine's, ``runtime.choose_precision``) is
    for benchmarks comparing them. ``parallel`` (:class:`Parallel`; default one process) wraps the
    model and cuts each augmented batch into this process's share.
    """
    precision = precision or choose_precision()
    opt = torch.optim.SGD(
        model.parameters(),
        lr=recipe.lr,
        momentum=recipe.momentum,
        weight_decay=recipe.weight_decay,
        nesterov=True,
    )
    dp = recipe.dp_noise_multiplier is not None
    if dp:
        parallel.refuse("DP-SGD (dp_noise_multiplier)")  # torchrun: Opacus + DDP not supported
    net, unwrap = parallel.wrap(model, device)  # torchrun: DDP; one process: the model itself
    if dp:
        from opacus import GradSampleModule
        from opacus.optimizers import DPOptimizer
        from opacus.validators import ModuleValidator

        problems = ModuleValidator.validate(model, strict=False)
        if problems:
            raise ValueError(
                "DP-SGD needs per-example gradients, which this model cannot give "
                f"({problems[0]}); pass it through make_dp_compatible first."
            )
        net = GradSampleModule(model)
        noise_gen = torch.Generator(device=device).manual_seed(recipe.seed + 2)
        opt = DPOptimizer(
            opt,
            noise_multiplier=recipe.dp_noise_multiplier,
            max_grad_norm=recipe.dp_max_grad_norm,
            expected_batch_size=recipe.batch_size,
            generator=noise_gen,
        )
    sched = _scheduler(opt, recipe, steps_per_epoch)
    scaler = torch.amp.GradScaler(
        "cuda", enabled=(device.type == "cuda" and not dp and precision.needs_grad_scaler)
    )
    augment = get_augmentation(recipe.augment)
    gen = torch.Generator(device=device).manual_seed(recipe.seed)

    def step(x_uint8: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        xb = augment(x_uint8.float().div_(255.0), gen)
        if recipe.adversarial_eps > 0:
            xb = adversarial_batch(
                model,
                xb,
                y,
                recipe.adversarial_eps,
                recipe.adversarial_steps,
                gen,
                recipe.label_smoothing,
                precision,
            )
        total = len(y)  # several processes: each augments the whole batch, then takes its share
        xb, y = parallel.share(xb), parallel.share(y)
        xb = xb.contiguous(memory_format=torch.channels_last)
        with contextlib.nullcontext() if dp else precision.autocast(device):
            logits = net(xb)
            loss = F.cross_entropy(logits, y, label_smoothing=recipe.label_smoothing)
        opt.zero_grad(set_to_none=True)
        scaler.scale(parallel.scale_loss(loss, len(y), total)).backward()
        scaler.step(opt)
        scaler.update()
        sched.step()
        return loss.detach(), logits.detach()

    def close() -> None:
        unwrap()  # DDP: the model's own BatchNorm layers back (SyncBatchNorm on CUDA)
        if dp:
            opt.zero_grad(set_to_none=True)
            net._close()  # removes Opacus's hooks and per-example gradient attributes (opacus 1.4+)

    step.optimizer = opt  # type: ignore[attr-defined]
    step.close = close  # type: ignore[attr-defined]
    return step


def _check_recipe(recipe: object) -> None:
    """Refuse anything but a TrainingRecipe (a LearnerConfig by mistake, most likely)."""
    if not isinstance(recipe, TrainingRecipe):
        raise TypeError(
            f"fit trains with a TrainingRecipe; got {type(recipe).__name__} (for a learner's "
            "LearnerConfig pass config.recipe)."
        )


def _epoch(
    model: nn.Module,
    step: Callable[[Tensor, Tensor], tuple[Tensor, Tensor]],
    images: Tensor,
    labels: Tensor,
    batch_size: int,
    order: torch.Generator,
    parallel: Parallel,
) -> tuple[Tensor, Tensor]:
    """One epoch of lesson 03's loop: the images in a fresh order drawn from ``order``, one
    ``step`` per batch. Returns the summed loss and the number of right answers over the epoch
    (over every process: ``parallel``)."""
    model.train()
    device = labels.device
    loss_sum, correct = torch.zeros((), device=device), torch.zeros((), device=device)
    for idx in torch.randperm(len(labels), device=device, generator=order).split(batch_size):
        loss, logits = step(images[idx], labels[idx])
        mine = parallel.share(idx)  # one process: idx itself
        loss_sum += loss * len(mine)
        correct += (logits.argmax(1) == labels[mine]).sum()
    parallel.sum_over_processes(loss_sum, correct)
    return loss_sum, correct


def fit(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    recipe: TrainingRecipe,
    device: Optional[torch.device] = None,
    progress: bool = True,
    desc: Optional[str] = None,
    parallel: Parallel = ONE_PROCESS,
) -> TrainRecord:
    """The training loop of Sec. 5.1 on uint8 ``images``: ``recipe.epochs`` seeded epochs of
    :func:`make_train_step`.

    Trains ``model`` in place on ``device`` (default: where the model is) with ``recipe`` (from
    scratch for the learner; from trained weights for the fine-tuning of lesson 06 and the
    subsampled models of lesson 08) and returns the per-epoch record. Only ``recipe``'s
    optimisation and defence settings are used: the model is the one passed in. ``parallel``
    (default: one process) spreads the training over several processes from outside, e.g.
    ``tools.distributed.parallel()`` under torchrun, where each rank trains on its share of every
    batch.
    """
    from tqdm.auto import tqdm

    _check_recipe(recipe)
    device = next(model.parameters()).device if device is None else device
    torch.manual_seed(recipe.seed)
    x_all, y_all = images.to(device), labels.to(device)
    n = len(y_all)
    parallel.check_batches(n, recipe.batch_size)  # several processes: every one gets images
    step = make_train_step(
        model, recipe, device, math.ceil(n / recipe.batch_size), parallel=parallel
    )
    order_gen = torch.Generator(device=device).manual_seed(recipe.seed + 1)
    record = TrainRecord(device=parallel.label(device), precision=choose_precision().name)
    bar = tqdm(
        range(recipe.epochs),
        desc=f"{desc or f'training {recipe.model}'} on {device}, {record.precision}",
        unit="epoch",
        disable=not progress or not parallel.is_main(),
    )
    for _ in bar:
        start = time.perf_counter()
        loss_sum, correct = _epoch(
            model, step, x_all, y_all, recipe.batch_size, order_gen, parallel
        )
        record.epoch_seconds.append(time.perf_counter() - start)
        record.epoch_loss.append(float(loss_sum) / n)
        record.epoch_accuracy.append(float(correct) / n)
        record.epoch_lr.append(step.optimizer.param_groups[0]["lr"])  # type: ignore[attr-defined]
        bar.set_postfix(
            loss=f"{record.epoch_loss[-1]:.3f}", train_acc=f"{record.epoch_accuracy[-1]:.3f}"
        )
    step.close()  # type: ignore[attr-defined]
    record.images_per_second = n * recipe.epochs / max(1e-9, sum(record.epoch_seconds))
    return record


def _fresh_model(
    recipe: TrainingRecipe, num_classes: int, device: torch.device, for_training: bool
) -> nn.Module:
    """``recipe``'s network, initialised with its seed (pretrained weights only ``for_training``:
    a cached model's come from its file), DP-compatible for DP-SGD, on ``device``."""
    model = build_model(
        recipe.model, num_classes, recipe.width, recipe.seed, pretrained=for_training
    )
    if recipe.dp_noise_multiplier is not None:  # DP-SGD (Sec. 5.3): GroupNorm for BatchNorm
        model = make_dp_compatible(model)
    return model.to(device, memory_format=torch.channels_last)


def train_learner(
    config: Optional[LearnerConfig] = None,
    profile: Optional[str] = None,
    progress: bool = True,
    retrain: bool = False,
    data: Optional[LearnerData] = None,
    announce: Optional[str] = None,
    parallel: Parallel = ONE_PROCESS,
    **overrides: object,
) -> TrainedLearner:
    """Load-or-train a learner (Sec. 5.1) from one config: the profile's (``profile`` /
    ``$ANW_PROFILE``) or ``config``.

    ``overrides`` change single settings by name (:meth:`LearnerConfig.with_`), e.g.
    ``train_learner(keys=(210.0,), seed=1)``. A model
    with the same settings and data is loaded from ``$ANW_CACHE/models``
    (``torch.load(weights_only=True)``); otherwise it is trained with a progress bar and written
    atomically. ``retrain=True`` ignores the cache. Returns the model (eval mode, on the course's
    device), the data (users, held-out user, test set), the config and the training record
    (per-epoch loss/accuracy, final train/test/user accuracy). ``data`` trains on a LearnerData
    built elsewhere instead of the one ``config.data`` describes; the cache key covers its pixels
    and labels. ``announce`` names the model for a message printed when it is not cached and must
    be trained first (e.g. "lesson 03's learner", for a lesson opened on its own). ``parallel``
    (default: one process) trains it in several processes, e.g. ``tools.distributed.parallel()``
    under torchrun: it names the device, and which process writes the cache file
    (:func:`_load_or_train`).
    """
    base = config if config is not None else get_profile(profile).config
    config = base.with_(**overrides) if overrides else base
    device = parallel.device()  # one process: the course's device; torchrun: this rank's
    data = learner_data(config) if data is None else data

    def build(for_training: bool) -> nn.Module:
        return _fresh_model(config.recipe, len(data.train.classes), device, for_training)

    def train(model: nn.Module) -> str:
        if announce and parallel.is_main():
            print(f"{announce} is not in the model cache yet: training it first.", flush=True)
        images, labels = data.train.images, data.train.labels
        record = fit(model, images, labels, config.recipe, device, progress, parallel=parallel)
        model.eval()
        record.train_accuracy = accuracy(model, data.train.images, data.train.labels)
        record.test_accuracy = accuracy(model, data.test.images, data.test.labels)
        user_images = torch.cat([data.train.images[u.indices] for u in data.users])
        user_labels = torch.cat([u.labels for u in data.users])
        record.user_accuracy = accuracy(model, user_images, user_labels)
        return record.to_json()

    path = cache_path(config.recipe.model, _cache_settings(config, data))
    done = _load_or_train(path, build, train, dataclasses.asdict(config), retrain, parallel)
    record = TrainRecord.from_json(done.record)
    return TrainedLearner(done.model, data, config, record, done.from_cache, path)


def _load_or_train(
    path: Path,
    build: Callable[[bool], nn.Module],
    train: Callable[[nn.Module], str],
    saved: dict,
    retrain: bool,
    parallel: Parallel,
) -> Cached:
    """``checkpoint.load_or_train`` with the course's answers to its questions: on a miss, install
    the archive ``$ANW_PRETRAINED`` names (``pretrained.install_from_env``); ``parallel`` decides
    whether the cached file is usable (all processes agree) and which process writes it."""
    return load_or_train(
        path,
        build,
        train,
        saved,
        retrain,
        on_miss=install_from_env,
        agree=parallel.agree,
        write_once=parallel.write_once,
    )


def _state_digest(model: nn.Module) -> str:
    """A short hash of a model's weights and buffers (by name): a starting point's identity."""
    h = hashlib.sha1()
    for name, value in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(value.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def train_model(
    recipe: TrainingRecipe,
    train: ImageSet,
    test: Optional[ImageSet] = None,
    start_from: Optional[nn.Module] = None,
    progress: bool = False,
    desc: Optional[str] = None,
    parallel: Parallel = ONE_PROCESS,
) -> TrainedModel:
    """Load-or-train one model with ``recipe`` on the uint8 images of ``train`` alone (no users).

    From scratch (``recipe.model`` of ``recipe.width`` with ``len(train.classes)`` outputs, seeded
    by ``recipe.seed``, as :func:`train_learner` builds it), or, with ``start_from``, a copy of that
    network fine-tuned (``start_from`` is untouched). Cached under ``$ANW_CACHE/models`` by the
    recipe, the identity of ``train`` (and of ``test``) and the starting weights. The record holds
    the training accuracy and, with ``test``, the test accuracy. A user's shadow model (Sec. 5.5)
    and the subsampled models of Sec. 5.6 are trained here. ``parallel`` as in
    :func:`train_learner`.
    """
    device = parallel.device()
    settings = {
        "kind": "model",
        "recipe": dataclasses.asdict(recipe),
        "train": train.identity,
        "test": None if test is None else test.identity,
        "start": None if start_from is None else _state_digest(start_from),
        **trained_with(),
    }

    def build(for_training: bool) -> nn.Module:
        if start_from is None:
            return _fresh_model(recipe, len(train.classes), device, for_training)
        model = copy.deepcopy(start_from).to(device, memory_format=torch.channels_last)
        for p in model.parameters():
            p.requires_grad_(p.requires_grad or for_training)
        return model

    def fit_and_measure(model: nn.Module) -> str:
        record = fit(model, train.images, train.labels, recipe, device, progress, desc, parallel)
        model.eval()
        record.train_accuracy = accuracy(model, train.images, train.labels)
        if test is not None:
            record.test_accuracy = accuracy(model, test.images, test.labels)
        return record.to_json()

    saved = {"recipe": dataclasses.asdict(recipe), "data": {"image_size": train.images.shape[-1]}}
    prefix = recipe.model if start_from is None else "finetune"
    path = cache_path(prefix, settings)
    done = _load_or_train(path, build, fit_and_measure, saved, False, parallel)
    record = TrainRecord.from_json(done.record)
    return TrainedModel(done.model, recipe, record, done.from_cache, path)
