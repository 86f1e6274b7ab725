"""``fsm-tcp send``: a file (or stdin) as one message, then close."""

from __future__ import annotations

import argparse
import sys
import time

from ...argtypes import port_number
from ...errors import InvalidArgument
from ...socket_tcp import SocketTCP
from ..base import EXIT_INTERRUPTED, examples, fill, resolve, say
from ..settings import Settings
from ..summary import Summary

HELP = "send a file (or stdin) as one message, then close"
DESCRIPTION = fill(
    "Send a file (or stdin) as one message and close; exit 0 once every "
    "byte is acknowledged. On a terminal, stderr shows bytes acknowledged, rate and "
    "time left; at the end one summary line (bytes, time, goodput, retransmissions, "
    "smoothed RTT, loss seen)."
)
EPILOG = examples(
    [
        "fsm-tcp send 127.0.0.1 8000 file.bin",
        "tar c somedir | fsm-tcp send 127.0.0.1 8000",
        "fsm-tcp send --json --loss 0.2 127.0.0.1 8000 file.bin > stats.json",
        "fsm-tcp send --mode go_back_n --mss 8 --cc tahoe 127.0.0.1 8000 file.bin",
        "fsm-tcp send --dialect listener-ack-plus2 127.0.0.1 8000 file.bin",
    ]
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("host", help="address or name of the server (as given to serve --host)")
    p.add_argument("port", type=port_number, help="the server's UDP port (serve --port)")
    p.add_argument(
        "file", nargs="?", default="-", help="file to send; '-' or none reads stdin (default)"
    )
    Settings.register(p, json_where="stdout", window=True)


def _read_input(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise InvalidArgument(f"cannot read {path}: {exc.strerror}") from None


def _acknowledged(sock: SocketTCP, delivered: bool, total: int) -> int:
    if delivered:
        return total
    return sock.conn.send_progress[0] if sock.conn is not None else 0


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_args(args)
    data = _read_input(args.file)
    host = resolve(args.host)
    sinks = settings.sinks()
    sock = settings.socket(sinks, "client")
    display = settings.progress(len(data))
    delivered = False
    start = time.monotonic()
    try:
        try:
            sock.connect((host, args.port))
            sock.send(data, progress=display, mode=settings.mode)
            delivered = True
        finally:  # the line ends before any other message, whatever happened
            if display is not None:
                display.stop(_acknowledged(sock, delivered, len(data)))
        sock.close()
    except KeyboardInterrupt:
        acked = _acknowledged(sock, delivered, len(data))
        say(f"interrupted: {acked} of {len(data)} bytes acknowledged; connection abandoned")
        return EXIT_INTERRUPTED
    finally:
        sock.udp.close()  # after Ctrl-C no FIN: the peer finds out by its own timeout
        sinks.close()
    peer = (host, args.port)
    settings.report(
        Summary.of("sent", sock, peer, len(data), 1, time.monotonic() - start), sys.stdout
    )
    return 0
