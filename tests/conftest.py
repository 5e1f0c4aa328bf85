"""Shared fixtures: CIFAR-10 when a copy or the network is there (skipped with a reason otherwise)."""
from __future__ import annotations

import matplotlib
import pytest

matplotlib.use("Agg")


def _cifar(split: str):
    from anw_helpers.data import load_cifar10

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
