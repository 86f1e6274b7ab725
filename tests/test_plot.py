"""``fsm-tcp plot``: cwnd and ssthresh drawn from trace records, one-line errors."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from fsm_tcp import machines as M
from fsm_tcp.cli import main
from fsm_tcp.congestion import Congestion
from fsm_tcp.plot import NEED_MATPLOTLIB, add_arguments, run, series


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
