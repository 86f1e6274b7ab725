"""Every part of ``fsm-tcp bench``: how it is measured, headed and printed, and the run that
measures the parts asked for and prints each as it is done."""

from __future__ import annotations

import dataclasses
import os
import platform
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TextIO

from . import measure, report
from .figures import Section, values
from .settings import Settings


@dataclass(frozen=True)
class Part:
    name: str
    measure: Callable[[Settings, Section], None]
    render: Callable[[Settings, Section], list[str]]
    #: Said before measuring, for the parts that take a while (None: the figures say it all).
    heading: Callable[[Settings], str] | None = None


#: Every part, numbered as printed: 1-4 stop-and-wait and the engine, 5-7 the windowed modes,
#: 8-9 the anchors of issues 18 and 16.
PART_LIST = (
    Part("goodput", measure.goodput, report.goodput),
    Part("loss", measure.loss, report.loss),
    Part("sim", measure.sim, report.sim),
    Part("memory", measure.memory, report.memory),
    Part("window", measure.course, report.course, report.course_heading),
    Part(
        "aioquic",
        measure.throughput,
        report.throughput,
        lambda s: "6. " + report.throughput_heading(s, s.sr_size),
    ),
    Part("loss1", measure.loss1, report.loss1, report.loss1_heading),
    Part(
        "kcp",
        measure.kcp,
        report.kcp,
        lambda s: "8. " + report.throughput_heading(s, s.kcp_size) + ", fsm_tcp vs tuned KCP",
    ),
    Part("tree", measure.other_tree, report.other_tree, report.tree_heading),
)
PARTS_BY_NAME = {part.name: part for part in PART_LIST}
PARTS = tuple(PARTS_BY_NAME)
#: What a plain run prints: the figures bench printed before issue 11 (the others move
#: megabytes many times, in processes of their own; ask for them with --only).
DEFAULT_PARTS = PARTS[:4]


def run_sections(
    settings: Settings, out: TextIO, only: Iterable[str] | None = None
) -> list[Section]:
    """Measure the parts named in ``only`` (None: DEFAULT_PARTS), always in PARTS' order,
    printing each to ``out`` as it is done; return what each measured."""
    chosen = DEFAULT_PARTS if only is None else tuple(only)
    unknown = set(chosen) - set(PARTS)
    if unknown:
        raise ValueError(f"unknown bench part(s): {', '.join(sorted(unknown))}")
    print(
        f"fsm-tcp bench on {platform.machine()} {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} CPUs",
        file=out,
        flush=True,
    )
    sections = []
    for part in PART_LIST:
        if part.name not in chosen:
            continue
        if part.heading is not None:
            print(part.heading(settings), file=out, flush=True)
        section = Section(part.name)
        part.measure(settings, section)
        for line in part.render(settings, section):
            print(line, file=out, flush=True)
        sections.append(section)
    return sections


def run_all(
    size: int,
    loss_size: int,
    sim_seconds: float,
    out: TextIO,
    only: Iterable[str] | None = None,
    settings: Settings | None = None,
) -> dict[str, float]:
    """Everything ``fsm-tcp bench`` prints, measured in this one run: every figure's value by
    key. ``only``: the parts to run, by name (PARTS); None runs DEFAULT_PARTS."""
    s = dataclasses.replace(
        settings or Settings(), size=size, loss_size=loss_size, sim_seconds=sim_seconds
    )
    return values(run_sections(s, out, only))
