"""Hypothesis profiles: bounded and derandomised in CI, long on demand.

FSM_TCP_HYPOTHESIS=long runs the long profile (100,000 schedules per property);
FSM_TCP_HYPOTHESIS=dev runs a quick random one. CI uses "ci".
"""

from __future__ import annotations

import os

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
settings.load_profile(os.environ.get("FSM_TCP_HYPOTHESIS", "ci"))
