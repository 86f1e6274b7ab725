"""``fsm-tcp bench`` at tiny sizes: every figure printed, every transfer byte-exact, every
process ended; the figures as data (goals judged, not printed strings). Timings are the
benchmark's business, never asserted here."""

from __future__ import annotations

import argparse
import dataclasses
import io
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fsm_tcp import bench
from fsm_tcp.bench import anchor_kcp, anchor_quic, peers, report, tree
from fsm_tcp.bench.figures import Goal, Section, judged, values

TINY = 64 << 10
#: The course's experiment stays at MSS 8 and 20% loss, so it gets a smaller file than the rest.
TINY_COURSE = 2048
SETTINGS = bench.Settings(
    course_size=TINY_COURSE, sr_size=TINY, loss1_size=TINY, kcp_size=TINY, tree_size=4096,
    runs=1,
)  # fmt: skip
HAS_AIOQUIC = anchor_quic.version() is not None
HAS_KCP = anchor_kcp.version() is not None


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


# ------------------------------------------------------------------ the figures as data
def test_a_goal_judges_a_value_and_says_itself() -> None:
    at_least, below = Goal(">=", 0.70, ".2f"), Goal("<", 10, unit="x")
    assert at_least.met(0.70) and at_least.met(6.5) and not at_least.met(0.69)
    assert below.met(9.99) and not below.met(10) and not below.met(11.3)
    assert (str(at_least), str(below)) == ("goal >= 0.70", "goal < 10x")
    with pytest.raises(ValueError, match="compares with"):
        Goal("<=", 1)


def test_a_section_judges_each_figure_by_its_key() -> None:
    section = Section("loss")
    section.add("loss_seconds", 0.45, "s")
    section.add("clean_seconds", 0.04, "s")
    ratio = section.add("loss_ratio", 11.25, "x")
    assert ratio.goal == bench.GOALS["loss_ratio"] and ratio.verdict is False
    assert section["loss_seconds"].goal is None and section["loss_seconds"].verdict is None
    assert judged([section]) == [ratio]
    assert values([section]) == {"loss_seconds": 0.45, "clean_seconds": 0.04, "loss_ratio": 11.25}
    section.add("loss_ratio", 6.5, "x")  # measured again: the last value is the figure
    assert section["loss_ratio"].verdict is True


def test_the_table_prints_figures_with_their_goals() -> None:
    section = Section("loss")
    for key, value, unit in (("loss_seconds", 0.5, "s"), ("clean_seconds", 0.05, "s"),
                             ("loss_ratio", 10.0, "x")):  # fmt: skip
        section.add(key, value, unit)
    (line,) = report.loss(bench.Settings(loss_size=4096, loss_seeds=5), section)
    assert line == (
        "2. 4096 B at 20% loss each way: 0.500 s vs 0.050 s without loss -> 10.0x "
        "(goal < 10x; medians of 5 seeds, with and without loss taking turns)"
    )
    assert section["loss_ratio"].verdict is False  # 10.0 is not under 10: judged, not read


def test_a_part_without_its_figures_prints_why() -> None:
    section = Section("kcp", failures={"kcp": "RuntimeError: KCP moved no more within 120 s"})
    section.add("sr_goodput", 80e6, "B/s")
    lines = report.kcp(SETTINGS, section)
    assert lines[0].startswith("   KCP ") and lines[0].endswith(
        ": FAILED (RuntimeError: KCP moved no more within 120 s)"
    )
    assert (
        "   fsm_tcp selective repeat (reno, window 64): the library, one message: 80.0 MB/s"
        in lines
    )
    assert not [line for line in lines if "->" in line]  # no ratio without both sides


@pytest.mark.timeout(60)
def test_run_sections_returns_the_figures_it_printed() -> None:
    out = io.StringIO()
    (section,) = bench.run_sections(bench.Settings(sim_seconds=0.1), out, ["sim"])
    figure = section["sim_per_second"]
    assert figure.unit == "/s" and figure.goal == Goal(">=", 300)
    assert figure.verdict == (figure.value >= 300)
    assert f"{figure.value:.0f} lifecycles/s" in out.getvalue()
    assert f"({figure.goal})" in out.getvalue()


# ------------------------------------------------------------------ part 2: loss
@pytest.mark.timeout(60)
def test_loss_compares_medians_taken_in_turns() -> None:
    settings = dataclasses.replace(SETTINGS, loss_seeds=3)
    out = io.StringIO()
    results = bench.run_all(4096, 2048, 0.1, out, ["loss"], settings)
    assert results["loss_ratio"] == results["loss_seconds"] / results["clean_seconds"]
    assert "medians of 3 seeds" in out.getvalue().splitlines()[1]


# ------------------------------------------------------------------ part 5: the course's experiment
@pytest.mark.timeout(90)
def test_course_experiment_prints_time_and_segments() -> None:
    lines, results = run_parts("window")
    assert lines[1].startswith("5. the course's experiment: 2048 B, MSS 8, 20% loss")
    saw = next(line for line in lines if "stop-and-wait:" in line)
    assert " s, " in saw and "segments sent" in saw
    # 2048 B in 8-byte chunks: at least 256 data segments and the length segment
    assert results["course_saw_segments"] >= TINY_COURSE // 8 + 1
    assert any("Go-Back-N + Tahoe (window" in line and "segments sent" in line for line in lines)
    assert results["course_gbn_segments"] >= TINY_COURSE // 8 + 1
    assert "course_speedup" in results


# ------------------------------------------------------------------ part 6: SR, aioquic, raw UDP
@pytest.mark.timeout(90)
def test_throughput_part_prints_each_figure_it_can() -> None:
    lines, results = run_parts("aioquic")
    assert lines[1].startswith("6. 65536 B, no loss, 1400-byte segments")
    assert any(line.startswith("   raw UDP") and "MB/s sent" in line for line in lines)
    assert results["raw_udp_goodput"] > 0
    if HAS_AIOQUIC:  # byte-exact: the server's SHA-256 of the stream is checked in the bench
        assert any(line.startswith("   aioquic ") and "MB/s" in line for line in lines)
        assert results["aioquic_goodput"] > 0
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
    assert "raw_udp_goodput" in results and "aioquic_goodput" not in results


@pytest.mark.timeout(60)
@pytest.mark.skipif(not HAS_AIOQUIC, reason="aioquic is not installed (pip install aioquic)")
def test_aioquic_moves_the_message_exactly() -> None:
    assert anchor_quic.transfer(os.urandom(TINY)) > 0  # raises unless the digests match


# ------------------------------------------------------------------ part 7: 1% loss
@pytest.mark.timeout(90)
def test_loss1_prints_the_fraction_of_no_loss_goodput() -> None:
    lines, results = run_parts("loss1")
    assert lines[1].startswith("7. 65536 B, selective repeat")
    assert "of the no-loss goodput (goal >= 0.5;" in lines[-1]
    assert results["loss1_fraction"] > 0


# ------------------------------------------------------------------ part 8: KCP
@pytest.mark.timeout(90)
@pytest.mark.skipif(
    not HAS_KCP, reason="kcp is not installed (pip install kcp; needs a C compiler)"
)
def test_kcp_part_compares_selective_repeat_with_tuned_kcp() -> None:
    lines, results = run_parts("kcp")
    assert lines[1].startswith("8. 65536 B, no loss, 1400-byte segments")
    assert any(line.startswith("   KCP ") and "windows of 1024" in line for line in lines)
    assert any(line.startswith("   KCP ") and "flushing at once" in line for line in lines)
    assert any("`fsm-tcp send` a file to `fsm-tcp serve`" in line for line in lines)
    keys = ("kcp_goodput", "kcp_eager_goodput", "sr_goodput", "cli_goodput")
    assert min(results[k] for k in keys) > 0
    ratio = results["cli_goodput"] / results["kcp_goodput"]
    assert results["ratio_to_kcp"] == pytest.approx(ratio)
    assert lines[-1].startswith("   -> fsm_tcp/KCP (command line) ")
    assert "(goal >= 1.5)" in lines[-1]
    assert lines[-1].endswith(f"fsm_tcp/eager KCP {results['ratio_to_kcp_eager']:.2f}")


@pytest.mark.timeout(60)
@pytest.mark.skipif(
    not HAS_KCP, reason="kcp is not installed (pip install kcp; needs a C compiler)"
)
@pytest.mark.parametrize("eager", [False, True])
@pytest.mark.parametrize("size", [1, 1400, 1401, anchor_kcp.CHUNK * 3 + 7])
def test_kcp_moves_the_message_exactly(size: int, eager: bool) -> None:
    # sizes around a segment and across several chunks; raises unless the digests match
    assert anchor_kcp.transfer(os.urandom(size), eager) > 0


@pytest.mark.timeout(60)
def test_without_kcp_one_line_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "kcp", None)  # makes `import kcp` fail
    lines, results = run_parts("kcp")
    assert [line for line in lines if "KCP" in line[:8]] == [
        "   KCP: not installed; `pip install kcp` (builds KCP's C core, so it needs a C "
        "compiler) to compare with KCP"
    ]
    assert "sr_goodput" in results and "cli_goodput" in results
    assert "ratio_to_kcp" not in results


# ------------------------------------------------------------------ part 9: another tree
def in_git_checkout() -> bool:
    try:
        tree.short_name("HEAD")
    except RuntimeError:
        return False
    return True


@pytest.mark.timeout(90)
@pytest.mark.skipif(not in_git_checkout(), reason="part tree needs git and a checkout")
def test_tree_part_measures_both_trees_and_leaves_nothing_behind() -> None:
    before = set(Path(tempfile.gettempdir()).glob("fsm-tcp-tree-*"))
    lines, results = run_parts("tree", settings=dataclasses.replace(SETTINGS, tree="HEAD"))
    assert lines[1].startswith("9. stop-and-wait on one core: 4096 B, 16-byte segments")
    assert lines[2].startswith("   this tree: ") and lines[3].startswith("   HEAD: ")
    assert lines[-1].startswith("   -> this tree's goodput to HEAD's: ")
    assert results["tree_ratio"] > 0
    assert set(Path(tempfile.gettempdir()).glob("fsm-tcp-tree-*")) == before


@pytest.mark.skipif(not in_git_checkout(), reason="part tree needs git and a checkout")
def test_an_unknown_revision_costs_one_line() -> None:
    out = io.StringIO()
    settings = dataclasses.replace(SETTINGS, tree="no-such-revision")
    assert bench.run_all(1, 1, 0.1, out, ["tree"], settings) == {}
    lines = out.getvalue().splitlines()
    assert len(lines) == 3 and lines[2].startswith("   tree no-such-revision: FAILED (")


def test_a_tree_script_runs_the_tree_it_was_given(tmp_path: Path) -> None:
    # an empty directory holds no fsm_tcp: the script must not fall back on the installed one
    (tmp_path / "fsm_tcp").mkdir()
    (tmp_path / "fsm_tcp" / "__init__.py").write_text("raise ImportError('not this tree')\n")
    with pytest.raises(RuntimeError, match="receiver ended early"):
        tree.stop_and_wait_on_one_core(tmp_path, 16, tree.one_cpu())


# ------------------------------------------------------------------ graceful failures
def _wrong_digest(conn: Any) -> None:
    conn.send(("127.0.0.1", 9))
    conn.send("not the digest")


def _dies(conn: Any) -> None:
    sys.exit(3)


def test_a_transfer_that_is_not_byte_exact_raises() -> None:
    with pytest.raises(RuntimeError, match="not byte-exact"):
        peers.exact(_wrong_digest, (), lambda address: 0.0, b"message")


@pytest.mark.timeout(20)
def test_a_peer_that_dies_fails_at_once() -> None:
    with pytest.raises(RuntimeError, match="exited with code 3"):
        peers.with_peer(_dies, (), lambda address: 0.0)


def test_a_failing_measurement_costs_one_line() -> None:
    section = Section("loss1")

    def broken(seed: int) -> float:
        raise RuntimeError("benchmark transfer was not byte-exact")

    calls: list[int] = []

    def works(seed: int) -> float:
        calls.append(seed)
        return 1.0

    got = peers.interleaved({"clean": works, "lossy": broken}, 3, section.failures)
    assert got == {"clean": [1.0, 1.0, 1.0]} and calls == [0, 1, 2]  # the rest still measured
    assert section.failures == {"lossy": "RuntimeError: benchmark transfer was not byte-exact"}
    assert report.loss1(SETTINGS, section) == [
        "   at 1% loss: FAILED (RuntimeError: benchmark transfer was not byte-exact)"
    ]


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
