"""argparse types for every command line of the package (cli, check, bench): one way to
read a number, so every bad value gets the same kind of one-line message."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def number(
    convert: Callable[[str], float], what: str, ok: Callable[[float], bool], bound: str
) -> Callable[[str], Any]:
    """An argparse type: convert, then check a bound; both failures say what was wrong."""

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {what}: {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"{bound}, got {text}")
        return value

    return parse


probability = number(
    float, "a number", lambda v: 0.0 <= v <= 1.0, "must be a probability in [0, 1]"
)
port_number = number(int, "a port number", lambda v: 0 <= v <= 65535, "port must be 0..65535")
#: A count that may be 0 (sizes of empty things, "no retries").
positive_int = number(int, "a whole number", lambda v: v >= 0, "must be >= 0")
#: Sizes, windows, jobs and run counts.
at_least_one = number(int, "a whole number", lambda v: v >= 1, "must be >= 1")
non_negative = number(float, "a number", lambda v: v >= 0, "must be >= 0")
#: A multiplier of time bounds.
scale = number(float, "a number", lambda v: 0.01 <= v <= 100, "must be in [0.01, 100]")
