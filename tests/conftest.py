"""Hypothesis profiles: bounded and derandomised in CI, long on demand.

FSM_TCP_HYPOTHESIS=long runs the long profile (100,000 schedules per property);
FSM_TCP_HYPOTHESIS=dev runs a quick random one. CI uses "ci". Under "long" and "soak" the
properties have no per-test timeout.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=600,
    derandomize=True,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "long",
    max_examples=100_000,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile(
    "soak", max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
PROFILE = os.environ.get("FSM_TCP_HYPOTHESIS", "ci")
settings.load_profile(PROFILE)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The long profiles run a property for minutes or hours: the suite's per-test timeout
    (120 s, a guard against hangs in the default run) would cut every one of them short."""
    if PROFILE in ("ci", "dev"):
        return
    for item in items:
        if getattr(getattr(item, "obj", None), "is_hypothesis_test", False):
            item.add_marker(pytest.mark.timeout(0), append=False)
