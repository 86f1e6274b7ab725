"""``fsm-tcp serve``: accept connections, each in a thread of its own; write every message."""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
import time
from typing import BinaryIO

from ...argtypes import port_number
from ...engine import Address, Connection
from ...errors import FsmTcpError, InvalidArgument
from ...socket_tcp import SocketTCP
from ..base import EXIT_INTERRUPTED, examples, fill, resolve, say
from ..pipes import reader_gone
from ..settings import Settings
from ..summary import Summary

HELP = "accept connections; write every message received"
DESCRIPTION = fill(
    "Accept connections, each in a thread of its own, and write every message "
    "received, whole, in the order messages complete. A message is written only once "
    "all of it has arrived: one interrupted (Ctrl-C, exit 130) is never written, not "
    "even in part. One summary line per connection on stderr (with --json one JSON "
    "object per line, on stderr too, since stdout may carry the data)."
)
EPILOG = examples(
    [
        "fsm-tcp serve --port 8000 --output received.bin --once",
        "fsm-tcp serve --port 0 --loss 0.2 --seed 1 > received.bin",
        "fsm-tcp serve --port 8000 --output received.bin --json 2> stats.jsonl",
    ]
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument(
        "--port",
        type=port_number,
        default=8000,
        help="UDP port to listen on; 0 picks a free one, announced on stderr (default 8000)",
    )
    p.add_argument(
        "--output",
        "-o",
        default="-",
        metavar="FILE",
        help="file to write messages to, replaced if it exists (default: stdout)",
    )
    p.add_argument("--once", action="store_true", help="exit after the first connection closes")
    Settings.register(p, json_where="stderr", window=False)


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_args(args)
    sinks = settings.sinks()
    server = Server(_open_output(args.output), settings)
    listener = settings.socket(sinks, "server")
    try:
        host = resolve(args.host)
        try:
            listener.bind((host, args.port))
        except OSError as exc:
            raise InvalidArgument(f"cannot listen on {host}:{args.port}: {exc.strerror}") from None
        bound = listener.getsockname()
        say(f"listening on {bound[0]}:{bound[1]}")
        return _accept_loop(listener, server, args.once)
    except KeyboardInterrupt:
        return server.interrupted(args.output)
    finally:
        server.writer.close()
        listener.close()
        sinks.close()


def _accept_loop(listener: SocketTCP, server: Server, once: bool) -> int:
    if once:  # in this thread: with no other thread running, the socket may busy-poll
        return server.serve(*listener.accept())
    while True:  # each connection in a thread of its own: a long transfer blocks no one
        conn, peer = listener.accept()
        threading.Thread(target=server.serve, args=(conn, peer), daemon=True).start()


def _open_output(path: str) -> BinaryIO:
    if path == "-":
        return sys.stdout.buffer
    try:
        return open(path, "wb")
    except OSError as exc:
        raise InvalidArgument(f"cannot write {path}: {exc.strerror}") from None


class MessageWriter:
    """Whole messages to one output, from any number of connection threads.

    Only whole messages are ever written, each under the lock; close() takes the lock too,
    so after it returns no write is under way and none will start.
    """

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.messages = 0
        self.closed = False
        self._lock = threading.Lock()

    def write(self, message: bytes) -> bool:
        """False if the output was closed first (the message is not written)."""
        with self._lock:
            if self.closed:
                return False
            try:
                self.out.write(message)
                self.out.flush()
            except BrokenPipeError:  # `fsm-tcp serve | head -c 10`
                self.closed = True
                reader_gone()
                return False
            self.messages += 1
            return True

    def close(self) -> None:
        with self._lock:
            if not self.closed:
                self.closed = True
                if self.out is not sys.stdout.buffer:
                    self.out.close()


class Server:
    """What serve's connections share: the output, who is connected, the reports."""

    def __init__(self, out: BinaryIO, settings: Settings) -> None:
        self.writer = MessageWriter(out)
        self.settings = settings
        self.active: dict[Address, SocketTCP] = {}
        self._lock = threading.Lock()

    def serve(self, conn: SocketTCP, peer: Address) -> int:
        """Receive every message of one connection; 0 once it closed cleanly."""
        start = time.monotonic()
        with self._lock:
            self.active[peer] = conn
        try:
            received = self._receive_all(conn)
        except FsmTcpError as exc:
            with contextlib.suppress(FsmTcpError):
                conn.close()
            self._say(f"{peer[0]}:{peer[1]}: {exc}")
            received = None
        # not in a finally: after Ctrl-C, interrupted() reports the connections still here
        with self._lock:
            self.active.pop(peer, None)
        if received is None:
            return 1
        if not self.writer.closed:
            secs = time.monotonic() - start
            self.settings.report(Summary.of("received", conn, peer, *received, secs), sys.stderr)
        return 0

    def _receive_all(self, conn: SocketTCP) -> tuple[int, int] | None:
        """(bytes, messages) once the peer closed; None if the output closed first."""
        count = total = 0
        while (message := conn.recv_message()) is not None:
            if not self.writer.write(message):
                return None  # the command is ending
            count += 1
            total += len(message)
        conn.recv_close()
        return total, count

    def _say(self, message: str) -> None:
        if not self.writer.closed:  # once the command ends, its threads stay silent
            say(message)

    def interrupted(self, output: str) -> int:
        """Ctrl-C: close the output between two messages, then say what was abandoned."""
        self.writer.close()
        with self._lock:
            open_conns = [c.conn for c in self.active.values() if c.conn is not None]
        arrived = sum(_partial_message(c)[0] for c in open_conns)
        expected = sum(_partial_message(c)[1] for c in open_conns)
        where = "stdout" if output == "-" else output
        abandoned = (
            f"{len(open_conns)} connection(s) abandoned, {arrived} of {expected} bytes of "
            "unfinished messages not written"
            if open_conns
            else "no connection open"
        )
        say(f"interrupted: {abandoned}; {self.writer.messages} whole message(s) in {where}")
        return EXIT_INTERRUPTED


def _partial_message(conn: Connection) -> tuple[int, int]:
    """(bytes arrived, length) of the message a connection is receiving."""
    length = conn.next_message_length()
    return (conn.unread, length) if length is not None else (0, 0)
