"""``fsm-tcp plot run.jsonl --out cwnd.svg``: cwnd and ssthresh over time, from a trace.

Draws the congestion window and the slow-start threshold of one connection as steps over
time, marks each retransmission on the cwnd line and each change of congestion state with
a dotted line, and shades the time spent in each state. matplotlib is an optional extra
(``pip install 'fsm-tcp[plot]'``); without it the command fails with one line.

Trace records read (JSON lines, as ``--trace`` writes them; other kinds are ignored):

``{"t": 0.0123, "conn": "client", "kind": "cwnd", "cwnd": 2800, "ssthresh": null,
"state": "SLOW_START", "window": 2}``
    The sender's congestion control after any change of cwnd, ssthresh or state: ``t`` in
    seconds, ``cwnd`` and ``ssthresh`` in bytes (ssthresh null until the first loss),
    ``state`` a state of the ``congestion`` machine, ``window`` cwnd in whole segments.
    ``Congestion.trace_fields()`` gives exactly the fields after ``kind``.

``{"t": 0.0131, "conn": "client", "kind": "send", "retransmission": true, ...}``
    A segment sent again (its other fields as in any send record). Sends without
    ``"retransmission": true`` are not drawn.

``conn`` chooses the connection (``--conn``; by default the first with cwnd records); a
state change is drawn wherever a cwnd record's ``state`` differs from the previous one.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import FsmTcpError, InvalidArgument

NEED_MATPLOTLIB = (
    "fsm-tcp plot needs matplotlib: install it with pip install 'fsm-tcp[plot]' "
    "(or pip install matplotlib)"
)
FORMATS = ("svg", "png", "pdf")
#: Light shades for the time spent in each state, and what the legend calls it.
STATE_STYLE = {
    "SLOW_START": ("#dbe9f6", "slow start"),
    "CONGESTION_AVOIDANCE": ("#e3f1dc", "congestion avoidance"),
    "FAST_RECOVERY": ("#fbe3cf", "fast recovery"),
}
EPILOG = """\
example:
  fsm-tcp send 127.0.0.1 8000 file.bin --mode go_back_n --trace run.jsonl
  fsm-tcp plot run.jsonl --out cwnd.svg

The trace needs "cwnd" records (see 'fsm_tcp.plot' for the format); retransmissions
are the "send" records with "retransmission": true.
"""


@dataclass
class CwndSeries:
    """What the plot shows, taken from the trace records of one connection."""

    conn: str
    t: list[float] = field(default_factory=list)
    cwnd: list[int] = field(default_factory=list)
    ssthresh: list[int | None] = field(default_factory=list)
    state: list[str] = field(default_factory=list)
    #: Times of retransmitted segments.
    retransmissions: list[float] = field(default_factory=list)

    def changes(self) -> list[tuple[float, str, str]]:
        """(time, old state, new state) wherever the state differs from the record before."""
        return [
            (self.t[i], self.state[i - 1], self.state[i])
            for i in range(1, len(self.state))
            if self.state[i] != self.state[i - 1]
        ]

    def cwnd_at(self, t: float) -> int:
        """The cwnd in force at time ``t`` (the first one before any record)."""
        value = self.cwnd[0]
        for when, cwnd in zip(self.t, self.cwnd, strict=True):
            if when > t:
                break
            value = cwnd
        return value


def series(records: Sequence[dict[str, Any]], conn: str | None = None) -> CwndSeries:
    """The cwnd series of ``conn`` (default: the first connection with cwnd records)."""
    cwnd_records = [r for r in records if r.get("kind") == "cwnd"]
    if not cwnd_records:
        raise InvalidArgument(
            'the trace has no "cwnd" records: record one from a windowed sender '
            "(see fsm_tcp.plot for the format)"
        )
    chosen = cwnd_records[0].get("conn", "") if conn is None else conn
    out = CwndSeries(chosen)
    for r in records:
        if r.get("conn", "") != chosen:
            continue
        if r.get("kind") == "cwnd":
            _add_point(out, r)
        elif r.get("kind") == "send" and r.get("retransmission") is True:
            out.retransmissions.append(_number(r, "t"))
    if not out.t:
        raise InvalidArgument(f'no "cwnd" records for connection {chosen!r}')
    return out


def _add_point(out: CwndSeries, r: dict[str, Any]) -> None:
    ssthresh = r.get("ssthresh")
    if ssthresh is not None and not isinstance(ssthresh, int | float):
        raise InvalidArgument(f"a cwnd record's ssthresh is a number or null, got {ssthresh!r}")
    out.t.append(_number(r, "t"))
    out.cwnd.append(int(_number(r, "cwnd")))
    out.ssthresh.append(None if ssthresh is None else int(ssthresh))
    out.state.append(str(r.get("state", "")))


def _number(r: dict[str, Any], key: str) -> float:
    value = r.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgument(f"a {r.get('kind')} record needs a number in {key!r}, got {r!r}")
    return float(value)


# ------------------------------------------------------------------ drawing
def _figure_class() -> Any:
    """matplotlib's Figure, or the one-line error. No pyplot: no GUI backend, no globals."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise InvalidArgument(NEED_MATPLOTLIB) from None
    return Figure


def draw(data: CwndSeries, out: Path, title: str = "") -> None:
    """Write the plot of ``data`` to ``out``; the format follows the suffix (svg, png, pdf)."""
    fmt = out.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise InvalidArgument(f"--out must end in .{', .'.join(FORMATS)}, got {out.name!r}")
    figure_class = _figure_class()
    import matplotlib

    # Text stays text in the SVG (searchable, smaller); a fixed salt and no date make the
    # same trace give the same file.
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "fsm-tcp"}):
        fig = figure_class(figsize=(10, 5), layout="constrained")
        ax = fig.add_subplot()
        _shade_states(ax, data)
        _draw_series(ax, data)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("bytes")
        ax.set_title(title or f"cwnd and ssthresh of {data.conn or 'the sender'}")
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="upper left", fontsize="small")
        metadata = {"Date": None} if fmt == "svg" else None
        try:
            fig.savefig(out, format=fmt, metadata=metadata)
        except OSError as exc:
            raise InvalidArgument(f"cannot write {out}: {exc.strerror}") from None


def _draw_series(ax: Any, data: CwndSeries) -> None:
    nan = float("nan")  # a gap: no ssthresh before the first loss
    ax.step(data.t, data.cwnd, where="post", color="#1f4e9c", lw=1.8, label="cwnd", gid="cwnd")
    thresholds = [nan if s is None else s for s in data.ssthresh]
    ax.step(
        data.t, thresholds, where="post", color="#b35900", ls="--", label="ssthresh", gid="ssthresh"
    )
    if data.retransmissions:
        ys = [data.cwnd_at(t) for t in data.retransmissions]
        ax.plot(
            data.retransmissions,
            ys,
            "x",
            color="#c00000",
            ms=7,
            label="retransmission",
            gid="retransmissions",
        )
    changes = data.changes()
    for when, _old, new in changes:
        ax.axvline(when, color="#555555", ls=":", lw=1, gid="state-change")
        if len(changes) > MAX_LABELLED_CHANGES:
            continue  # a lossy run changes state hundreds of times: the shading says it
        ax.annotate(
            new,
            (when, 1.0),
            xycoords=("data", "axes fraction"),
            rotation=90,
            va="top",
            ha="right",
            fontsize="x-small",
            color="#333333",
        )


#: Beyond this many state changes their names would print over each other.
MAX_LABELLED_CHANGES = 20


def _shade_states(ax: Any, data: CwndSeries) -> None:
    """A light band per stretch of time in one state; each state once in the legend."""
    bounds = [(data.t[0], data.state[0])] + [(t, new) for t, _old, new in data.changes()]
    end = max(data.t[-1], *data.retransmissions) if data.retransmissions else data.t[-1]
    labelled: set[str] = set()
    for i, (start, state) in enumerate(bounds):
        stop = bounds[i + 1][0] if i + 1 < len(bounds) else end
        colour, name = STATE_STYLE.get(state, ("#eeeeee", state or "unknown state"))
        ax.axvspan(
            start, stop, color=colour, lw=0, label=None if state in labelled else name, zorder=0
        )
        labelled.add(state)


# ------------------------------------------------------------------ the command
HELP = "cwnd and ssthresh over time from a --trace log (needs matplotlib)"
DESCRIPTION = (
    "Draw cwnd and ssthresh over time, retransmissions and congestion-state changes marked, "
    "from a JSON-lines trace."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``plot`` subcommand's arguments."""
    p.add_argument("file", help="JSON-lines trace written by --trace")
    p.add_argument("--out", default="cwnd.svg", metavar="FILE", help="svg, png or pdf")
    p.add_argument("--conn", default=None, help="connection to draw (default: the first)")
    p.add_argument("--title", default="", help="title of the plot")


def run(args: argparse.Namespace) -> int:
    """The ``plot`` command: 0 on success; else one line on stderr and 1."""
    from .render import read_trace

    try:
        _figure_class()  # before any work: the one thing most likely missing
        path = Path(args.file)
        data = series(read_trace(path), args.conn)
        draw(data, Path(args.out), args.title or f"{path.name}: cwnd and ssthresh")
    except FsmTcpError as exc:
        print(f"fsm-tcp: error: {exc}", file=sys.stderr)
        return 1
    return 0
