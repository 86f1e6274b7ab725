"""``fsm-tcp bench`` parts 5-7 (issue 11) at tiny sizes: every figure printed, every transfer
byte-exact, every process ended. Timings are the benchmark's business, never asserted here."""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from fsm_tcp import bench

TINY = 64 << 10
#: The course's experiment stays at MSS 8 and 20% loss, so it gets a smaller file than the rest.
TINY_COURSE = 2048
SETTINGS = bench.Settings(course_size=TINY_COURSE, sr_size=TINY, loss1_size=TINY, runs=1)
HAS_AIOQUIC = bench._aioquic_version() is not None
WINDOWED = bench.windowed_unavailable()  # None once the engine has windowed modes
NOT_AVAILABLE = "windowed modes are not available"


@pytest.fixture(autouse=True)
def no_process_left() -> Iterator[None]:
    yield
    assert multiprocessing.active_children() == []


def run_parts(
    *parts: str, settings: bench.Settings = SETTINGS
) -> tuple[list[str], dict[str, float]]:
    out = io.StringIO()
    results = bench.run_all(4096, 2048, 0.1, out, parts, settings)
    lines = out.getvalue().splitlines()
    # a transfer that was not byte-exact raises inside the bench and prints FAILED
    assert not [line for line in lines if "FAILED" in line], lines
    return lines, results


def skip_unless_windowed() -> None:
    if WINDOWED is not None:
        pytest.skip(f"windowed modes not in this build ({WINDOWED}): their figures unchecked")


# ------------------------------------------------------------------ selection
def test_parts_are_chosen_by_name() -> None:
    assert bench.parse_parts("window, aioquic,loss1") == ("window", "aioquic", "loss1")
    assert bench.parse_parts("all") == bench.PARTS
    assert bench.DEFAULT_PARTS == ("goodput", "loss", "sim", "memory")
    for bad in ("windows", "", "all,sim"):
        with pytest.raises(argparse.ArgumentTypeError, match="choose from"):
            bench.parse_parts(bad)
    with pytest.raises(ValueError, match="nope"):
        bench.run_all(1, 1, 0.1, io.StringIO(), ["nope"])


def test_options_reach_the_settings() -> None:
    p = argparse.ArgumentParser()
    bench.add_arguments(p)  # every option, the stop-and-wait parts' included
    args = p.parse_args(
        ["--only", "sim", "--sr-size", "4096", "--window", "8", "--runs", "1", "--sr-cc", "tahoe",
         "--sim-seconds", "0.5"]
    )  # fmt: skip
    assert args.only == ("sim",) and args.sr_size == 4096 and args.window == 8
    assert args.sr_cc == "tahoe"
    for bad in (["--runs", "0"], ["--window", "x"], ["--sr-cc", "cubic"], ["--size", "0"]):
        with pytest.raises(SystemExit):
            p.parse_args(bad)
    lines = io.StringIO()
    assert set(bench.run_from_args(args, lines)) == {"sim_per_second"}
    assert lines.getvalue().splitlines()[1].startswith("3. simulator")


# ------------------------------------------------------------------ part 5: the course's experiment
@pytest.mark.timeout(90)
def test_course_experiment_prints_time_and_segments() -> None:
    lines, results = run_parts("window")
    assert lines[1].startswith("5. the course's experiment: 2048 B, MSS 8, 20% loss")
    saw = next(line for line in lines if "stop-and-wait:" in line)
    assert " s, " in saw and "segments sent" in saw
    # 2048 B in 8-byte chunks: at least 256 data segments and the length segment
    assert results["course_saw_segments"] >= TINY_COURSE // 8 + 1
    if WINDOWED is not None:
        assert [line for line in lines if NOT_AVAILABLE in line] == [lines[-1]]
        assert "Go-Back-N" in lines[-1]
    skip_unless_windowed()
    assert any("Go-Back-N + Tahoe (window" in line and "segments sent" in line for line in lines)
    assert results["course_gbn_segments"] >= TINY_COURSE // 8 + 1
    assert "course_speedup" in results


# ------------------------------------------------------------------ part 6: SR, aioquic, raw UDP
@pytest.mark.timeout(90)
def test_throughput_part_prints_each_figure_it_can() -> None:
    lines, results = run_parts("aioquic")
    assert lines[1].startswith("6. 65536 B, no loss, 1400-byte segments")
    assert any(line.startswith("   raw UDP") and "MB/s sent" in line for line in lines)
    assert results["raw_udp_send_rate"] > 0
    if HAS_AIOQUIC:  # byte-exact: the server's SHA-256 of the stream is checked in the bench
        assert any(line.startswith("   aioquic ") and "MB/s" in line for line in lines)
        assert results["aioquic_goodput"] > 0
    if WINDOWED is not None:
        assert next(line for line in lines if NOT_AVAILABLE in line).startswith(
            "   fsm_tcp selective repeat"
        )
    skip_unless_windowed()
    assert any(line.startswith("   fsm_tcp selective repeat") and "MB/s" in line for line in lines)
    assert "fsm_tcp/raw" in lines[-1]
    if HAS_AIOQUIC:
        assert "fsm_tcp/aioquic" in lines[-1] and "goal >= 1.5" in lines[-1]


@pytest.mark.timeout(60)
def test_without_aioquic_one_line_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "aioquic", None)  # makes `import aioquic` fail
    lines, results = run_parts("aioquic")
    assert [line for line in lines if "aioquic" in line] == [
        "   aioquic: not installed; `pip install aioquic` (or the 'bench' extra) to compare "
        "with QUIC"
    ]
    assert "raw_udp_send_rate" in results and "aioquic_goodput" not in results


@pytest.mark.timeout(60)
@pytest.mark.skipif(not HAS_AIOQUIC, reason="aioquic is not installed (pip install aioquic)")
def test_aioquic_moves_the_message_exactly() -> None:
    assert bench.quic_transfer(os.urandom(TINY)) > 0  # raises unless the digests match


# ------------------------------------------------------------------ part 7: 1% loss
@pytest.mark.timeout(90)
def test_loss1_prints_the_fraction_of_no_loss_goodput() -> None:
    lines, results = run_parts("loss1")
    assert lines[1].startswith("7. 65536 B, selective repeat")
    if WINDOWED is not None:
        assert len(lines) == 2 and NOT_AVAILABLE in lines[1]
    skip_unless_windowed()
    assert "of the no-loss goodput (goal >= 0.5;" in lines[-1]
    assert results["loss1_fraction"] > 0


# ------------------------------------------------------------------ graceful failures
def test_a_send_without_mode_means_windowed_modes_are_not_available(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fsm_tcp.socket_tcp import SocketTCP

    def send(self: SocketTCP, message: bytes) -> None:  # the API before issue 11
        raise AssertionError("never called")

    monkeypatch.setattr(SocketTCP, "send", send)
    assert bench.windowed_unavailable() is not None


@pytest.mark.timeout(90)
def test_when_unavailable_each_windowed_figure_is_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bench, "windowed_unavailable", lambda: "no mode")
    lines, results = run_parts("window", "aioquic", "loss1")
    assert [line for line in lines if NOT_AVAILABLE in line] == [
        "   Go-Back-N + Tahoe: windowed modes are not available (no mode)",
        "   fsm_tcp selective repeat: windowed modes are not available (no mode)",
        "7. 65536 B, selective repeat (reno, window 64), 1% loss each way: "
        "windowed modes are not available (no mode)",
    ]
    assert lines[-1].startswith("7.")  # nothing more of part 7
    # what needs no windowed mode still runs
    assert "course_saw_seconds" in results and "raw_udp_send_rate" in results
    assert ("aioquic_goodput" in results) == HAS_AIOQUIC
    assert not {"course_gbn_seconds", "sr_goodput", "ratio_to_raw_udp"} & set(results)


def _wrong_digest(conn: Any) -> None:
    conn.send(("127.0.0.1", 9))
    conn.send("not the digest")


def _dies(conn: Any) -> None:
    os._exit(3)


def test_a_transfer_that_is_not_byte_exact_raises() -> None:
    with pytest.raises(RuntimeError, match="not byte-exact"):
        bench._in_peer_process(_wrong_digest, (), lambda address: 0.0, b"message")


@pytest.mark.timeout(20)
def test_a_peer_that_dies_fails_at_once() -> None:
    with pytest.raises(RuntimeError, match="exited with code 3"):
        bench._with_peer(_dies, (), lambda address: 0.0)


def test_a_failing_measurement_costs_one_line() -> None:
    out = io.StringIO()

    def broken() -> float:
        raise RuntimeError("benchmark transfer was not byte-exact")

    assert bench._attempt(out, "thing", broken) is None
    assert out.getvalue() == (
        "   thing: FAILED (RuntimeError: benchmark transfer was not byte-exact)\n"
    )


# ------------------------------------------------------------------ python -m fsm_tcp.bench
@pytest.mark.timeout(60)
def test_the_module_runs_as_a_command() -> None:
    # its own session, so that a hang ends with every process it started
    command = ["--only", "aioquic", "--sr-size", "4200", "--runs", "1"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "fsm_tcp.bench", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=45)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, err.decode()
    text = out.decode()
    assert "6. 4200 B" in text and "raw UDP" in text and "FAILED" not in text
