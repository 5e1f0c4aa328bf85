"""Model checkpoints: save atomically, load validated, load-or-train from the model cache.

One file format for every model the course trains and for ``anw verify``: a dict with ``state_dict``
(tensors), ``record`` (the training record as JSON) and ``config`` (the JSON of the settings that
made it: a ``LearnerConfig`` as ``{"data": {...}, "recipe": {...}}``, a model trained on one set of
images as its ``{"recipe": {...}}``; files written before the split hold one flat dict, still
read). Files are read with ``torch.load(weights_only=True)``, so no
code in a file ever runs, and every size is checked against the tensors' shapes before a model is
built: a foreign or hostile file is refused with a one-line reason instead of allocating what its
config claims.

Cached models live under ``$ANW_CACHE/models``, named by a hash of the settings that shape them and
of :data:`CACHE_VERSION`. The cache is disposable: when training changes the weights, bump the
version.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import torch
from torch import Tensor, nn

from ..models import MODEL_NAMES, WIDTH_MODELS, build_model
from ..photos import what_is_wrong
from .memory import MAX_IMAGE_SIZE, PASS_MEMORY_BYTES, photo_bytes
from .paths import atomic_write, cache_dir

__all__ = [
    "CACHE_VERSION",
    "MAX_IMAGE_SIZE",
    "Cached",
    "CheckpointError",
    "LoadedCheckpoint",
    "cache_key",
    "cache_path",
    "flat_settings",
    "load",
    "load_into",
    "load_or_train",
    "save",
]

#: The one version of every cached model (learners, fine-tuned and subsampled models). Bump it
#: whenever a change to the training code changes the trained weights: every cached model is then
#: trained again. 4: one key scheme for all models (was ``train._TRAINING_CODE_VERSION`` 3 plus a
#: separate fine-tune key). 5: colour jitter's hue is torchvision's HSV shift (was the YIQ
#: rotation). 6: the learner's config saved as its two parts, data setting and training recipe
#: (``anw_helpers.recipe``); shadow and subsampled models keyed by their recipe alone. 7: the device
#: type and training precision in every key (``runtime.trained_with``, issue 26).
CACHE_VERSION = 7

_FIELDS = ("state_dict", "record", "config")
#: Bounds on what a checkpoint may ask for (a course model is far inside them).
_MAX_WIDTH, _MAX_CLASSES = 1024, 100_000
#: A checkpoint's image size: photos are verified at it (``memory.MAX_IMAGE_SIZE``: 448).
_IMAGE_SIZES = (8, MAX_IMAGE_SIZE)


class CheckpointError(ValueError):
    """A file is not a usable checkpoint; the message names the file and why."""


@dataclass
class LoadedCheckpoint:
    """A model rebuilt from a checkpoint, with what its file says about it.

    ``model`` (eval mode, on the CPU) has ``num_classes`` outputs, ``width`` (small ResNet; None for
    the others) read from the weights' shapes, and takes images of ``image_size`` x ``image_size``
    pixels (the size it was trained at: 32 for CIFAR-10). ``config`` is the saved settings (a dict),
    ``record`` the saved training record (a dict); ``settings`` every saved setting by its name
    (the config's ``data`` and ``recipe`` parts in one dict, see :func:`flat_settings`).
    """

    model: nn.Module
    config: dict
    record: dict
    num_classes: int
    width: Optional[int]
    image_size: int
    path: Path
    settings: dict = field(default_factory=dict)


@dataclass
class Cached:
    """What :func:`load_or_train` gives back: the model, its training record (JSON), whether it came
    from the cache, and the cache file."""

    model: nn.Module
    record: str
    from_cache: bool
    path: Path


# --------------------------------------------------------------------------------------------- save
def save(path: Path, model: nn.Module, record: str, config: Mapping[str, Any]) -> None:
    """Write ``model``'s weights with its training ``record`` (JSON) and ``config`` to ``path``,
    atomically (``paths.atomic_write``: temporary file, fsync, rename; the mode follows the
    umask)."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    bad = [
        k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())
    ]
    if bad:
        raise ValueError(
            f"training produced NaN or infinite weights ({', '.join(bad[:3])}): it diverged, so "
            f"nothing was saved to {path}. Lower the learning rate or check the data."
        )
    payload = {
        "state_dict": state,
        "record": record,
        "config": json.dumps(dict(config), default=str),
    }
    atomic_write(Path(path), lambda f: torch.save(payload, f))


# --------------------------------------------------------------------------------------------- read
def _first_line(exc: BaseException, limit: int = 200) -> str:
    """The informative part of an exception's message: torch's own detail, its first sentence."""
    text = str(exc).strip()
    if "WeightsUnpickler error:" in text:
        text = text.split("WeightsUnpickler error:", 1)[1].strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line.split(". ")[0].rstrip(".")[:limit]


def _torch_load(path: Path) -> object:
    """``torch.load(weights_only=True)`` on the CPU; a file that is not one becomes a
    CheckpointError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # torch's notes on pickle protocols
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds for a bad file
        if "Unsupported global" in str(exc):
            raise CheckpointError(
                f"{path} holds Python objects besides tensors; refused, since loading them "
                "could run code (a course checkpoint holds only tensors and text)."
            ) from None
        raise CheckpointError(
            f"{path} is not a model checkpoint, or is damaged (torch.load failed: "
            f"{_first_line(exc)})."
        ) from None


def _read(path: Path) -> tuple[dict[str, Tensor], dict, dict]:
    """The checked parts of a checkpoint file: (state_dict, config, record). No model is built."""
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} {what_is_wrong(path)}.")
    if path.stat().st_size == 0:
        raise CheckpointError(
            f"{path} is empty (0 bytes): not a model checkpoint (an interrupted copy?)."
        )
    saved = _torch_load(path)
    missing = [k for k in _FIELDS if not isinstance(saved, dict) or k not in saved]
    if missing:
        raise CheckpointError(
            f"{path} is not a checkpoint of the course's format: missing {', '.join(missing)} "
            "(expected a dict with state_dict, record, config, as "
            "anw_helpers.machinery.checkpoint.save writes)."
        )
    state = saved["state_dict"]
    if (
        not isinstance(state, dict)
        or not state
        or not all(isinstance(k, str) and isinstance(v, Tensor) for k, v in state.items())
    ):
        raise CheckpointError(f"{path}: state_dict is empty or not a dict of named tensors.")
    return (
        state,
        _json_dict(path, saved["config"], "config"),
        _json_dict(path, saved["record"], "record"),
    )


def _json_dict(path: Path, value: object, what: str) -> dict:
    try:
        parsed = json.loads(value) if isinstance(value, str) else value
    except ValueError as exc:
        raise CheckpointError(
            f"{path}: its {what} is not valid JSON ({_first_line(exc)})."
        ) from None
    if not isinstance(parsed, dict):
        raise CheckpointError(
            f"{path}: its {what} is not a JSON object (got {type(parsed).__name__})."
        )
    return dict(parsed)


def _check_shapes(
    path: Path, state: Mapping[str, Tensor], expected: Mapping[str, Tensor], what: str
) -> None:
    """Refuse ``state`` unless it has exactly the tensors of ``expected`` with the same shapes."""
    missing = [k for k in expected if k not in state]
    extra = [k for k in state if k not in expected]
    if missing or extra:
        parts = (
            [f"missing {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}"]
            if missing
            else []
        ) + (
            [f"unexpected {', '.join(extra[:3])}{' ...' if len(extra) > 3 else ''}"]
            if extra
            else []
        )
        raise CheckpointError(f"{path}: its weights are not those of {what} ({'; '.join(parts)}).")
    for name, want in expected.items():
        if tuple(state[name].shape) != tuple(want.shape):
            raise CheckpointError(
                f"{path}: its weights are not those of {what}: {name} has shape "
                f"{tuple(state[name].shape)}, expected {tuple(want.shape)}."
            )
    bad = [
        k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())
    ]
    if bad:
        raise CheckpointError(
            f"{path}: its weights contain NaN or infinity ({', '.join(bad[:3])})."
        )


#: The parts of a saved config (``LearnerConfig``: both; a model trained on one set: the recipe).
_PARTS = ("data", "recipe")


def flat_settings(config: Mapping[str, Any], path: Path = Path("checkpoint")) -> dict:
    """Every setting of a saved ``config`` by its name: the ``data`` and ``recipe`` parts merged
    into one dict (a config saved before the split is flat already and returned as it is). Raises
    :class:`CheckpointError` naming ``path`` when a part is not a JSON object."""
    if not any(part in config for part in _PARTS):
        return dict(config)
    flat: dict = {}
    for part in _PARTS:
        value = config.get(part, {})
        if not isinstance(value, dict):
            raise CheckpointError(
                f"{path}: its config's {part!r} is not a JSON object (got {type(value).__name__})."
            )
        flat.update(value)
    return flat


def _meta_model(name: str, num_classes: int, width: int) -> nn.Module:
    """The network's structure without memory or downloads (tensors on PyTorch's ``meta``
    device)."""
    with torch.device("meta"):
        return build_model(name, num_classes, width, pretrained=False)


def _last_linear(model: nn.Module) -> str:
    names = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    return names[-1] + ".weight"


def _sizes_from_weights(
    path: Path, name: str, state: Mapping[str, Tensor], config: dict
) -> tuple[int, int]:
    """(num_classes, width) read from the tensors' shapes, checked against the config's width."""
    probe = _meta_model(name, 10, 8)
    head = _last_linear(probe)
    if head not in state or state[head].dim() != 2:
        raise CheckpointError(
            f"{path}: its weights are not those of a {name!r} (no classifier {head})."
        )
    num_classes = int(state[head].shape[0])
    width = 8
    if name in WIDTH_MODELS:
        first = next(n for n, m in probe.named_modules() if isinstance(m, nn.Conv2d)) + ".weight"
        if first not in state or state[first].dim() != 4:
            raise CheckpointError(
                f"{path}: its weights are not those of a 'small_resnet' (no {first})."
            )
        width = int(state[first].shape[0])
        claimed = config.get("width", width)
        if not isinstance(claimed, int) or claimed != width:
            raise CheckpointError(
                f"{path}: its config says width {claimed!r} but its weights have width "
                f"{width}: the file is inconsistent, refused."
            )
        if not 1 <= width <= _MAX_WIDTH:
            raise CheckpointError(
                f"{path}: width {width} is outside 1..{_MAX_WIDTH}; not a course model."
            )
    if not 1 <= num_classes <= _MAX_CLASSES:
        raise CheckpointError(f"{path}: {num_classes} classes is outside 1..{_MAX_CLASSES}.")
    return num_classes, width


def _image_size(path: Path, config: dict) -> int:
    """The image size the model was trained at: the config's ``image_size``, else its dataset's
    own."""
    size = config.get("image_size")
    if size is None:
        size = 448 if config.get("dataset") == "cub200" else 32
    if not isinstance(size, int) or not _IMAGE_SIZES[0] <= size <= _IMAGE_SIZES[1]:
        raise CheckpointError(
            f"{path}: its config's image_size {size!r} is not a size in pixels within "
            f"{_IMAGE_SIZES[0]}..{_IMAGE_SIZES[1]} (no course model trains above "
            f"{MAX_IMAGE_SIZE} x {MAX_IMAGE_SIZE}); refused."
        )
    return size


def _check_pass_memory(path: Path, probe: nn.Module, size: int, what: str) -> None:
    """Refuse a model that cannot take ``size`` x ``size`` photos, or one photo of which would
    take more than ``memory.PASS_MEMORY_BYTES`` in a pass (measured on the ``meta`` device)."""
    try:
        need = photo_bytes(probe, size, size)
    except ValueError as exc:
        raise CheckpointError(f"{path}: {what}: {exc} The file is inconsistent, refused.") from None
    if need > PASS_MEMORY_BYTES:
        raise CheckpointError(
            f"{path}: one {size} x {size} photo through {what} would take about "
            f"{need / 2**30:.1f} GiB, more than the {PASS_MEMORY_BYTES / 2**30:g} GiB a pass may "
            "take; refused."
        )


def load(path: Path) -> LoadedCheckpoint:
    """Rebuild a model from a checkpoint file, validated before anything is built.

    The file is read with ``torch.load(weights_only=True)`` (no code runs); the model's name must be
    one of ``models.MODEL_NAMES``; the class count and the width are read from the weights' shapes
    (a config that disagrees is refused); every tensor's shape is compared with the network's
    structure on the ``meta`` device (no memory); pretrained weights are never downloaded. The
    image size must be within 8..:data:`MAX_IMAGE_SIZE` (448) pixels and one photo of that size
    must take at most ``memory.PASS_MEMORY_BYTES`` (1 GiB) in a pass of the network (measured on
    the ``meta`` device), so verifying with any accepted checkpoint has a memory bound known in
    advance. Raises
    :class:`CheckpointError` naming the file otherwise. Returns the model on the CPU in eval mode,
    with its image size.
    """
    path = Path(path).expanduser()
    state, config, record = _read(path)
    settings = flat_settings(config, path)
    name = settings.get("model")
    if name not in MODEL_NAMES:
        raise CheckpointError(
            f"{path}: its config names model {name!r}; expected one of {', '.join(MODEL_NAMES)}."
        )
    num_classes, width = _sizes_from_weights(path, name, state, settings)
    what = (
        f"a {name!r}"
        + (f" of width {width}" if name in WIDTH_MODELS else "")
        + f" with {num_classes} classes"
    )
    probe = _meta_model(name, num_classes, width)
    _check_shapes(path, state, probe.state_dict(), what)
    image_size = _image_size(path, settings)
    _check_pass_memory(path, probe, image_size, what)
    model = build_model(name, num_classes, width, pretrained=False)
    model.load_state_dict(state)
    return LoadedCheckpoint(
        model.eval(),
        config,
        record,
        num_classes,
        width if name in WIDTH_MODELS else None,
        image_size,
        path,
        settings,
    )


def load_into(model: nn.Module, path: Path) -> str:
    """Load the weights of the checkpoint at ``path`` into ``model`` (any device) after checking
    that they are exactly its tensors; returns the saved training record (JSON). Raises
    :class:`CheckpointError`."""
    path = Path(path)
    state, _, record = _read(path)
    _check_shapes(path, state, model.state_dict(), f"this {type(model).__name__}")
    model.load_state_dict(state)
    return json.dumps(record)


# ---------------------------------------------------------------------------------------- the cache
def cache_key(settings: Mapping[str, Any]) -> str:
    """Hash of every setting that shapes a model (JSON-able; e.g. its config and its data's
    fingerprint) together with :data:`CACHE_VERSION`."""
    payload = json.dumps(
        {"settings": settings, "version": CACHE_VERSION}, sort_keys=True, default=str
    )
    return hashlib.sha1(payload.encode()).hexdigest()[:20]


def cache_path(prefix: str, settings: Mapping[str, Any]) -> Path:
    """The cache file for a model: ``$ANW_CACHE/models/<prefix>-<cache_key(settings)>.pt``."""
    return cache_dir("models") / f"{prefix}-{cache_key(settings)}.pt"


def _write_here(write: Callable[[], None]) -> bool:
    """Write the file in this process; nothing to read back afterwards (False)."""
    write()
    return False


def _nothing() -> None:
    """Do nothing (no archive to look in on a miss)."""


def load_or_train(
    path: Path,
    build: Callable[[bool], nn.Module],
    train: Callable[[nn.Module], str],
    config: Mapping[str, Any],
    retrain: bool = False,
    *,
    on_miss: Callable[[], None] = _nothing,
    agree: Callable[[bool], bool] = bool,
    write_once: Callable[[Callable[[], None]], bool] = _write_here,
) -> Cached:
    """Load the model cached at ``path``, or train it and cache it (atomically).

    ``build(for_training)`` returns the freshly built network, on its device (with
    ``for_training=False`` it must not download anything: the weights come from the file).
    ``train(model)`` trains it in place, leaves it in eval mode and returns its training record
    (JSON); ``config`` is saved beside the weights. A damaged cache file (truncated, empty, foreign)
    is reported with a warning naming it and trained again. ``retrain=True`` ignores the cache.
    ``path`` usually comes from :func:`cache_path`.

    The caller answers the questions this function does not decide (defaults: one process, no
    archive): ``on_miss()`` runs before a missing file is looked for again (``train`` passes
    ``pretrained.install_from_env``); ``agree(flag)`` turns this process's answer to "is the
    cached model usable?" into the one all of the caller's processes share; ``write_once(write)``
    runs ``write`` where the caller wants the file written and returns True where the model must
    then be read back from it (``train.Parallel``; under torchrun, ``DataParallel`` of the
    repository's ``tools/distributed.py``).
    """
    path = Path(path)
    if not retrain and not path.exists():  # a miss: an archive may hold it
        on_miss()
    if agree(path.exists() and not retrain):
        model = build(False)
        loaded: Optional[str] = None
        try:
            loaded = load_into(model, path)
        except CheckpointError as exc:
            warnings.warn(
                f"the cached model {path} cannot be used ({exc}); training it again.",
                RuntimeWarning,
                stacklevel=2,
            )
        if agree(loaded is not None):
            return Cached(model.eval(), loaded, True, path)
    model = build(True)
    record = train(model)
    model.eval()
    if write_once(lambda: save(path, model, record, config)):
        record = load_into(model, path)  # another process wrote it: its model, from its file
    return Cached(model, record, False, path)
