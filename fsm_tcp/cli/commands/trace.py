"""``fsm-tcp trace``: a --trace log as a message sequence chart."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ...errors import InvalidArgument
from ..base import examples, fill

HELP = "a --trace log as a message sequence chart"
DESCRIPTION = fill("A --trace log as a message sequence chart.")
EPILOG = examples(
    [
        "fsm-tcp trace run.jsonl",
        "fsm-tcp trace run.jsonl --format svg --out run.svg",
    ]
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="JSON-lines trace written by --trace")
    p.add_argument(
        "--format",
        choices=["mermaid", "svg"],
        default="mermaid",
        help="mermaid text or an SVG picture (default mermaid)",
    )
    p.add_argument("--out", default="-", metavar="FILE", help="file to write (default: stdout)")


def run(args: argparse.Namespace) -> int:
    from ...render import read_trace, sequence_chart

    path = Path(args.file)
    chart = sequence_chart(read_trace(path), args.format, title=path.name)
    if args.out == "-":
        sys.stdout.write(chart)
    else:
        try:
            Path(args.out).write_text(chart)
        except OSError as exc:
            raise InvalidArgument(f"cannot write {args.out}: {exc.strerror}") from None
    return 0
