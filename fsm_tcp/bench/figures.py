"""The figures as data: what a part measured (value, unit), what it should be (goal) and
whether it is (the verdict), apart from how it is measured (the measuring modules) and how it
is printed (report.py), as pyperf keeps its runs and benchmarks apart from its runner and its
formatting."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

_COMPARE: dict[str, Callable[[float, float], bool]] = {">=": operator.ge, "<": operator.lt}


@dataclass(frozen=True)
class Goal:
    """What a figure should be: ``value <op> target``."""

    op: str  # ">=" or "<"
    target: float
    spec: str = "g"  # how the target is written (".2f": 0.70)
    unit: str = ""  # written right after the target ("x": 10x)

    def __post_init__(self) -> None:
        if self.op not in _COMPARE:
            raise ValueError(f"a goal compares with one of {', '.join(_COMPARE)}, not {self.op!r}")

    def met(self, value: float) -> bool:
        return _COMPARE[self.op](value, self.target)

    def __str__(self) -> str:
        return f"goal {self.op} {self.target:{self.spec}}{self.unit}"


#: Every goal ``fsm-tcp bench`` judges, by the key of the figure it judges (issues 2, 3, 11,
#: 16 and 18), in one place rather than in the lines that print them.
GOALS: dict[str, Goal] = {
    "goodput_ratio": Goal(">=", 0.70, ".2f"),
    "loss_ratio": Goal("<", 10, unit="x"),
    "sim_per_second": Goal(">=", 300),
    "ratio_to_aioquic": Goal(">=", 1.5),
    "loss1_fraction": Goal(">=", 0.5),
    "ratio_to_kcp": Goal(">=", 1.5),
    "tree_ratio": Goal(">=", 1.0, ".2f"),
}


@dataclass(frozen=True)
class Figure:
    """One measured number. ``unit``: "B/s", "s", "x" (a ratio of times), "" (a ratio of
    speeds or a fraction), "/s", "B", "segments"."""

    key: str
    value: float
    unit: str
    goal: Goal | None = None

    @property
    def verdict(self) -> bool | None:
        """Whether the goal is met; None for a figure without a goal."""
        return None if self.goal is None else self.goal.met(self.value)


@dataclass
class Section:
    """What one part measured: its figures by key, and why each measurement that failed
    failed (by the key of the measurement), in the order measured."""

    name: str
    figures: dict[str, Figure] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    def add(self, key: str, value: float, unit: str) -> Figure:
        """Record a figure, judged by its goal in GOALS if it has one."""
        figure = Figure(key, float(value), unit, GOALS.get(key))
        self.figures[key] = figure
        return figure

    def has(self, *keys: str) -> bool:
        return all(key in self.figures for key in keys)

    def __getitem__(self, key: str) -> Figure:
        return self.figures[key]

    def value(self, key: str) -> float:
        return self.figures[key].value


def values(sections: Iterable[Section]) -> dict[str, float]:
    """Every figure's value by key: what ``run_all`` returns."""
    return {key: f.value for s in sections for key, f in s.figures.items()}


def judged(sections: Iterable[Section]) -> list[Figure]:
    """The figures that have a goal, in the order measured."""
    return [f for s in sections for f in s.figures.values() if f.goal is not None]
