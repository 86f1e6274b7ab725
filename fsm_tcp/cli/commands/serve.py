"""``fsm-tcp serve``: accept connections, each in a thread of its own; write every message."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import threading
import time
from typing import IO, BinaryIO

from ...argtypes import port_number
from ...engine import Address
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
    "even in part. Memory stays bounded whatever the size: a message is held in memory "
    "up to 1 MiB, beyond that in a temporary file."
    "\n\n"
    "With --once, serve takes one stream (send's file of any size, in messages) and "
    "writes it as it arrives: to stdout, or to FILE.part, renamed FILE once the sender "
    "closed cleanly. A stream cut short (Ctrl-C, a vanished peer) never looks complete: "
    "FILE is left empty, what arrived stays in FILE.part, and on stdout the exit "
    "status is not 0, after one line on stderr."
    "\n\n"
    "One summary line per connection on stderr (with --json one JSON object per line, "
    "on stderr too, since stdout may carry the data)."
)
EPILOG = examples(
    [
        "fsm-tcp serve --port 8000 --output received.bin --once",
        "fsm-tcp serve --port 0 --loss 0.2 --seed 1 > received.bin",
        "fsm-tcp serve --port 8000 --output received.bin --json 2> stats.jsonl",
        "fsm-tcp serve --port 8000 --once | tar x      # a stream as it arrives",
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
        help="file to write messages to, replaced if it exists (default: stdout); with "
        "--once through FILE.part, renamed FILE once the stream is whole",
    )
    p.add_argument(
        "--once",
        action="store_true",
        help="take one connection, write its stream as it arrives, exit when it closes",
    )
    Settings.register(p, json_where="stderr", window=False)


#: A message up to this size is held in memory until it is whole; a larger one goes to a
#: temporary file as it arrives.
SPOOL_IN_MEMORY = 1024 * 1024


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_args(args)
    sinks = settings.sinks()
    output = Output(args.output, stream=args.once)
    server = Server(output, settings)
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
        return server.interrupted()
    finally:
        output.close()
        listener.close()
        sinks.close()


def _accept_loop(listener: SocketTCP, server: Server, once: bool) -> int:
    if once:  # in this thread: with no other thread running, the socket may busy-poll
        return server.serve(*listener.accept())
    while True:  # each connection in a thread of its own: a long transfer blocks no one
        conn, peer = listener.accept()
        threading.Thread(target=server.serve, args=(conn, peer), daemon=True).start()


class OutputClosed(Exception):
    """The command is ending (Ctrl-C, or the reader of stdout went away): stop receiving."""


class Output:
    """serve's output, shared by every connection's thread: whole messages appended under
    one lock, or with ``stream`` (--once) one stream's bytes as they arrive, to FILE.part
    until finish() renames it FILE.

    close() takes the lock too, so after it returns no write is under way and none will
    start.
    """

    def __init__(self, path: str, *, stream: bool) -> None:
        self.path = path
        self.stream = stream
        self.where = "stdout" if path == "-" else path
        self.part: str | None = None
        self.messages = 0
        self.written = 0
        self.closed = False
        self._lock = threading.Lock()
        if path == "-":
            self.out: BinaryIO = sys.stdout.buffer
            return
        # FILE is replaced at once (an error shows now, and an old FILE never passes for
        # this run's); a stream goes to FILE.part, so FILE only ever holds a whole one
        self.out = self._open(path)
        if stream:
            self.out.close()
            self.part = path + ".part"
            self.out = self._open(self.part)

    @staticmethod
    def _open(path: str) -> BinaryIO:
        try:
            return open(path, "wb")
        except OSError as exc:
            raise InvalidArgument(f"cannot write {path}: {exc.strerror}") from None

    def write(self, data: bytes) -> None:
        """Bytes of the stream, as they arrive (--once)."""
        with self._lock:
            self._put(data)
            self.written += len(data)

    def append(self, message: IO[bytes]) -> None:
        """One whole message, held until now, from its start."""
        with self._lock:
            message.seek(0)
            while block := message.read(SPOOL_IN_MEMORY):
                self._put(block)
            self.messages += 1

    def message_done(self) -> None:
        with self._lock:
            self.messages += 1

    def _put(self, data: bytes) -> None:
        if self.closed:
            raise OutputClosed
        try:
            self.out.write(data)
            self.out.flush()  # live, even through a pipe
        except BrokenPipeError:  # `fsm-tcp serve | head -c 10`
            self.closed = True
            reader_gone()
            raise OutputClosed from None

    def finish(self) -> None:
        """The stream ended cleanly: FILE.part becomes FILE."""
        with self._lock:
            if self.part is not None and not self.closed:
                self.closed = True
                self.out.close()
                try:
                    os.replace(self.part, self.path)
                except OSError as exc:
                    raise InvalidArgument(
                        f"cannot rename {self.part} to {self.path}: {exc.strerror}"
                    ) from None
                self.part = None

    def close(self) -> None:
        with self._lock:
            if not self.closed:
                self.closed = True
                if self.out is not sys.stdout.buffer:
                    self.out.close()
            if self.part is not None and not self.written:
                with contextlib.suppress(OSError):  # nothing arrived: no .part to keep
                    os.remove(self.part)


class Receiving:
    """One connection's side of the output: what recvfile writes to.

    Into a shared output a message goes whole once it completes (held meanwhile in a
    spool: memory up to SPOOL_IN_MEMORY, then a temporary file); into a stream's output
    each piece goes as it arrives.
    """

    def __init__(self, output: Output) -> None:
        self.output = output
        self.messages = 0
        self.spool = (
            None if output.stream else tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
        )

    def write(self, piece: bytes) -> None:
        if self.spool is None:
            self.output.write(piece)
        else:
            self.spool.write(piece)

    def message_done(self, _length: int) -> None:
        self.messages += 1
        if self.spool is None:
            self.output.message_done()
            return
        self.output.append(self.spool)
        self.spool.seek(0)
        self.spool.truncate()

    @property
    def held(self) -> int:
        """Bytes of the current message held back (not yet written)."""
        return self.spool.tell() if self.spool is not None else 0

    def close(self) -> None:
        if self.spool is not None:
            self.spool.close()


class Server:
    """What serve's connections share: the output, who is connected, the reports."""

    def __init__(self, output: Output, settings: Settings) -> None:
        self.output = output
        self.settings = settings
        self.active: dict[Address, tuple[SocketTCP, Receiving]] = {}
        self._lock = threading.Lock()

    def serve(self, conn: SocketTCP, peer: Address) -> int:
        """Receive one connection's stream; 0 once it closed cleanly."""
        start = time.monotonic()
        receiving = Receiving(self.output)
        with self._lock:
            self.active[peer] = (conn, receiving)
        try:
            received = conn.recvfile(receiving, message_done=receiving.message_done)
            conn.recv_close()
            self.output.finish()
        except OutputClosed:
            received = None  # the command is ending
        except FsmTcpError as exc:
            with contextlib.suppress(FsmTcpError):
                conn.close()
            self._say(f"{peer[0]}:{peer[1]}: {exc}{self._kept()}")
            received = None
        finally:
            receiving.close()
        # not in a finally: after Ctrl-C, interrupted() reports the connections still here
        with self._lock:
            self.active.pop(peer, None)
        if received is None:
            return 1
        if not self.output.closed or self.output.stream:
            secs = time.monotonic() - start
            summary = Summary.of("received", conn, peer, received, receiving.messages, secs)
            self.settings.report(summary, sys.stderr)
        return 0

    def _kept(self) -> str:
        """Where a stream cut short is (--once)."""
        output = self.output
        if not output.stream or not output.written:
            return ""
        if output.part is None:
            return f"; stdout holds only the first {output.written} bytes of the stream"
        return f"; {output.where} left empty, the {output.written} bytes received in {output.part}"

    def _say(self, message: str) -> None:
        if not self.output.closed:  # once the command ends, its threads stay silent
            say(message)

    def interrupted(self) -> int:
        """Ctrl-C: close the output between two writes, then say what was abandoned."""
        output = self.output
        output.close()
        with self._lock:
            active = [(s.conn, r) for s, r in self.active.values() if s.conn is not None]
        if output.stream and active:
            say(f"interrupted: 1 connection(s) abandoned mid-stream; {_stream_left(output)}")
            return EXIT_INTERRUPTED
        arrived = sum(r.held + c.unread for c, r in active if c.next_message_length() is not None)
        expected = sum(r.held + (c.next_message_length() or 0) for c, r in active)
        abandoned = (
            f"{len(active)} connection(s) abandoned, {arrived} of {expected} bytes of "
            "unfinished messages not written"
            if active
            else "no connection open"
        )
        say(f"interrupted: {abandoned}; {output.messages} whole message(s) in {output.where}")
        return EXIT_INTERRUPTED


def _stream_left(output: Output) -> str:
    """What an interrupted --once stream left, said so that nobody takes it as whole."""
    if output.part is None:
        return f"stdout holds only the first {output.written} bytes of the stream"
    if not output.written:
        return f"0 whole message(s) in {output.where}: no byte of the stream arrived"
    return (
        f"0 whole message(s) in {output.where}: the {output.written} bytes received so far "
        f"are in {output.part}"
    )
