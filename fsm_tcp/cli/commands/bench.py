"""``fsm-tcp bench``: goodput, loss cost and simulator speed (the parts live in fsm_tcp.bench)."""

from __future__ import annotations

import argparse
import sys

from ...bench import add_arguments as add_bench_arguments
from ...bench import run_from_args
from ..base import examples, fill

HELP = "goodput, loss cost and simulator speed, with ratios"
DESCRIPTION = fill("Goodput, loss cost and simulator speed, with ratios.")
EPILOG = examples(
    [
        "fsm-tcp bench",
        "fsm-tcp bench --size 4194304 --sim-seconds 5",
        "fsm-tcp bench --only window,aioquic,loss1 --runs 1",
    ]
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_bench_arguments(p)


def run(args: argparse.Namespace) -> int:
    run_from_args(args, sys.stdout)
    return 0
