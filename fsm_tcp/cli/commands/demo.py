"""``fsm-tcp demo``: a server and a client on loopback under loss, narrated on one clock."""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import threading
import time
from typing import Any

from ...argtypes import positive_int, probability
from ...errors import FsmTcpError
from ...socket_tcp import SocketTCP
from ..base import examples, fill
from ..narration import Sinks
from ..pipes import Lines

HELP = "server and client on loopback under loss, narrated"
DESCRIPTION = fill(
    "Run a server and a client on 127.0.0.1 in one process, with simulated "
    "loss at both ends, narrate the conversation on one clock (seconds since the first "
    "event), then check the message arrived byte-exact and count what each end sent, "
    "retransmitted and lost."
)
EPILOG = examples(
    [
        "fsm-tcp demo",
        "fsm-tcp demo --loss 0.3 --size 64 | less",
        "fsm-tcp demo --quiet --size 65536 --seed 7",
    ]
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--loss",
        type=probability,
        default=0.2,
        metavar="P",
        help="probability each datagram is lost, each way (default 0.2)",
    )
    p.add_argument(
        "--size",
        type=positive_int,
        default=1024,
        metavar="N",
        help="message size in bytes (default 1024)",
    )
    p.add_argument(
        "--seed", type=int, default=1, metavar="N", help="seed of message and losses (default 1)"
    )
    p.add_argument("--quiet", "-q", action="store_true", help="only the summary")


def run(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    message = rng.randbytes(args.size)
    out = Lines(sys.stdout)
    sinks = Sinks(None, None if args.quiet else out)
    out.write(
        f"fsm-tcp demo: {args.size} random bytes over 127.0.0.1, "
        f"{args.loss:.0%} loss each way (seed {args.seed})\n"
    )
    server = SocketTCP(loss_rate=args.loss, seed=args.seed, tracer=sinks.tracer(), name="server")
    server.bind(("127.0.0.1", 0))
    received: dict[str, Any] = {}
    thread = threading.Thread(target=_demo_server, args=(server, received), daemon=True)
    thread.start()
    client = SocketTCP(
        loss_rate=args.loss, seed=args.seed + 1, tracer=sinks.tracer(), name="client"
    )
    start = time.monotonic()
    try:
        client.connect(server.getsockname())
        client.send(message)
        client.close()
        thread.join(120)
    finally:
        sinks.close()  # nothing more narrated, whatever the server thread still does
        client.udp.close()  # after an interruption, no closing handshake to wait for
        if not thread.is_alive():
            server.close()
        # else the server thread may still wait in accept() on it: closing it under that
        # wait would end the thread in a traceback; the process's exit closes it instead
    elapsed = time.monotonic() - start
    return _demo_summary(out, message, received, client, server, elapsed)


def _demo_server(server: SocketTCP, received: dict[str, Any]) -> None:
    try:
        conn, _ = server.accept()
        received["socket"] = conn
        received["message"] = conn.recv_message()
        conn.recv_close()
    except FsmTcpError as exc:
        received["error"] = exc


def _lost(sock: SocketTCP | None) -> int:
    return sock.udp.lost_sends + sock.udp.lost_receives if sock is not None else 0


def _demo_summary(
    out: Lines,
    message: bytes,
    received: dict[str, Any],
    client: SocketTCP,
    server: SocketTCP,
    elapsed: float,
) -> int:
    got = received.get("message")
    child: SocketTCP | None = received.get("socket")
    cs = client.conn.stats if client.conn else None
    ss = child.conn.stats if child is not None and child.conn is not None else None
    ok = got == message
    digest = hashlib.sha256(message).hexdigest()[:16]
    lines = [
        "",
        f"bytes:           {len(message)} sent, {len(got or b'')} received",
        f"verified:        {f'byte-exact (sha256 {digest}...)' if ok else 'MISMATCH'}",
        f"segments:        {cs.segments_sent if cs else 0} by the client, "
        f"{ss.segments_sent if ss else 0} by the server",
        f"retransmissions: {cs.retransmissions if cs else 0} by the client, "
        f"{ss.retransmissions if ss else 0} by the server",
        f"duplicates:      {ss.duplicates_received if ss else 0} received by the server, "
        f"{cs.duplicates_received if cs else 0} by the client",
        # the listener's own socket counts too: it could lose what it sends before accept
        f"lost (sim):      {_lost(client)} at the client, "
        f"{_lost(server) + _lost(child)} at the server",
        f"time:            {elapsed:.3f} s",
    ]
    for line in lines:
        out.write(line)
    return 0 if ok else 1
