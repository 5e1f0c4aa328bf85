"""Shared fixtures: CIFAR-10 when a copy or the network is there (skipped with a reason
otherwise)."""

from __future__ import annotations

import matplotlib
import pytest

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
