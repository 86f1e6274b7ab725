"""Benchmarks behind ``fsm-tcp bench``: ratios against baselines measured in the same run.

Measuring (transfer, baselines, inprocess, anchor_quic, anchor_kcp, tree, measure), the
figures as data (figures: value, unit, goal, verdict) and printing (report) are apart; parts
ties each part's three together, and cli holds the options.
"""

from __future__ import annotations

from .cli import add_arguments, main, parse_parts, run_from_args
from .figures import GOALS, Figure, Goal, Section
from .parts import DEFAULT_PARTS, PARTS, run_all, run_sections
from .settings import Settings

__all__ = [
    "DEFAULT_PARTS",
    "GOALS",
    "PARTS",
    "Figure",
    "Goal",
    "Section",
    "Settings",
    "add_arguments",
    "main",
    "parse_parts",
    "run_all",
    "run_from_args",
    "run_sections",
]
