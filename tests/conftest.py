"""Shared fixtures: CIFAR-10 when a copy or the network is there (skipped with a reason
otherwise), checkpoints written with the package's own ``checkpoint.save``, photos and folders of
photos written with PIL, and one torch thread for every test."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Optional

import matplotlib
import numpy as np
import pytest
import torch

matplotlib.use("Agg")


def _cifar(split: str):
    from anw_helpers.datasets import load_cifar10

    try:
        return load_cifar10(split)
    except FileNotFoundError as exc:
        pytest.skip(f"CIFAR-10 unavailable: no offline copy under ANW_DATA and no network ({exc})")


@pytest.fixture(scope="session")
def cifar_train():
    return _cifar("train")


@pytest.fixture(scope="session")
def cifar_test():
    return _cifar("test")


def _write_fake_cub(root):
    """A four-photo CUB-200-2011 layout (two classes, official split file) with odd-sized JPEGs."""
    from PIL import Image

    folder = root / "CUB_200_2011"
    rows = [
        (1, "001.Black_footed_Albatross", 1, 1),
        (2, "001.Black_footed_Albatross", 1, 0),
        (3, "002.Laysan_Albatross", 2, 1),
        (4, "002.Laysan_Albatross", 2, 0),
    ]
    for i, cls, _, _ in rows:
        (folder / "images" / cls).mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (40 + i, 30), (60 * i, 20, 200)).save(
            folder / "images" / cls / f"p{i}.jpg"
        )
    (folder / "images.txt").write_text("".join(f"{i} {c}/p{i}.jpg\n" for i, c, _, _ in rows))
    (folder / "image_class_labels.txt").write_text("".join(f"{i} {k}\n" for i, _, k, _ in rows))
    (folder / "train_test_split.txt").write_text("".join(f"{i} {t}\n" for i, _, _, t in rows))
    (folder / "classes.txt").write_text("1 001.Black_footed_Albatross\n2 002.Laysan_Albatross\n")


@pytest.fixture
def fake_cub():
    """Writes a tiny CUB-200-2011 layout under a folder: ``fake_cub(tmp_path)``."""
    return _write_fake_cub


@pytest.fixture
def toy(monkeypatch):
    """``anw verify`` loads the model put in ``toy["model"]`` instead of reading a checkpoint."""
    holder: dict = {}
    monkeypatch.setattr(
        "anw_helpers.photo_cli.cli.load_checkpoint",
        lambda path: (holder["model"], {"model": "toy", "num_classes": 10, "image_size": 6}),
    )
    return holder


@pytest.fixture(autouse=True)
def _no_precision_probe(monkeypatch):
    """The precision probe trains for seconds: tests (and what they start) trust the CPU's flags;
    tests of the probe itself mock it (tests/test_precision_probe.py)."""
    monkeypatch.setenv("ANW_PRECISION_PROBE", "off")


@pytest.fixture(autouse=True)
def _one_thread():
    """Every test runs with one torch thread: the tests' models and tensors are tiny, so one thread
    is fastest, and it is immune to OpenMP contention on a busy machine (on 2 cores shared with a
    training run, lesson 10's ``mark_verdicts`` test took 17-21 s with 2 threads, 1 s with one).
    The lessons under nbval are not tests of this folder: they keep torch's default."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# -------------------------------------------------------------------------------------- checkpoints
def _save_small_resnet(
    path: Path,
    width: int = 4,
    num_classes: int = 10,
    *,
    model: Optional[torch.nn.Module] = None,
    record: str = "{}",
    config: Optional[Mapping[str, Any]] = None,
    **settings: Any,
) -> Path:
    """``model`` (default: a freshly built small ResNet of ``width``, seed 0) saved to ``path`` with
    ``checkpoint.save``; its config is ``config``, or else the flat ``{"model": "small_resnet",
    "width": width, **settings}`` that files written before the recipe split hold."""
    from anw_helpers import models
    from anw_helpers.machinery import checkpoint

    if model is None:
        model = models.build_model("small_resnet", num_classes, width, 0)
    if config is None:
        config = {"model": "small_resnet", "width": width, **settings}
    checkpoint.save(path, model, record, config)
    return path


@pytest.fixture
def save_checkpoint(tmp_path):
    """Writes a checkpoint with ``checkpoint.save``: ``save_checkpoint(name="model.pt", width=4,
    num_classes=10, model=None, record="{}", config=None, **settings)``; a relative name lands
    under ``tmp_path``. Returns the file's path."""

    def save(name: str | Path = "model.pt", *args: Any, **kwargs: Any) -> Path:
        return _save_small_resnet(tmp_path / name, *args, **kwargs)

    return save


@pytest.fixture
def checkpoint(save_checkpoint) -> Path:
    """An untrained learner's checkpoint as ``anw_helpers.train`` caches one: a small ResNet of
    width 8 saved with its ``LearnerConfig`` (data setting and recipe) and an empty record."""
    from anw_helpers.recipe import LearnerConfig
    from anw_helpers.train import TrainRecord

    config = LearnerConfig().with_(width=8, epochs=1)
    recipe = config.recipe
    return save_checkpoint(
        "model.pt",
        recipe.width,
        record=TrainRecord().to_json(),
        config=dataclasses.asdict(config),
    )


# ------------------------------------------------------------------------------------------- photos
def _write_photo(
    path: Path,
    size: tuple[int, int] = (8, 8),
    seed: int = 0,
    mode: str = "RGB",
    grey: bool = False,
    **save: Any,
) -> Path:
    """A photo of random pixels (``size`` is PIL's (width, height); ``grey``: the three channels
    equal) written to ``path`` with PIL, its folders made; ``save`` goes to ``Image.save``."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (size[1], size[0], {"RGB": 3, "RGBA": 4}[mode]), dtype=np.uint8)
    if grey:
        pixels[..., 1] = pixels[..., 2] = pixels[..., 0]
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels, mode).save(path, **save)
    return path


def _write_photo_folder(
    folder: Path,
    classes: Sequence[str],
    size: tuple[int, int] = (32, 32),
    seed: int = 0,
    prefix: str = "p",
    grey: bool = False,
) -> Path:
    """An ImageFolder of one random photo per entry of ``classes``:
    ``folder/<class>/<prefix><i>.png`` drawn with seed ``seed + i``."""
    for i, cls in enumerate(classes):
        _write_photo(folder / cls / f"{prefix}{i}.png", size, seed + i, grey=grey)
    return folder


@pytest.fixture
def write_photo():
    """Writes a photo of random pixels: ``write_photo(path, size=(8, 8), seed=0, mode="RGB",
    grey=False, **save)`` (see ``_write_photo``)."""
    return _write_photo


@pytest.fixture
def photo_folder():
    """Writes an ImageFolder of random photos: ``photo_folder(folder, ["cat", "dog", ...],
    size=(32, 32), seed=0, prefix="p", grey=False)`` (see ``_write_photo_folder``)."""
    return _write_photo_folder
