"""``fsm-tcp dialects``: the dialects fsm_tcp speaks, with every variable of each."""

from __future__ import annotations

import argparse

from ... import dialects
from ..base import examples, fill

HELP = "list the dialects fsm_tcp speaks, with every variable of each"
DESCRIPTION = fill(
    "List the dialects: 'canonical' (PROTOCOL.md), one profile per recorded "
    "implementation (named for what it does) and a synthetic one, each with the value "
    "of every variable implementations bend. 'auto', the default of serve and send, "
    "speaks PROTOCOL.md and adapts to what the peer shows."
)
EPILOG = examples(["fsm-tcp dialects", "fsm-tcp serve --dialect end-numbered --port 8000"])


def add_arguments(p: argparse.ArgumentParser) -> None:
    del p  # no arguments


def run(args: argparse.Namespace) -> int:
    del args
    rows = dialects.table()
    names = [v for v in rows[0] if v not in ("name", "summary", "notes")]
    width = max(len(v) for v in names)
    for row in rows:
        print(f"{row['name']}: {row['summary']}")
        for v in names:
            value = row[v]
            mark = "" if value == getattr(dialects.CANONICAL, v) else "   *"
            print(f"  {v:{width}}  {value!r}{mark}")
        if row["notes"]:
            print(f"  ({row['notes']})")
        print()
    print("* differs from PROTOCOL.md. 'auto' (the default) starts there and adapts.")
    return 0
