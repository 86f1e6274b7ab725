"""``fsm-tcp plot run.jsonl --out cwnd.svg``: cwnd and ssthresh over time, from a trace.

A run with few events is drawn as it happened: the congestion window and the slow-start
threshold as steps, each retransmission marked on the cwnd line, each change of congestion
state a dotted line (named while there are few), the time in each state shaded.

A lossy run (the course's 100 kB, MSS 8, Go-Back-N + Tahoe at 20% loss changes state
thousands of times) would be a wall that way, so beyond ``MAX_CHANGE_LINES`` state changes
or ``MAX_RETRANSMISSION_MARKS`` retransmissions the whole run is drawn in time bins: the
range and the time-weighted mean of cwnd, the mean ssthresh, the share of time in each
state, and segments sent and retransmitted per second; beside it a zoomed panel draws the
first ``ZOOM_CHANGES`` state changes as they happened (a count of events, not of seconds:
on loopback the first second alone holds a thousand of them). ``plan()`` says which.

matplotlib is an optional extra (``pip install 'fsm-tcp[plot]'``); without it the command
fails with one line.

Trace records read (JSON lines, as ``--trace`` writes them; other kinds are ignored):

``{"t": 0.0123, "conn": "client", "kind": "cwnd", "cwnd": 2800, "ssthresh": null,
"state": "SLOW_START", "window": 2}``
    The sender's congestion control after any change of cwnd, ssthresh or state: ``t`` in
    seconds, ``cwnd`` and ``ssthresh`` in bytes (ssthresh null until the first loss),
    ``state`` a state of the ``congestion`` machine, ``window`` cwnd in whole segments.
    ``Congestion.trace_fields()`` gives exactly the fields after ``kind``.

``{"t": 0.0131, "conn": "client", "kind": "send", "flags": "DATA", "retransmission": true}``
    A segment sent. Those with ``"retransmission": true`` are retransmissions; those whose
    ``flags`` name DATA count as segments sent in the binned view.

``conn`` chooses the connection (``--conn``; by default the first with cwnd records); a
state change is drawn wherever a cwnd record's ``state`` differs from the previous one.
"""

from __future__ import annotations

import argparse
import math
import sys
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterator, Sequence
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
#: Beyond this many state changes their names would print over each other.
MAX_LABELLED_CHANGES = 20
#: Beyond this many state changes (or retransmissions) one line (or mark) each merges into
#: a solid block on a 10-inch figure: the run is drawn in time bins instead.
MAX_CHANGE_LINES = 150
MAX_RETRANSMISSION_MARKS = 200
#: The zoomed panel of a binned run: its first this many state changes, or at most this
#: many cwnd records, whichever ends first.
ZOOM_CHANGES = 20
ZOOM_RECORDS = 300
#: The binned view has at most this many bins, each a round width (1, 2 or 5 x 10^k s).
MAX_BINS = 200
EPILOG = """\
example:
  fsm-tcp send 127.0.0.1 8000 file.bin --mode go_back_n --trace run.jsonl
  fsm-tcp plot run.jsonl --out cwnd.svg

The trace needs "cwnd" records (see 'fsm_tcp.plot' for the format); retransmissions
are the "send" records with "retransmission": true. A run with many state changes or
retransmissions is drawn in time bins, with its first state changes zoomed beside it.
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
    #: Times of every data segment sent, retransmissions included.
    sends: list[float] = field(default_factory=list)

    def changes(self) -> list[tuple[float, str, str]]:
        """(time, old state, new state) wherever the state differs from the record before."""
        return [
            (self.t[i], self.state[i - 1], self.state[i])
            for i in range(1, len(self.state))
            if self.state[i] != self.state[i - 1]
        ]

    def cwnd_at(self, t: float) -> int:
        """The cwnd in force at time ``t`` (the first one before any record)."""
        return self.cwnd[max(0, bisect_right(self.t, t) - 1)]  # records come in time order

    @property
    def end(self) -> float:
        """The time of the last thing drawn: a cwnd record, a send or a retransmission."""
        return max([self.t[-1], *self.retransmissions[-1:], *self.sends[-1:]])

    def between(self, start: float, stop: float) -> CwndSeries:
        """The run over [start, stop): the record in force at ``start`` (moved to ``start``),
        every record after it before ``stop``, and the values in force again at ``stop``, so
        the lines reach both edges of a panel; sends and retransmissions in [start, stop)."""
        first = max(0, sum(1 for when in self.t if when <= start) - 1)
        keep = [first] + [i for i in range(first + 1, len(self.t)) if self.t[i] < stop]
        times = [max(self.t[first], start)] + [self.t[i] for i in keep[1:]]
        if times[-1] < stop:
            keep.append(keep[-1])
            times.append(stop)
        return CwndSeries(
            self.conn,
            times,
            [self.cwnd[i] for i in keep],
            [self.ssthresh[i] for i in keep],
            [self.state[i] for i in keep],
            [when for when in self.retransmissions if start <= when < stop],
            [when for when in self.sends if start <= when < stop],
        )

    def zoom_range(self) -> tuple[float, float]:
        """The zoomed panel's time range: from the first cwnd record to the first of the
        (ZOOM_CHANGES + 1)th state change and the (ZOOM_RECORDS + 1)th cwnd record, so
        [start, stop) holds at most ZOOM_CHANGES changes; the whole run if it holds fewer."""
        ends = [self.end]
        changes = self.changes()
        if len(changes) > ZOOM_CHANGES:
            ends.append(changes[ZOOM_CHANGES][0])
        if len(self.t) > ZOOM_RECORDS:
            ends.append(self.t[ZOOM_RECORDS])
        return self.t[0], min(ends)


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
        elif r.get("kind") == "send":
            _add_send(out, r)
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


def _add_send(out: CwndSeries, r: dict[str, Any]) -> None:
    retransmission = r.get("retransmission") is True
    if not retransmission and "DATA" not in str(r.get("flags", "")):
        return  # handshake, ACKs and FIN are not what the window carries
    when = _number(r, "t")
    out.sends.append(when)
    if retransmission:
        out.retransmissions.append(when)


def _number(r: dict[str, Any], key: str) -> float:
    value = r.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgument(f"a {r.get('kind')} record needs a number in {key!r}, got {r!r}")
    return float(value)


# ------------------------------------------------------------------ the binned view
@dataclass
class Bins:
    """The whole run in time bins of ``width`` seconds: bin i is [edges[i], edges[i+1]).

    cwnd and ssthresh are steps, so their statistics weigh each value by the time it was in
    force; a value in force for no time (two records at one instant) still counts for the
    range. None marks a bin with nothing to say (no ssthresh yet, or no time covered).
    """

    width: float
    edges: list[float]
    cwnd_min: list[int | None]
    cwnd_max: list[int | None]
    cwnd_mean: list[float | None]
    ssthresh_mean: list[float | None]
    #: Per state, the share of each bin's covered time spent in it (shares of a covered bin
    #: add up to 1).
    shares: dict[str, list[float]]
    retransmissions: list[int]
    sends: list[int]

    def rate(self, counts: list[int]) -> list[float]:
        """Counts per bin as events per second."""
        return [n / self.width for n in counts]


def bin_width(span: float, max_bins: int = MAX_BINS) -> float:
    """The smallest round width (1, 2 or 5 x 10^k seconds) that cuts ``span`` into at most
    ``max_bins`` bins: round widths make the legend's "per 10 ms" honest."""
    rough = max(span, 1e-9) / max_bins
    for exponent in range(math.floor(math.log10(rough)), math.floor(math.log10(rough)) + 2):
        for mantissa in (1, 2, 5):
            width = mantissa * 10.0**exponent
            if width * (1 + 1e-9) >= rough:
                return width
    raise AssertionError("unreachable: 10^(k+1) >= rough")


def binned(data: CwndSeries, max_bins: int = MAX_BINS) -> Bins:
    """``data`` over [first cwnd record, end] in at most about ``max_bins`` round bins."""
    start, stop = data.t[0], data.end
    width = bin_width(stop - start, max_bins)
    first = math.floor(start / width + 1e-9)
    count = max(1, math.ceil(stop / width - 1e-9) - first)
    edges = [(first + i) * width for i in range(count + 1)]
    bins = Bins(
        width=width,
        edges=edges,
        cwnd_min=[None] * count,
        cwnd_max=[None] * count,
        cwnd_mean=[None] * count,
        ssthresh_mean=[None] * count,
        shares={},
        retransmissions=_histogram(data.retransmissions, edges),
        sends=_histogram(data.sends, edges),
    )
    _cwnd_stats(bins, data, stop)
    _ssthresh_stats(bins, data, stop)
    _state_shares(bins, data, stop)
    return bins


def _bin_of(t: float, edges: list[float]) -> int:
    width = edges[1] - edges[0]
    return min(len(edges) - 2, max(0, math.floor((t - edges[0]) / width + 1e-9)))


def _histogram(times: list[float], edges: list[float]) -> list[int]:
    counts = [0] * (len(edges) - 1)
    for when in times:
        counts[_bin_of(when, edges)] += 1
    return counts


def _pieces(
    times: list[float], values: Sequence[Any], edges: list[float], stop: float
) -> Iterator[tuple[int, Any, float]]:
    """(bin, value, seconds) for each stretch of a step function cut at the bin edges; a
    value replaced at the instant it was set gives one piece of 0 seconds."""
    for i, value in enumerate(values):
        begin = times[i]
        finish = times[i + 1] if i + 1 < len(times) else max(stop, begin)
        b = _bin_of(begin, edges)
        while True:
            cut = min(finish, edges[b + 1]) if b + 1 < len(edges) - 1 else finish
            yield b, value, max(0.0, cut - begin)
            if cut >= finish:
                break
            begin, b = cut, b + 1


def _cwnd_stats(bins: Bins, data: CwndSeries, stop: float) -> None:
    weighted = [0.0] * len(bins.cwnd_min)
    seconds = [0.0] * len(bins.cwnd_min)
    for b, cwnd, dt in _pieces(data.t, data.cwnd, bins.edges, stop):
        low, high = bins.cwnd_min[b], bins.cwnd_max[b]
        bins.cwnd_min[b] = cwnd if low is None else min(low, cwnd)
        bins.cwnd_max[b] = cwnd if high is None else max(high, cwnd)
        weighted[b] += cwnd * dt
        seconds[b] += dt
    bins.cwnd_mean = _means(weighted, seconds, bins.cwnd_min)


def _ssthresh_stats(bins: Bins, data: CwndSeries, stop: float) -> None:
    weighted = [0.0] * len(bins.cwnd_min)
    seconds = [0.0] * len(bins.cwnd_min)
    seen: list[int | None] = [None] * len(bins.cwnd_min)
    for b, ssthresh, dt in _pieces(data.t, data.ssthresh, bins.edges, stop):
        if ssthresh is not None:
            weighted[b] += ssthresh * dt
            seconds[b] += dt
            seen[b] = ssthresh
    bins.ssthresh_mean = _means(weighted, seconds, seen)


def _means(
    weighted: list[float], seconds: list[float], seen: list[int | None]
) -> list[float | None]:
    """Time-weighted means; a bin whose values lasted no time takes the last value seen."""
    return [
        w / s if s > 0 else (None if last is None else float(last))
        for w, s, last in zip(weighted, seconds, seen, strict=True)
    ]


def _state_shares(bins: Bins, data: CwndSeries, stop: float) -> None:
    seconds: dict[str, list[float]] = {}
    for b, state, dt in _pieces(data.t, data.state, bins.edges, stop):
        seconds.setdefault(state, [0.0] * len(bins.cwnd_min))[b] += dt
    covered = [sum(column) for column in zip(*seconds.values(), strict=True)]
    bins.shares = {
        state: [s / c if c > 0 else 0.0 for s, c in zip(per_bin, covered, strict=True)]
        for state, per_bin in sorted(seconds.items(), key=lambda item: _state_order(item[0]))
    }


def _state_order(state: str) -> tuple[int, str]:
    known = list(STATE_STYLE)
    return (known.index(state) if state in known else len(known), state)


# ------------------------------------------------------------------ what is drawn
@dataclass
class Plan:
    """What ``draw`` puts on the figure, decided from the data alone (so tests can ask)."""

    #: True: the whole run in bins with a zoomed panel beside it; False: one panel of
    #: every event.
    binned: bool
    #: The time range drawn event by event (the zoomed panel, or the one panel).
    detail: tuple[float, float]
    #: A dotted line per state change in the detailed panel; and its state's name on it
    #: (never in a zoom: a lossy run's changes come in clusters whose names would overlap).
    change_lines: bool
    change_labels: bool
    #: The binned view, when ``binned``.
    bins: Bins | None


def plan(data: CwndSeries) -> Plan:
    """Bins and a zoom once the events would merge into a block; else every event."""
    dense = (
        len(data.changes()) > MAX_CHANGE_LINES
        or len(data.retransmissions) > MAX_RETRANSMISSION_MARKS
    )
    detail = data.zoom_range() if dense else (data.t[0], data.end)
    shown = data.between(*detail).changes()
    return Plan(
        binned=dense,
        detail=detail,
        change_lines=len(shown) <= MAX_CHANGE_LINES,
        change_labels=not dense and len(shown) <= MAX_LABELLED_CHANGES,
        bins=binned(data) if dense else None,
    )


# ------------------------------------------------------------------ drawing
def _figure_class() -> Any:
    """matplotlib's Figure, or the one-line error. No pyplot: no GUI backend, no globals."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise InvalidArgument(NEED_MATPLOTLIB) from None
    return Figure


def figure(data: CwndSeries, title: str = "") -> Any:
    """The matplotlib Figure of ``data``; its axes carry gids: "run" (the one panel), or
    "whole", "states", "rates" and "zoom"."""
    figure_class = _figure_class()
    layout = plan(data)
    title = title or f"cwnd and ssthresh of {data.conn or 'the sender'}"
    if layout.bins is None:
        fig = figure_class(figsize=(10, 5), layout="constrained")
        ax = fig.add_subplot()
        ax.set_gid("run")
        _draw_detail(ax, data, layout)
        ax.set_title(title)
        return fig
    fig = figure_class(figsize=(15, 7.5), layout="constrained")
    grid = fig.add_gridspec(3, 2, width_ratios=(3, 2), height_ratios=(3, 1, 1.4))
    whole = fig.add_subplot(grid[0, 0])
    states = fig.add_subplot(grid[1, 0], sharex=whole)
    rates = fig.add_subplot(grid[2, 0], sharex=whole)
    zoom = fig.add_subplot(grid[:, 1])
    for ax, gid in ((whole, "whole"), (states, "states"), (rates, "rates"), (zoom, "zoom")):
        ax.set_gid(gid)
    _draw_whole(whole, layout.bins, layout.detail)
    _draw_states(states, layout.bins)
    _draw_rates(rates, layout.bins, data)
    _draw_detail(zoom, data, layout)
    start, stop = layout.detail
    zoom.set_title(
        f"zoomed: its first {len(data.between(start, stop).changes())} state changes "
        f"({_span_text(stop - start)}), every event"
    )
    _time_axis(rates, layout.bins.edges[-1] - layout.bins.edges[0])
    fig.suptitle(title)
    return fig


def draw(data: CwndSeries, out: Path, title: str = "") -> None:
    """Write the plot of ``data`` to ``out``; the format follows the suffix (svg, png, pdf)."""
    fmt = out.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise InvalidArgument(f"--out must end in .{', .'.join(FORMATS)}, got {out.name!r}")
    _figure_class()
    import matplotlib

    # Text stays text in the SVG (searchable, smaller); a fixed salt and no date make the
    # same trace give the same file.
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "fsm-tcp"}):
        fig = figure(data, title)
        metadata = {"Date": None} if fmt == "svg" else None
        try:
            fig.savefig(out, format=fmt, metadata=metadata)
        except OSError as exc:
            raise InvalidArgument(f"cannot write {out}: {exc.strerror}") from None


def _draw_detail(ax: Any, data: CwndSeries, layout: Plan) -> None:
    """Every event in ``layout.detail``: states shaded, cwnd and ssthresh as steps,
    retransmissions marked, state changes as dotted lines (named while few)."""
    start, stop = layout.detail
    # the zoom is a part of the run; one panel shows the run as recorded, to its end
    part = data.between(start, stop) if layout.binned else data
    _shade_states(ax, part, stop)
    _draw_series(ax, part)
    _draw_changes(ax, part, layout)
    if layout.binned:
        ax.set_xlim(start, stop)  # the zoom; one panel keeps matplotlib's margins
    ax.set_ylabel("bytes")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize="small")
    _time_axis(ax, stop - start)


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
        _count_bursts(ax, data, ys)


def _count_bursts(ax: Any, data: CwndSeries, ys: list[int]) -> None:
    """Go-Back-N resends a window at one instant: its marks fall on one another, so the
    count is written beside them."""
    bursts = Counter(zip(data.retransmissions, ys, strict=True))
    for (when, y), count in sorted(bursts.items()):
        if count > 1:
            ax.annotate(
                f"\N{MULTIPLICATION SIGN}{count}",
                (when, y),
                xytext=(0, 5),
                textcoords="offset points",
                rotation=90,  # upright counts of close bursts would run into each other
                ha="center",
                va="bottom",
                fontsize="x-small",
                color="#c00000",
                gid="burst",
            )


def _draw_changes(ax: Any, data: CwndSeries, layout: Plan) -> None:
    if not layout.change_lines:
        return  # the shading says it
    for when, _old, new in data.changes():
        ax.axvline(when, color="#555555", ls=":", lw=1, gid="state-change")
        if not layout.change_labels:
            continue  # their names would print over each other: the legend says them
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


def _shade_states(ax: Any, data: CwndSeries, end: float) -> None:
    """A light band per stretch of time in one state, the last to ``end``; each state once
    in the legend."""
    bounds = [(data.t[0], data.state[0])] + [(t, new) for t, _old, new in data.changes()]
    labelled: set[str] = set()
    for i, (start, state) in enumerate(bounds):
        stop = bounds[i + 1][0] if i + 1 < len(bounds) else end
        colour, name = _state_style(state)
        ax.axvspan(
            start, stop, color=colour, lw=0, label=None if state in labelled else name, zorder=0
        )
        labelled.add(state)


def _state_style(state: str) -> tuple[str, str]:
    return STATE_STYLE.get(state, ("#eeeeee", state or "unknown state"))


def _draw_whole(ax: Any, bins: Bins, zoom: tuple[float, float]) -> None:
    """cwnd's range and mean per bin, the mean ssthresh, and where the zoom is."""
    xs = bins.edges  # each bin's value from its left edge, repeated at the right end
    low = _stepped(bins.cwnd_min)
    high = _stepped(bins.cwnd_max)
    ax.fill_between(
        xs,
        low,
        high,
        step="post",
        color="#9fbbe0",
        lw=0,
        label="cwnd: lowest to highest",
        gid="cwnd-range",
    )
    ax.step(
        xs,
        _stepped(bins.cwnd_mean),
        where="post",
        color="#1f4e9c",
        lw=1.6,
        label="cwnd: mean",
        gid="cwnd-mean",
    )
    ax.step(
        xs,
        _stepped(bins.ssthresh_mean),
        where="post",
        color="#b35900",
        ls="--",
        lw=1.4,
        label="ssthresh: mean",
        gid="ssthresh-mean",
    )
    ax.axvspan(
        *zoom,
        facecolor="#ffd84d80",
        edgecolor="#e0a800",
        lw=1,  # an edge: seen however thin
        label="zoomed at right",
        gid="zoom-span",
    )
    ax.set_title(f"the whole run, per {_span_text(bins.width)}")
    ax.set_ylabel("bytes")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper right", fontsize="small", ncols=2)
    ax.tick_params(labelbottom=False)


def _draw_states(ax: Any, bins: Bins) -> None:
    """The share of each bin's time in each state, stacked: the states as shading only."""
    below = [0.0] * len(bins.cwnd_min)
    for state, shares in bins.shares.items():
        above = [b + s for b, s in zip(below, shares, strict=True)]
        colour, name = _state_style(state)
        ax.fill_between(
            bins.edges,
            _stepped(below),
            _stepped(above),
            step="post",
            color=colour,
            edgecolor="#999999",
            lw=0.3,
            label=name,
            gid=f"share-{state}",
        )
        below = above
    ax.set_ylim(0, 1)
    ax.set_yticks([0, 0.5, 1], ["0", "50%", "100%"])
    ax.set_ylabel("time in state")
    ax.legend(loc="upper right", fontsize="small", ncols=len(bins.shares))
    ax.tick_params(labelbottom=False)


def _draw_rates(ax: Any, bins: Bins, data: CwndSeries) -> None:
    """Data segments sent and retransmitted per second, from counts per bin."""
    ax.fill_between(
        bins.edges,
        0,
        _stepped(bins.rate(bins.sends)),
        step="post",
        color="#c8c8c8",
        lw=0,
        label=f"data segments sent ({len(data.sends)})",
        gid="send-rate",
    )
    share = len(data.retransmissions) / len(data.sends) if data.sends else 0.0
    ax.fill_between(
        bins.edges,
        0,
        _stepped(bins.rate(bins.retransmissions)),
        step="post",
        color="#c00000",
        alpha=0.8,
        lw=0,
        label=f"of which retransmissions ({len(data.retransmissions)}, {share:.0%})",
        gid="retransmission-rate",
    )
    ax.set_ylabel("segments / s")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper right", fontsize="small", ncols=2)


def _stepped(values: Sequence[float | None]) -> list[float]:
    """Per-bin values for a step drawn over the edges: the last bin's value again at the end;
    an empty bin (None) is a gap (NaN)."""
    drawn = [float("nan") if v is None else v for v in values]
    return [*drawn, drawn[-1]]


def _time_axis(ax: Any, span: float) -> None:
    """Seconds, or milliseconds for a span under a second; the data stay in seconds."""
    if span >= 1:
        ax.set_xlabel("time (s)")
        return
    from matplotlib.ticker import FuncFormatter

    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{x * 1000:g}"))
    ax.set_xlabel("time (ms)")


def _span_text(seconds: float) -> str:
    return f"{seconds:g} s" if seconds >= 1 else f"{seconds * 1000:.3g} ms"


# ------------------------------------------------------------------ the command
HELP = "cwnd and ssthresh over time from a --trace log (needs matplotlib)"
DESCRIPTION = (
    "Draw cwnd and ssthresh over time, retransmissions and congestion-state changes marked, "
    "from a JSON-lines trace. A lossy run is drawn in time bins (cwnd's range and mean, "
    "time in each state, retransmissions per second) beside a zoom on its first state changes."
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
