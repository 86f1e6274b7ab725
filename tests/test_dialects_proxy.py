"""fsm_tcp against itself through the real fault proxy: auto never reports a deviation.

Issue 17: a late, duplicated ACK read as the length ACK made auto infer a whole recorded
profile from one sighting, and a Selective Repeat transfer went out in 13-byte chunks with
tens of thousands of retransmissions. Here several runs at 10% loss, 5% duplication and 5%
reordering: both ends must say the peer speaks PROTOCOL.md, the data must arrive exact,
and each run must send about the segments the data needs (no shrunken chunks, no
retransmission storm), the structural form of "every run takes about as long as the
others" (durations themselves are the bench's business, never a test's).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from test_cli import announced_port, background, run

CANONICAL = "peer dialect: canonical (no deviation seen)"
SIZE = 128 << 10
MSS = 16


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fsm_tcp_against_itself_through_the_proxy_reports_no_deviation(
    tmp_path: Path, seed: int
) -> None:
    data = os.urandom(SIZE)
    src, dst = tmp_path / "in.bin", tmp_path / "out.bin"
    src.write_bytes(data)
    serve = ("serve", "--port", "0", "--once", "--output", str(dst), "--json")  # JSON on stderr
    with background(*serve) as server:
        port = announced_port(server)
        faults = ("--loss", "0.1", "--dup", "0.05", "--reorder", "0.05", "--seed", str(seed))
        with background("proxy", "--listen", "0", "--to", f"127.0.0.1:{port}", *faults) as proxy:
            proxy_port = announced_port(proxy)
            sent = run("send", "127.0.0.1", str(proxy_port), str(src), "--mode",
                       "selective_repeat", "--json", timeout=240)  # fmt: skip
            assert sent.returncode == 0, sent.stderr[-2000:]
            assert server.wait(60) == 0
        assert server.stderr is not None
        receiver = json.loads(server.stderr.read().decode().strip().splitlines()[-1])
    assert dst.read_bytes() == data
    client = json.loads(sent.stdout)
    assert client["peer_dialect"] == CANONICAL, client["peer_dialect"]
    assert receiver["peer_dialect"] == CANONICAL, receiver["peer_dialect"]
    # every chunk full size: about SIZE / MSS segments, and retransmissions of the order of
    # the loss (the bug's run resent each chunk of 13 bytes several times over)
    chunks = SIZE // MSS
    assert client["segments_sent"] - client["retransmissions"] <= chunks + 16
    assert client["retransmissions"] < chunks
