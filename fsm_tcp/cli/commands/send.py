"""``fsm-tcp send``: a file (or stdin) as one message, then close."""

from __future__ import annotations

import argparse
import sys
import time
from typing import BinaryIO

from ...argtypes import at_least_one, port_number
from ...errors import InvalidArgument
from ...socket_tcp import SocketTCP, stream_size
from ..base import EXIT_INTERRUPTED, examples, fill, resolve, say
from ..progress import ProgressDisplay
from ..settings import Settings
from ..summary import Summary

HELP = "send a file (or stdin) of any size, then close"
DESCRIPTION = fill(
    "Send a file (or stdin) and close; exit 0 once every byte is acknowledged. Any size "
    "goes, in bounded memory: the stream is read and sent as successive messages of at "
    "most 4 MiB (one message when it fits in one), so the receiver's max_message_size "
    "never stands in the way. On a terminal, stderr shows bytes acknowledged, rate and "
    "time left; at the end one summary line for the whole stream (bytes, time, goodput, "
    "retransmissions, smoothed RTT, loss seen)."
)
EPILOG = examples(
    [
        "fsm-tcp send 127.0.0.1 8000 file.bin",
        "tar c somedir | fsm-tcp send 127.0.0.1 8000",
        "fsm-tcp send --json --loss 0.2 127.0.0.1 8000 file.bin > stats.json",
        "fsm-tcp send --mode go_back_n --mss 8 --cc tahoe 127.0.0.1 8000 file.bin",
        "fsm-tcp send --dialect listener-ack-plus2 127.0.0.1 8000 file.bin",
        "fsm-tcp send --message-size 65536 127.0.0.1 8000 big.iso   # a peer with a low limit",
    ]
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("host", help="address or name of the server (as given to serve --host)")
    p.add_argument("port", type=port_number, help="the server's UDP port (serve --port)")
    p.add_argument(
        "file", nargs="?", default="-", help="file to send; '-' or none reads stdin (default)"
    )
    p.add_argument(
        "--message-size",
        type=at_least_one,
        default=None,
        metavar="N",
        help="most bytes per message of the stream (default 4 MiB; at most the "
        "max_message_size of both ends, 64 MiB by default)",
    )
    Settings.register(p, json_where="stdout", window=True)


class Source:
    """The stream send reads: a file or stdin, counted as sendfile takes it."""

    def __init__(self, path: str) -> None:
        self.name = "stdin" if path == "-" else path
        if path == "-":
            self.file: BinaryIO = sys.stdin.buffer
        else:
            try:
                self.file = open(path, "rb")  # noqa: SIM115 - closed in close()
            except OSError as exc:
                raise InvalidArgument(f"cannot read {path}: {exc.strerror}") from None
        self.read_bytes = 0
        #: Bytes read before the last read: sendfile reads a message only once the one
        #: before is acknowledged, so these are.
        self.acknowledged = 0
        #: Reads that returned data: sendfile sends each as one message (an empty stream
        #: is one empty message).
        self.messages = 0

    def read(self, size: int) -> bytes:
        self.acknowledged = self.read_bytes
        try:
            data = self.file.read(size)
        except OSError as exc:  # e.g. a directory, or a read error mid-file
            raise InvalidArgument(f"cannot read {self.name}: {exc.strerror}") from None
        self.read_bytes += len(data)
        self.messages += bool(data) or not self.messages
        return data

    def fileno(self) -> int:
        return self.file.fileno()

    def close(self) -> None:
        if self.file is not sys.stdin.buffer:
            self.file.close()


class Acknowledged:
    """The stream's bytes acknowledged so far, for the display and for Ctrl-C's line.

    Without a display no callback runs per segment (it would cost every segment a few
    calls): after Ctrl-C the count comes from the source and the connection instead.
    """

    def __init__(self, display: ProgressDisplay | None, source: Source) -> None:
        self.display = display
        self.source = source
        self.acked = 0

    def __call__(self, acked: int, total: int | None) -> None:
        self.acked = acked
        if self.display is not None:
            self.display(acked, total)

    def callback(self) -> Acknowledged | None:
        return self if self.display is not None else None

    def at_interrupt(self, sock: SocketTCP) -> int:
        """At least what was acknowledged: the messages before the last one read, and of
        that one what the connection says while it is being sent."""
        conn = sock.conn
        in_flight = conn.send_progress[0] if conn is not None and conn.sending else 0
        return max(self.acked, self.source.acknowledged + in_flight)


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_args(args)
    source = Source(args.file)
    try:
        return _send(args, settings, source)
    finally:
        source.close()


def _send(args: argparse.Namespace, settings: Settings, source: Source) -> int:
    host = resolve(args.host)
    sinks = settings.sinks()
    sock = settings.socket(sinks, "client")
    total = stream_size(source)
    progress = Acknowledged(settings.progress(total), source)
    start = time.monotonic()
    try:
        try:
            sock.connect((host, args.port))
            sent = sock.sendfile(
                source,
                mode=settings.mode,
                progress=progress.callback(),
                message_size=args.message_size,
            )
            progress.acked = sent
        finally:  # the line ends before any other message, whatever happened
            if progress.display is not None:
                progress.display.stop(progress.at_interrupt(sock))
        sock.close()
    except KeyboardInterrupt:
        say(
            f"interrupted: {_what_was_acknowledged(progress.at_interrupt(sock), total, source)}; "
            "connection abandoned"
        )
        return EXIT_INTERRUPTED
    finally:
        sock.udp.close()  # after Ctrl-C no FIN: the peer finds out by its own timeout
        sinks.close()
    summary = Summary.of(
        "sent", sock, (host, args.port), sent, source.messages, time.monotonic() - start
    )
    settings.report(summary, sys.stdout)
    return 0


def _what_was_acknowledged(acked: int, total: int | None, source: Source) -> str:
    if total is not None:
        return f"{acked} of {total} bytes acknowledged"
    return f"{acked} bytes acknowledged ({source.read_bytes} read so far from {source.name})"
