"""The options of ``fsm-tcp bench`` and ``python -m fsm_tcp.bench``, and running them."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from ..argtypes import at_least_one, non_negative
from .parts import DEFAULT_PARTS, PARTS, run_all
from .settings import Settings


def parse_parts(text: str) -> tuple[str, ...]:
    """``--only``'s value: part names separated by commas; "all" for every part."""
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    if names == ("all",):
        return PARTS
    unknown = [name for name in names if name not in PARTS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown part(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(PARTS)} or all"
        )
    return names


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Every option of ``fsm-tcp bench`` (and ``python -m fsm_tcp.bench``)."""
    d = Settings()
    p.add_argument(
        "--only",
        type=parse_parts,
        default=DEFAULT_PARTS,
        metavar="PARTS",
        help=f"parts to run, comma-separated, of {', '.join(PARTS)}, or all "
        f"(default {','.join(DEFAULT_PARTS)})",
    )
    numbers: tuple[tuple[str, float, Callable[[str], float], str], ...] = (
        ("--size", d.size, at_least_one, "bytes of the no-loss stop-and-wait transfers"),
        ("--loss-size", d.loss_size, at_least_one, "bytes of the transfers at 20%% loss"),
        ("--loss-seeds", d.loss_seeds, at_least_one, "seeds of the 20%% loss transfers"),
        ("--sim-seconds", d.sim_seconds, non_negative, "seconds of simulated lifecycles"),
        ("--course-size", d.course_size, at_least_one, "bytes of the course's experiment"),
        ("--sr-size", d.sr_size, at_least_one, "bytes of the transfers of part aioquic"),
        ("--loss1-size", d.loss1_size, at_least_one, "bytes of the transfers at 1%% loss"),
        ("--kcp-size", d.kcp_size, at_least_one, "bytes of the transfers of part kcp"),
        ("--tree-size", d.tree_size, at_least_one, "bytes of the transfers of part tree"),
        ("--window", d.window, at_least_one, "the windowed modes' window, in segments"),
        ("--runs", d.runs, at_least_one, "transfers (or seeds) per figure of parts 5-9"),
    )
    for flag, default, kind, what in numbers:
        seconds = kind is non_negative
        p.add_argument(
            flag,
            type=kind,
            default=default,
            metavar="S" if seconds else "N",
            help=f"{what} (default {default:g})" if seconds else f"{what} (default {default})",
        )
    p.add_argument(
        "--sr-cc",
        choices=("tahoe", "reno"),
        default=d.sr_cc,
        help=f"congestion control of the selective repeat transfers (default {d.sr_cc})",
    )
    p.add_argument(
        "--tree",
        default=d.tree,
        metavar="REV",
        help="the git revision part tree compares this tree with, extracted into a temporary "
        f"directory (default {d.tree}, the tree before the sender/receiver split)",
    )


def run_from_args(args: argparse.Namespace, out: TextIO) -> dict[str, float]:
    """Run what ``args`` (from a parser add_arguments filled) asks for."""
    settings = Settings(
        loss_seeds=args.loss_seeds,
        course_size=args.course_size,
        sr_size=args.sr_size,
        loss1_size=args.loss1_size,
        kcp_size=args.kcp_size,
        tree_size=args.tree_size,
        tree=args.tree,
        window=args.window,
        sr_cc=args.sr_cc,
        runs=args.runs,
    )
    return run_all(args.size, args.loss_size, args.sim_seconds, out, args.only, settings)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m fsm_tcp.bench``: the same as ``fsm-tcp bench``, with every part's options."""
    p = argparse.ArgumentParser(
        prog="python -m fsm_tcp.bench",
        description="Benchmarks behind fsm-tcp bench: ratios against baselines measured in "
        "the same run.",
    )
    add_arguments(p)
    run_from_args(p.parse_args(argv), sys.stdout)
    return 0
