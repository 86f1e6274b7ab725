"""Dialects on real UDP: every profile against auto, both ways, through the command line
(`fsm-tcp serve --dialect X` with `fsm-tcp send`, and the reverse) and, under 10% loss
each way, through SocketTCP in two threads."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from netutil import serve_one_message, spawn
from test_cli import announced_port, background, run

from fsm_tcp import SocketTCP
from fsm_tcp import dialects as D

NAMES = [*D.PROFILES, *D.EXTRA]


@pytest.mark.parametrize("direction", ["profile-serves", "profile-sends"])
@pytest.mark.parametrize("name", NAMES)
def test_serve_and_send_talk_in_every_dialect(tmp_path: Path, name: str, direction: str) -> None:
    data = os.urandom(150)  # a 3-digit length: the hardest for the length-ACK arithmetic
    src, dst = tmp_path / "in.bin", tmp_path / "out.bin"
    src.write_bytes(data)
    serve_dialect, send_dialect = (name, "auto") if direction == "profile-serves" else (
        "auto", name)  # fmt: skip
    serve = ("serve", "--port", "0", "--once", "--output", str(dst), "--dialect", serve_dialect)
    with background(*serve, "--debug") as server:
        port = announced_port(server)
        sent = run("send", "127.0.0.1", str(port), str(src), "--dialect", send_dialect,
                   "--debug", timeout=60)  # fmt: skip
        assert sent.returncode == 0, sent.stderr[-2000:]
        assert server.wait(60) == 0
        assert server.stderr is not None
        served = server.stderr.read().decode()
    assert dst.read_bytes() == data
    # --debug says what auto saw of the peer, on the side that ran auto
    said = sent.stderr.decode() if send_dialect == "auto" else served
    assert "peer dialect:" in said


def _through_sockets(server_dialect: str, client_dialect: str, loss: float, seed: int) -> bytes:
    message = os.urandom(200)
    server = SocketTCP(dialect=server_dialect, loss_rate=loss, seed=seed, busy_poll=0,
                       initial_rto=0.05, min_rto=0.02, max_retries=30)  # fmt: skip
    server.bind(("127.0.0.1", 0))
    port = server.getsockname()[1]

    worker = spawn(lambda: serve_one_message(server))
    client = SocketTCP(dialect=client_dialect, loss_rate=loss, seed=seed + 1, busy_poll=0,
                       initial_rto=0.05, min_rto=0.02, max_retries=30)  # fmt: skip
    try:
        client.connect(("127.0.0.1", port))
        client.send(message)
        client.close()
        got = worker.outcome(60)
    finally:
        client.udp.close()
        server.udp.close()
    assert got == message
    return message


@pytest.mark.parametrize("name", NAMES)
def test_auto_and_every_dialect_under_ten_percent_loss_each_way(name: str) -> None:
    for seed in (1, 2):
        _through_sockets(name, "auto", 0.1, seed)
        _through_sockets("auto", name, 0.1, seed + 10)
