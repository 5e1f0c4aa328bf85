"""Test tiers (CONTRIBUTING.md).

``python -m pytest -m "not slow" -n auto`` is the fast tier a developer runs while working, on every
core (under a minute on 2 cores); a bare ``python -m pytest`` runs everything, the lessons too.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every executed notebook (an nbval cell) is slow: the lessons train models."""
    for item in items:
        if type(item).__module__.startswith("nbval"):
            item.add_marker(pytest.mark.slow)


_TIER_SECONDS: dict[str, float] = {"fast": 0.0, "slow": 0.0}
_TIER_TESTS: dict[str, set] = {"fast": set(), "slow": set()}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Adds each test's setup, call and teardown time to its tier's total."""
    tier = "slow" if "slow" in report.keywords else "fast"
    _TIER_SECONDS[tier] += report.duration
    _TIER_TESTS[tier].add(report.nodeid)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line per tier: how long its tests took in this run, so that every run (CI's included)
    measures the fast tier on its own CPU (issue 29: under a minute on 2 cores without AVX-512)."""
    for tier, seconds in _TIER_SECONDS.items():
        if _TIER_TESTS[tier]:
            terminalreporter.write_line(
                f"{tier} tier: {len(_TIER_TESTS[tier])} tests, {seconds:.1f} s in their setup, "
                "call and teardown (collection and imports not included)"
            )
