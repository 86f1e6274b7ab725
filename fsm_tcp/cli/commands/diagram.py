"""``fsm-tcp diagram``: every state machine, drawn from its table."""

from __future__ import annotations

import argparse
from pathlib import Path

from ...errors import InvalidArgument
from ..base import examples, fill

HELP = "draw every state machine from its table"
DESCRIPTION = fill("Draw every state machine from its table.")
EPILOG = examples(["fsm-tcp diagram", "fsm-tcp diagram --format svg --out diagrams"])


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--format",
        choices=["mermaid", "svg", "png", "dot"],
        default="mermaid",
        help="mermaid needs nothing installed; svg and png need Graphviz (default mermaid)",
    )
    p.add_argument(
        "--out", default="diagrams", metavar="DIR", help="directory to write to (default diagrams)"
    )


def run(args: argparse.Namespace) -> int:
    from ...render import write_diagrams

    try:
        paths = write_diagrams(Path(args.out), args.format)
    except OSError as exc:
        raise InvalidArgument(f"cannot write diagrams to {args.out}: {exc.strerror}") from None
    for path in paths:
        print(path)
    return 0
