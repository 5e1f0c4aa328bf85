"""Test tiers (CONTRIBUTING.md).

``python -m pytest -m "not slow"`` is the fast tier a developer runs while working (under a minute
on 2 cores); a bare ``python -m pytest`` runs everything, the lessons too.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every executed notebook (an nbval cell) is slow: the lessons train models."""
    for item in items:
        if type(item).__module__.startswith("nbval"):
            item.add_marker(pytest.mark.slow)
