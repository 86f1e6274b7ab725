"""``fsm-tcp plot``: cwnd and ssthresh drawn from trace records, one-line errors."""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fsm_tcp import machines as M
from fsm_tcp.cli import main
from fsm_tcp.congestion import Congestion
from fsm_tcp.plot import (
    MAX_BINS,
    MAX_CHANGE_LINES,
    MAX_RETRANSMISSION_MARKS,
    NEED_MATPLOTLIB,
    ZOOM_CHANGES,
    ZOOM_RECORDS,
    CwndSeries,
    add_arguments,
    bin_width,
    binned,
    figure,
    plan,
    run,
    series,
)


def _synthetic_trace() -> list[dict[str, Any]]:
    """What a Reno sender records: slow start, a timeout, fast recovery, two retransmits.

    The cwnd records come from the real model (Congestion.trace_fields), so the format
    the plot reads is the one the model gives.
    """
    model = Congestion(100, "reno")
    records: list[dict[str, Any]] = []
    t = 0.0

    def step(action: Any, *args: Any) -> None:
        nonlocal t
        t += 0.01
        action(*args)
        records.append({"t": t, "conn": "client", "kind": "cwnd", **model.trace_fields()})

    def retransmit() -> None:
        records.append(
            {"t": t, "conn": "client", "kind": "send", "flags": "DATA", "retransmission": True}
        )

    step(lambda: None)
    for _ in range(7):
        step(model.on_ack, 100)
    step(model.on_timeout)
    retransmit()
    for _ in range(6):
        step(model.on_ack, 100)
    for _ in range(3):
        step(model.on_dup_ack)
    retransmit()
    step(model.on_dup_ack)
    step(model.on_ack, 100)
    # another connection's records and ordinary sends are not this plot's
    records.append({"t": t, "conn": "server#1", "kind": "cwnd", "cwnd": 5, "ssthresh": None,
                    "state": M.SLOW_START, "window": 0})  # fmt: skip
    records.append({"t": t, "conn": "client", "kind": "send", "flags": "DATA"})
    return records


def _lossy_trace(segments: int = 3000, loss: float = 0.3, seed: int = 1) -> list[dict[str, Any]]:
    """The course's experiment in miniature: Tahoe, MSS 8, a timeout after each lost
    segment, resending the window (Go-Back-N); thousands of state changes."""
    rng = random.Random(seed)
    model = Congestion(8, "tahoe")
    records: list[dict[str, Any]] = []
    t = 0.0
    for _ in range(segments):
        t += 0.0002
        lost = rng.random() < loss
        for i in range(model.window_segments()):
            records.append({"t": t, "conn": "client", "kind": "send", "flags": "DATA",
                            **({"retransmission": True} if lost and i else {})})  # fmt: skip
        model.on_timeout() if lost else model.on_ack(8)
        records.append({"t": t, "conn": "client", "kind": "cwnd", **model.trace_fields()})
    return records


def _write(tmp_path: Path, records: list[dict[str, Any]]) -> Path:
    path = tmp_path / "run.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="fsm-tcp plot")
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_series_reads_cwnd_records_retransmissions_and_state_changes() -> None:
    data = series(_synthetic_trace())
    assert data.conn == "client"
    assert data.cwnd[:3] == [100, 200, 300] and max(data.cwnd) == 800
    assert data.ssthresh[0] is None and data.ssthresh[-1] == 475 // 2
    assert len(data.retransmissions) == 2
    assert data.changes() == [
        (pytest.approx(0.12), M.SLOW_START, M.CONGESTION_AVOIDANCE),
        (pytest.approx(0.18), M.CONGESTION_AVOIDANCE, M.FAST_RECOVERY),
        (pytest.approx(0.20), M.FAST_RECOVERY, M.CONGESTION_AVOIDANCE),
    ]
    assert data.cwnd_at(data.retransmissions[0]) == 100  # just after the timeout
    assert series(_synthetic_trace(), conn="server#1").cwnd == [5]


def test_plot_draws_both_series_the_retransmissions_and_the_state_changes(
    tmp_path: Path,
) -> None:
    out = tmp_path / "cwnd.svg"
    assert run(_args(str(_write(tmp_path, _synthetic_trace())), "--out", str(out))) == 0
    svg = out.read_text()
    assert svg.startswith("<?xml") and "<svg" in svg
    for gid in ("cwnd", "ssthresh", "retransmissions"):
        assert f'id="{gid}"' in svg
    assert svg.count('id="state-change') == 3
    # one marker per retransmission, inside the retransmissions group
    group = svg.split('id="retransmissions"', 1)[1].split("</g>", 1)[0]
    assert len(re.findall(r"<use ", group)) == 2
    for text in ("cwnd", "ssthresh", "retransmission", "slow start", "fast recovery"):
        assert text in svg
    assert "FAST_RECOVERY" in svg  # the label on the state change


def test_a_small_trace_is_drawn_event_by_event_and_names_its_states() -> None:
    data = series(_synthetic_trace())
    layout = plan(data)
    assert not layout.binned and layout.bins is None
    assert layout.change_lines and layout.change_labels
    assert layout.detail == (data.t[0], data.end)
    fig = figure(data)
    assert [ax.get_gid() for ax in fig.axes] == ["run"]
    names = {text.get_text() for text in fig.axes[0].texts}
    assert {M.CONGESTION_AVOIDANCE, M.FAST_RECOVERY} <= names


def _svg_group(svg: str, gid: str) -> str:
    return svg.split(f'id="{gid}"', 1)[1].split("</g>", 1)[0]


def test_a_lossy_run_is_binned_with_no_line_per_change_and_retransmissions_as_a_rate(
    tmp_path: Path,
) -> None:
    data = series(_lossy_trace())
    assert len(data.changes()) > 1000 > 5 * MAX_CHANGE_LINES
    assert len(data.retransmissions) > 5 * MAX_RETRANSMISSION_MARKS
    layout = plan(data)
    assert layout.binned and layout.bins is not None
    assert sum(layout.bins.retransmissions) == len(data.retransmissions)
    assert sum(layout.bins.sends) == len(data.sends)
    assert len(layout.bins.edges) - 1 <= MAX_BINS + 1

    out = tmp_path / "cwnd.svg"
    assert run(_args(str(_write(tmp_path, _lossy_trace())), "--out", str(out))) == 0
    svg = out.read_text()
    for gid in ("whole", "states", "rates", "zoom", "cwnd-range", "cwnd-mean", "send-rate",
                "retransmission-rate", "zoom-span", "share-SLOW_START"):  # fmt: skip
        assert f'id="{gid}"' in svg, gid
    # lines and marks only in the zoom: no more than its own changes and retransmissions
    start, stop = data.zoom_range()
    zoomed = data.between(start, stop)
    assert svg.count('id="state-change') == len(zoomed.changes()) == ZOOM_CHANGES
    marks = re.findall(r"<use ", _svg_group(svg, "retransmissions"))
    assert len(marks) == len(zoomed.retransmissions) < MAX_RETRANSMISSION_MARKS
    # the whole run's panels draw bins: a fixed set of artists, however many events
    axes = {ax.get_gid(): ax for ax in figure(data).axes}
    assert [line.get_gid() for line in axes["whole"].lines] == ["cwnd-mean", "ssthresh-mean"]
    assert [c.get_gid() for c in axes["rates"].collections] == [
        "send-rate",
        "retransmission-rate",
    ]
    assert not axes["rates"].lines and not axes["states"].lines


def test_the_zoomed_panel_shows_the_first_state_changes() -> None:
    data = series(_lossy_trace())
    changes = data.changes()
    start, stop = data.zoom_range()
    assert start == data.t[0]
    assert stop == changes[ZOOM_CHANGES][0]  # the next change is just outside
    assert data.between(start, stop).changes() == changes[:ZOOM_CHANGES]
    fig = figure(data)
    axes = {ax.get_gid(): ax for ax in fig.axes}
    assert axes["zoom"].get_xlim() == pytest.approx((start, stop))
    span = next(p for p in axes["whole"].patches if p.get_gid() == "zoom-span")
    (left, _b), (right, _t) = span.get_extents().get_points()  # where the zoom lies, drawn
    x0, x1 = axes["whole"].transData.transform([(start, 0), (stop, 0)])[:, 0]
    assert (left, right) == pytest.approx((x0, x1), abs=1)
    # Go-Back-N resends a window at one instant: each burst's marks carry their count
    zoomed = data.between(start, stop)
    counts = [int(t.get_text().lstrip("\N{MULTIPLICATION SIGN}")) for t in axes["zoom"].texts]
    singles = len(set(zoomed.retransmissions)) - len(counts)
    assert counts and min(counts) > 1 and sum(counts) + singles == len(zoomed.retransmissions)
    # the whole run covers every record, bin by bin
    whole = axes["whole"].get_xlim()
    assert whole[0] <= data.t[0] and whole[1] >= data.end


def test_a_zoom_without_state_changes_ends_after_its_records() -> None:
    """Dense by retransmissions alone (a long ramp, no loss of state): the zoom holds the
    first ZOOM_RECORDS cwnd records."""
    model = Congestion(8, "reno")
    records: list[dict[str, Any]] = []
    for i in range(1000):
        model.on_ack(8)
        t = i * 0.001
        records.append({"t": t, "conn": "c", "kind": "cwnd", **model.trace_fields()})
        records.append(
            {"t": t, "conn": "c", "kind": "send", "flags": "DATA", "retransmission": True}
        )
    data = series(records)
    assert plan(data).binned and len(data.changes()) <= 1
    start, stop = data.zoom_range()
    assert (start, stop) == (data.t[0], data.t[ZOOM_RECORDS])
    assert len(data.between(start, stop).t) == ZOOM_RECORDS + 1  # and the closing point


def test_the_lossy_experiment_plots_as_png(tmp_path: Path) -> None:
    out = tmp_path / "cwnd.png"
    assert run(_args(str(_write(tmp_path, _lossy_trace())), "--out", str(out))) == 0
    assert out.read_bytes().startswith(b"\x89PNG")


@st.composite
def _step_series(draw: st.DrawFn) -> CwndSeries:
    """Any run: records at non-decreasing times (some at one instant), any states."""
    gaps = draw(st.lists(st.sampled_from([0.0, 1e-6, 0.0003, 0.01, 0.2]), min_size=1, max_size=60))
    times = [sum(gaps[: i + 1]) for i in range(len(gaps))]
    n = len(times)
    cwnd = draw(st.lists(st.integers(1, 10_000), min_size=n, max_size=n))
    ssthresh = draw(st.lists(st.none() | st.integers(2, 10_000), min_size=n, max_size=n))
    states = draw(st.lists(st.sampled_from([M.SLOW_START, M.CONGESTION_AVOIDANCE, "ODD"]),
                           min_size=n, max_size=n))  # fmt: skip
    after = st.floats(0, times[-1] + 0.5, allow_nan=False)
    retransmissions = sorted(draw(st.lists(after, max_size=30)))
    return CwndSeries("c", times, cwnd, ssthresh, states, retransmissions, retransmissions)


def _integral(data: CwndSeries, values: list[int]) -> float:
    stops = [*data.t[1:], data.end]
    return sum(v * (b - a) for v, a, b in zip(values, data.t, stops, strict=True))


@given(_step_series(), st.integers(1, MAX_BINS))
def test_bins_keep_every_event_and_every_byte_second(data: CwndSeries, max_bins: int) -> None:
    bins = binned(data, max_bins)
    count = len(bins.edges) - 1
    assert count <= max_bins + 1  # round widths, aligned: at most one bin more
    assert bins.edges[0] <= data.t[0] + 1e-9 and bins.edges[-1] >= data.end - 1e-9
    assert sum(bins.retransmissions) == len(data.retransmissions)
    covered = [
        max(0.0, min(hi, data.end) - max(lo, data.t[0]))
        for lo, hi in zip(bins.edges, bins.edges[1:], strict=False)
    ]
    means = [0.0 if m is None else m for m in bins.cwnd_mean]
    assert sum(m * c for m, c in zip(means, covered, strict=True)) == pytest.approx(
        _integral(data, data.cwnd), rel=1e-6, abs=1e-6
    )
    for low, mean, high in zip(bins.cwnd_min, bins.cwnd_mean, bins.cwnd_max, strict=True):
        assert low is not None and mean is not None and high is not None
        assert low - 1e-6 <= mean <= high + 1e-6
    for i, c in enumerate(covered):
        total = sum(shares[i] for shares in bins.shares.values())
        assert total == pytest.approx(1.0) if c > 1e-9 else total <= 1.0 + 1e-9
    assert set(bins.shares) == set(data.state)


@given(st.floats(1e-6, 1e5), st.integers(1, 1000))
def test_bin_width_is_the_smallest_round_width_that_fits(span: float, max_bins: int) -> None:
    width = bin_width(span, max_bins)
    mantissa = width / 10 ** math.floor(math.log10(width) + 1e-9)
    assert round(mantissa, 6) in (1, 2, 5)
    assert span / width <= max_bins * (1 + 1e-6)
    smaller = {1: 0.5, 2: 0.5, 5: 0.4}[round(mantissa)]  # the round width just below
    assert span / (width * smaller) > max_bins * (1 - 1e-6)


@given(_step_series(), st.data())
def test_a_part_of_the_run_has_the_values_in_force(data: CwndSeries, choice: st.DataObject) -> None:
    start = choice.draw(st.floats(data.t[0], data.end, allow_nan=False))
    stop = choice.draw(st.floats(start, data.end + 1, allow_nan=False).filter(lambda x: x > start))
    part = data.between(start, stop)
    assert (part.t[0], part.t[-1]) == (start, stop)  # the lines reach both edges
    for t in [start, (start + stop) / 2, *[x for x in data.t if start <= x < stop]]:
        assert part.cwnd_at(t) == data.cwnd_at(t)
    assert all(start <= r < stop for r in part.retransmissions)


def test_plot_of_the_same_trace_is_the_same_file(tmp_path: Path) -> None:
    trace = str(_write(tmp_path, _synthetic_trace()))
    outs = [tmp_path / "a.svg", tmp_path / "b.svg"]
    for out in outs:
        assert run(_args(trace, "--out", str(out))) == 0
    assert outs[0].read_bytes() == outs[1].read_bytes()


def test_png_output(tmp_path: Path) -> None:
    out = tmp_path / "cwnd.png"
    assert run(_args(str(_write(tmp_path, _synthetic_trace())), "--out", str(out))) == 0
    assert out.read_bytes().startswith(b"\x89PNG")


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("fsm-tcp: error: ")
    return err[0]


def test_without_matplotlib_one_clear_line_and_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    out = tmp_path / "cwnd.svg"
    assert run(_args(str(_write(tmp_path, _synthetic_trace())), "--out", str(out))) == 1
    assert NEED_MATPLOTLIB in _one_error_line(capsys)
    assert not out.exists()


@pytest.mark.parametrize(
    ("records", "argv", "message"),
    [
        ([{"t": 0, "kind": "send"}], [], 'no "cwnd" records'),
        (_synthetic_trace(), ["--conn", "nobody"], "nobody"),
        ([{"t": 0, "kind": "cwnd", "cwnd": "big", "state": "SLOW_START"}], [], "cwnd"),
        (_synthetic_trace(), ["--out", "x.txt"], "svg"),
    ],
)
def test_bad_input_is_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    records: list[dict[str, Any]],
    argv: list[str],
    message: str,
) -> None:
    argv = [a if a != "x.txt" else str(tmp_path / a) for a in argv]
    assert run(_args(str(_write(tmp_path, records)), *argv)) == 1
    assert message in _one_error_line(capsys)


def test_help_has_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["plot", "--help"])
    assert "fsm-tcp plot run.jsonl --out cwnd.svg" in capsys.readouterr().out
