"""Pictures from the code: committed diagrams are current, charts show what happened."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fsm_tcp import machines as M
from fsm_tcp.cli import main
from fsm_tcp.render import chart_steps, mermaid, sequence_chart
from fsm_tcp.scenarios import BY_NAME, SCENARIOS

COMMITTED = Path(__file__).resolve().parent.parent / "diagrams"


def _regenerate_and_compare(tmp_path: Path, fmt: str) -> None:
    assert main(["diagram", "--format", fmt, "--out", str(tmp_path)]) == 0
    fresh = sorted(p.name for p in tmp_path.iterdir())
    ext = "md" if fmt == "mermaid" else fmt
    expected = sorted(
        [f"{t.name}.{ext}" for t in M.TABLES] + [f"{s.name}.{ext}" for s in SCENARIOS]
    )
    assert fresh == expected
    stale = [n for n in fresh if (COMMITTED / n).read_bytes() != (tmp_path / n).read_bytes()]
    assert stale == [], f"regenerate with: fsm-tcp diagram --format {fmt} ({stale})"


def test_committed_mermaid_diagrams_are_up_to_date(tmp_path: Path) -> None:
    _regenerate_and_compare(tmp_path, "mermaid")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_committed_svg_diagrams_are_up_to_date(tmp_path: Path) -> None:
    _regenerate_and_compare(tmp_path, "svg")


def test_every_declared_edge_is_drawn() -> None:
    for table in M.TABLES:
        lines = mermaid(table).splitlines()
        for src, trigger, dst in table.edges():
            edge = [ln for ln in lines if ln.strip().startswith(f"{src} --> {dst}:")]
            assert edge and trigger in edge[0], (table.name, src, trigger, dst)


def test_without_dot_svg_fails_in_one_line_and_mermaid_still_works(tmp_path: Path) -> None:
    env = dict(os.environ, PATH=str(tmp_path))  # no dot anywhere on PATH
    cmd = [sys.executable, "-m", "fsm_tcp", "diagram", "--out", str(tmp_path / "d")]
    failed = subprocess.run([*cmd, "--format", "svg"], env=env, capture_output=True, timeout=60)
    assert failed.returncode != 0
    lines = failed.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "install" in lines[0] and "graphviz" in lines[0]
    assert subprocess.run(cmd, env=env, capture_output=True, timeout=60).returncode == 0
    assert (tmp_path / "d" / "lifecycle.md").exists()


def test_desync_chart_marks_the_loss_and_the_recovery() -> None:
    _, log = BY_NAME["desync_b"].run()
    steps = chart_steps(log)
    lost = [s for s in steps if s.lost]
    assert len(lost) == 1 and lost[0].text.startswith("ACK") and lost[0].src == "server#1"
    after = steps[steps.index(lost[0]) :]
    assert any(s.kind == "note" and "rx_duplicate" in s.text for s in after)
    assert any("(retransmission)" in s.text and s.src == "client" for s in after)
    chart = sequence_chart(log, "mermaid")
    assert "-xP0: ACK" in chart and "sequenceDiagram" in chart


def test_trace_command_draws_a_real_run(tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    cli = [sys.executable, "-m", "fsm_tcp"]
    server = subprocess.Popen(
        [*cli, "serve", "--port", "0", "--once", "--output", str(tmp_path / "out")],
        stderr=subprocess.PIPE,
    )
    try:
        assert server.stderr is not None
        port = server.stderr.readline().decode().rsplit(":", 1)[1].strip()
        sent = subprocess.run(
            [
                *cli,
                "send",
                "127.0.0.1",
                port,
                "--loss",
                "0.3",
                "--seed",
                "5",
                "--trace",
                str(trace),
            ],
            input=b"x" * 100,
            capture_output=True,
            timeout=60,
        )
        assert sent.returncode == 0
        assert server.wait(30) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        assert server.stderr is not None
        server.stderr.close()
    svg = tmp_path / "t.svg"
    assert main(["trace", str(trace), "--format", "svg", "--out", str(svg)]) == 0
    assert svg.read_text().startswith("<svg") and "(lost)" in svg.read_text()
    assert main(["trace", str(trace), "--out", str(tmp_path / "t.mmd")]) == 0
    assert "sequenceDiagram" in (tmp_path / "t.mmd").read_text()
