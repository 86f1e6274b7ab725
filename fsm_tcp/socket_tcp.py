"""``SocketTCP``: the course's blocking socket class, as a thin driver around the engine.

Every method only pumps datagrams and timer expiries into a :class:`~fsm_tcp.engine.Connection`
until the engine says the call is done; all protocol decisions are the engine's.
"""

from __future__ import annotations

import dataclasses
import os
import random
import stat
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from .config import Config
from .engine import Connection
from .errors import ConnectionClosed, FsmTcpError, InvalidArgument, MalformedSegment
from .events import Address
from .link import Tracer
from .listener import Listener
from .segment import encode, parse
from .trace import fault_record
from .udp import SocketUDP, wait_readable

_CONFIG_KEYS = frozenset(f.name for f in dataclasses.fields(Config))
#: Default busy-poll bound per wait, in seconds: longer than a loopback round trip (tens of
#: microseconds) and than the sub-millisecond RTO there, short enough to cost nothing when
#: the peer is idle.
BUSY_POLL = 0.001
#: sendfile's message size: large, so that few message boundaries drain the window, and
#: small enough that a stream of any size costs a few MiB at each end.
STREAM_MESSAGE = 4 * 1024 * 1024
#: recvfile takes a message in pieces of this size as they arrive. What the application
#: waits for is also the receiver's room (segments beyond it are dropped, to be sent
#: again), so a piece is far larger than receive_buffer: a window arriving while the last
#: piece is written out always fits.
STREAM_PIECE = 1024 * 1024
#: Datagrams the pump takes in one burst before done() is asked again. A reader that was
#: away (writing a file, say) finds its kernel buffer full: taken all at once, a few MiB
#: of it would overflow the engine's receive buffer, which drops what it cannot hold, and
#: the sender resends it. In bursts the application reads in between, and what waits stays
#: in the kernel, which is flow control too.
_BURST = 32


class Readable(Protocol):
    """What sendfile reads: a binary file, or anything with its read(size)."""

    def read(self, size: int, /) -> bytes: ...


class Writable(Protocol):
    """What recvfile writes to: a binary file, or anything with its write()."""

    def write(self, data: bytes, /) -> object: ...


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_busy_poll() -> float:
    """Busy-poll only where the peer can run meanwhile: with one CPU, spinning takes the time
    the peer needs to answer."""
    return BUSY_POLL if _cpus() >= 2 else 0.0


def stream_size(file: Readable, offset: int = 0, count: int | None = None) -> int | None:
    """Bytes sendfile will send, if the file says (a regular file); else ``count``."""
    try:
        st = os.fstat(file.fileno())  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):  # no descriptor (BytesIO) or closed
        return count
    if not stat.S_ISREG(st.st_mode):
        return count
    left = max(0, st.st_size - offset)
    return left if count is None else min(count, left)


def _shifted(
    progress: Callable[[int, int | None], None], base: int, total: int | None
) -> Callable[[int, int], None]:
    """send's per-message progress as the stream's: ``base`` bytes were sent before."""

    def shown(acked: int, _length: int) -> None:
        progress(base + acked, total)

    return shown


class SocketTCP:
    """bind / connect / accept / send / recv / close / recv_close over UDP (PROTOCOL.md)."""

    def __init__(
        self,
        *,
        loss_rate: float = 0.0,
        dup_rate: float = 0.0,
        seed: int | None = None,
        debug: bool = False,
        config: Config | None = None,
        tracer: Tracer | None = None,
        name: str = "",
        busy_poll: float | None = None,
        **options: Any,
    ) -> None:
        unknown = set(options) - set(_CONFIG_KEYS)
        if unknown:
            raise InvalidArgument(f"unknown SocketTCP option(s): {', '.join(sorted(unknown))}")
        self.config = dataclasses.replace(config or Config(), **options)
        if busy_poll is not None and not 0.0 <= busy_poll <= 1.0:
            raise InvalidArgument(f"busy_poll must be in [0, 1] seconds, got {busy_poll}")
        #: Seconds each wait may spin before it sleeps (None: BUSY_POLL with 2+ CPUs, else 0).
        self.busy_poll = default_busy_poll() if busy_poll is None else float(busy_poll)
        # Loss on sends only: each datagram then crosses exactly one loss draw, so
        # ``loss_rate`` is the probability it is lost, in each direction.
        self.udp = SocketUDP(send_loss_rate=loss_rate, dup_rate=dup_rate, seed=seed, debug=debug)
        self.tracer = tracer
        self.name = name
        if tracer is not None:
            self.udp.on_fault = self._trace_fault
        self._rng = random.Random(seed)
        self.conn: Connection | None = None
        self._listener: Listener | None = None
        self._pending: list[SocketTCP] = []
        self._by_peer: dict[Address, SocketTCP] = {}  # a listener's children, by client
        self._inbox: deque[tuple[bytes, Address]] = deque()
        self._released = False
        self._unflushed = False  # send(wait=False) returned before its message was acknowledged

    # ------------------------------------------------------------------ course API
    def bind(self, address: Address) -> None:
        self.udp.bind(address)

    def getsockname(self) -> Address:
        return self.udp.getsockname()

    def connect(self, address: Address) -> None:
        conn = self._new_conn(self.name or "client")
        conn.connect(tuple(address), time.monotonic())
        self._pump(lambda: conn.is_established or conn.is_closed)
        if not conn.is_established:
            self._fail(conn)

    def accept(self) -> tuple[SocketTCP, Address]:
        """Wait for a client; the returned socket has its own port (PROTOCOL.md 2)."""
        if self._listener is None:
            self._listener = Listener(
                self.config, rng=self._rng, tracer_for=self._tracer_for, route=self._route
            )
        while True:
            for child in list(self._pending):
                conn = child.conn
                assert conn is not None
                if conn.is_established:
                    self._pending.remove(child)
                    assert conn.peer is not None
                    return child, conn.peer
                if conn.is_closed:  # a half-open handshake that timed out
                    self._pending.remove(child)
                    child.udp.close()
            self._accept_round()

    def send(
        self,
        message: bytes,
        progress: Callable[[int, int], None] | None = None,
        mode: str = "stop_and_wait",
        *,
        wait: bool = True,
    ) -> None:
        """Returns once every byte of ``message`` has been acknowledged.

        ``progress(acked, total)``, if given, is called as acknowledgements come in.
        ``mode``: "stop_and_wait" (default), "go_back_n" or "selective_repeat"
        (PROTOCOL.md 6; the constructor's ``window``, ``cc`` and ``mss`` shape it).
        ``wait=False`` (an fsm_tcp extension): returns once the message is queued and at
        most ``send_buffer`` bytes (Config) of messages are queued or not acknowledged
        whole, so that a windowed mode sends the next message behind this one's last
        segments; ``flush()`` and ``close()`` wait for the rest and raise what went wrong.
        """
        conn = self._require_conn()
        if conn.error is not None:  # an earlier message sent without waiting failed
            raise conn.error
        conn.send(message, time.monotonic(), mode=mode)
        snd = conn.snd  # done() runs once per segment: one property less than conn.sending
        bound = self.config.send_buffer

        def done() -> bool:
            if progress is not None:
                progress(*conn.send_progress)
            return not snd.busy or conn.is_closed

        def queued() -> bool:
            if progress is not None:
                progress(*conn.send_progress)
            return snd.backlog <= bound or conn.is_closed

        self._pump(done if wait else queued)
        self._unflushed = not wait and snd.busy
        if conn.error is not None:
            raise conn.error

    def flush(self) -> None:
        """Wait until every message sent is acknowledged (see ``send(wait=False)``)."""
        conn = self._require_conn()
        snd = conn.snd
        self._pump(lambda: not snd.busy or conn.is_closed)
        self._unflushed = False
        if conn.error is not None:
            raise conn.error

    def recv(self, buff_size: int, mode: str = "stop_and_wait") -> bytes:
        """min(unread bytes of the current message, buff_size) bytes; b"" once the peer closed.

        ``mode`` is the course's signature: accepted and ignored, since the receiver needs
        none (PROTOCOL.md 6: in order it ACKs cumulatively, out of order it keeps and SACKs).
        """
        del mode
        conn = self._require_conn()
        data = conn.receive(buff_size)  # also tells the engine that we wait (a bounded wait)
        if data is None:
            # the receiver's own check, once per segment (conn.receivable delegates to it)
            receivable = conn.rcv.receivable
            self._pump(lambda: receivable(buff_size))
            data = conn.receive(buff_size)
            assert data is not None  # receivable() said so
        return data

    def recv_message(self) -> bytes | None:
        """The whole next message, or None at the end of the stream (an fsm_tcp extension)."""
        size = self._next_message_length()
        if size is None:
            return None
        return self.recv(max(size, 1))  # recv(1) of a zero-length message returns b""

    def sendfile(
        self,
        file: Readable,
        offset: int = 0,
        count: int | None = None,
        *,
        mode: str = "stop_and_wait",
        progress: Callable[[int, int | None], None] | None = None,
        message_size: int | None = None,
    ) -> int:
        """Send ``file`` from ``offset`` (``count`` bytes, or to its end) as a stream of
        messages of at most ``message_size`` bytes (default STREAM_MESSAGE, never above
        max_message_size), read one at a time: memory stays bounded whatever the size.
        Returns the bytes sent, all acknowledged (as ``socket.sendfile``). An empty stream
        is one empty message, so a stream that fits one message is exactly that message.

        ``progress(acked, total)``, if given, counts the whole stream; ``total`` is None
        when the size is unknown (a pipe). Each message goes out through ``send``; in a
        windowed mode without waiting for the one before (``send(wait=False)``), so that a
        window spans the message boundaries, and flushed at the end.
        """
        size = max(1, min(message_size or STREAM_MESSAGE, self.config.max_message_size))
        if offset:
            file.seek(offset)  # type: ignore[attr-defined]  # as socket.sendfile: a file
        total = stream_size(file, offset, count)
        wait = mode == "stop_and_wait"
        sent = 0
        while True:
            want = size if count is None else min(size, count - sent)
            chunk = file.read(want) if want > 0 else b""
            if not chunk and sent:
                break
            if progress is None:
                shown = None
            elif wait:
                shown = _shifted(progress, sent, total)
            else:
                shown = self._stream_progress(progress, sent + len(chunk), total)
            self.send(chunk, progress=shown, mode=mode, wait=wait)
            sent += len(chunk)
            if not chunk:
                break
        if not wait:
            self.flush()
            if progress is not None:
                progress(sent, total)
        return sent

    def _stream_progress(
        self, progress: Callable[[int, int | None], None], handed: int, total: int | None
    ) -> Callable[[int, int], None]:
        """send's progress as the stream's while messages overlap: the bytes handed to send
        so far, less those of messages not acknowledged whole, plus what is acknowledged of
        the oldest of those."""
        conn = self._require_conn()
        snd = conn.snd

        def shown(acked: int, _length: int) -> None:
            progress(handed - snd.backlog + acked, total)

        return shown

    def recvfile(self, file: Writable, *, message_done: Callable[[int], None] | None = None) -> int:
        """Write every byte received to ``file`` as it arrives, until the peer closes
        (then call ``recv_close``); returns the bytes written. Messages are taken in pieces
        of STREAM_PIECE bytes, so memory stays bounded whatever their size;
        ``message_done(length)`` is called after each message's last byte is written.
        """
        total = 0
        while (length := self._next_message_length()) is not None:
            left = length
            while True:
                piece = self.recv(max(1, min(left, STREAM_PIECE)))  # recv(1): empty message
                file.write(piece)
                left -= len(piece)
                if left <= 0:
                    break
            total += length
            if message_done is not None:
                message_done(length)
        return total

    def close(self) -> None:
        """Active close (PROTOCOL.md 4, Host A); also ends a listening socket."""
        if self._released:
            return
        conn = self.conn
        if conn is not None and not conn.is_closed:
            conn.close(time.monotonic())  # the close starts once every message is acknowledged
            self._pump(lambda: conn.is_closed)
        self._release()
        if self._unflushed and conn is not None and conn.error is not None:
            self._unflushed = False
            raise conn.error  # what send(wait=False) could not say

    def recv_close(self) -> None:
        """Passive close (PROTOCOL.md 4, Host B): wait for FIN, answer, wait for the ACK."""
        conn = self._require_conn()
        conn.expect_close(time.monotonic())
        self._pump(lambda: conn.is_closed)
        self._release()

    # ------------------------------------------------------------------ course helpers
    @staticmethod
    def parse_segment(segment: bytes) -> dict[str, Any]:
        """Bytes to ``{"SYN", "ACK", "FIN", "SEQ", "DATA"}`` (flags as 0/1, DATA as bytes)."""
        seg = parse(segment)
        return {
            "SYN": int(seg.syn),
            "ACK": int(seg.ack),
            "FIN": int(seg.fin),
            "SEQ": seg.seq,
            "DATA": seg.data,
        }

    @staticmethod
    def create_segment(fields: dict[str, Any]) -> bytes:
        """The inverse of parse_segment; also takes the seed report's nested headers/body form."""
        flat: dict[str, Any] = dict(
            fields.get("headers", {}), **{k: v for k, v in fields.items() if k != "headers"}
        )
        try:
            data: Any = flat.get("DATA", flat.get("body", b""))
            data = data.encode() if isinstance(data, str) else bytes(data)
            return encode(
                bool(int(flat.get("SYN", 0))),
                bool(int(flat.get("ACK", 0))),
                bool(int(flat.get("FIN", 0))),
                int(flat.get("SEQ", flat.get("seq", "missing SEQ"))),
                data,
            )
        except (TypeError, ValueError) as exc:
            raise MalformedSegment(f"cannot build a segment from {fields!r}: {exc}") from None

    # ------------------------------------------------------------------ plumbing
    def _next_message_length(self) -> int | None:
        """Wait until the next message's length is known (None: the stream ended)."""
        conn = self._require_conn()
        conn.await_message()
        self._pump(lambda: conn.next_message_length() is not None or conn.at_eof)
        length = conn.next_message_length()
        if length is None and conn.error is not None:
            raise conn.error  # not the end of the stream: the connection failed
        return length

    def _new_conn(self, name: str) -> Connection:
        if self.conn is not None or self._released:
            raise ConnectionClosed("this SocketTCP is already connected or closed")
        self.conn = Connection(self.config, rng=self._rng, tracer=self.tracer, name=name)
        return self.conn

    def _trace_fault(self, kind: str, data: bytes, _address: Address) -> None:
        """Loss and duplication marks for the trace (the engine never sees those datagrams)."""
        assert self.tracer is not None
        self.tracer(fault_record(time.monotonic(), self.conn, kind, data))

    def _tracer_for(self, _name: str) -> Tracer | None:
        return self.tracer

    def _require_conn(self) -> Connection:
        if self.conn is None:
            raise ConnectionClosed("not connected: call connect() or accept() first")
        return self.conn

    def _fail(self, conn: Connection) -> None:
        self._release()
        raise conn.error or ConnectionClosed("the connection closed")

    def _release(self) -> None:
        if not self._released:
            self._released = True
            for child in self._pending:
                child.udp.close()
            self.udp.close()

    def _flush(self, conn: Connection) -> None:
        self.udp.send_all(conn.datagrams_to_send())  # a window's segments in few system calls

    def _pump(self, done: Callable[[], bool]) -> None:
        """Feed datagrams and timer expiries to the engine until ``done()``.

        This loop runs once per segment: it keeps to locals and calls nothing it can skip.
        """
        conn = self._require_conn()
        recv_wait, inbox, monotonic = self.udp.recv_wait, self._inbox, time.monotonic
        deadline = conn.timer
        # A spinning thread holds the GIL between its system calls: with other Python threads
        # (maybe the peer's) in this process, spinning would slow them more than it gains.
        spin = self.busy_poll if threading.active_count() == 1 else 0.0
        flush, send, ready, take = self._flush, self.udp.sendto, self.udp.ready, self.udp.recv_ready
        cap = _BURST
        flush(conn)  # what the call that brought us here queued; later output is flushed
        while True:  # as soon as it is made, so nothing is pending when done() is true
            if inbox:
                self._drain_inbox(conn)
            if done():
                return
            timer = deadline.deadline  # conn.get_timer(), read directly: once per segment
            if timer is None and conn.is_closed:
                raise conn.error or ConnectionClosed("the connection is closed")
            got = recv_wait(None if timer is None else timer - monotonic(), spin)
            now = monotonic()
            general = False  # a datagram took the general path: it may have queued output
            burst = cap
            while got is not None:
                data, addr = got
                answer = conn.express_answer(data, addr)
                if answer is not None:  # out first: the peer waits on it, bookkeeping can wait
                    send(answer, addr)
                    # ... and it is the whole answer (Connection.express): nothing to flush
                    conn.receive_datagram(data, addr, now, answered=True)
                    break
                # A window arrives as a burst: take what is queued before answering, so
                # the engine may acknowledge every second in-order segment.
                burst -= 1
                got = take() if burst and ready() else None
                conn.receive_datagram(data, addr, now, more=got is not None)
                general = True
            if general and conn.has_output:
                flush(conn)
            if timer is not None and now >= timer:
                conn.handle_timer(now)
                flush(conn)

    def _drain_inbox(self, conn: Connection) -> None:
        """Datagrams the listener received for us (see _route)."""
        inbox = self._inbox
        while inbox:
            data, addr = inbox.popleft()
            conn.receive_datagram(data, addr, time.monotonic(), via_listener=True)
        self._flush(conn)

    def _accept_round(self) -> None:
        """One wait on the listener and every pending child socket, then timers."""
        lst = self._listener
        assert lst is not None
        socks = {self.udp.fileno(): self} | {c.udp.fileno(): c for c in self._pending}
        timers = [t for c in self._pending if c.conn and (t := c.conn.get_timer()) is not None]
        wait = min(timers) - time.monotonic() if timers else None
        for fd in wait_readable(list(socks), wait):
            owner = socks[fd]
            got = owner.udp.recvfrom()
            if got is None:
                continue
            if owner is self:
                self._on_listener_datagram(lst, got[0], got[1])
            elif owner.conn is not None:
                owner.conn.receive_datagram(got[0], got[1], time.monotonic())
        now = time.monotonic()
        for child in self._pending:
            assert child.conn is not None
            child.conn.handle_timer(now)
            child._flush(child.conn)

    def _on_listener_datagram(self, lst: Listener, data: bytes, addr: Address) -> None:
        new = lst.receive_datagram(data, addr, time.monotonic())
        if new is None:
            return
        child = SocketTCP(
            config=self.config,
            tracer=self.tracer,
            seed=self._rng.getrandbits(32),
            busy_poll=self.busy_poll,
        )
        child.udp.send_loss_rate = self.udp.send_loss_rate
        child.udp.recv_loss_rate = self.udp.recv_loss_rate
        child.udp.dup_rate = self.udp.dup_rate
        child.udp.debug = self.udp.debug
        child.udp.bind((self.getsockname()[0], 0))
        child.conn = new
        self._by_peer[addr] = child
        self._pending.append(child)
        child._flush(new)

    def _route(self, conn: Connection, data: bytes, addr: Address, now: float) -> None:
        """The listener got a datagram for a connection it made (final ACK at L, duplicate
        SYN). A pending one is ours to drive; an accepted one belongs to its own socket,
        maybe in another thread, so it only gets the datagram in its inbox (no locks)."""
        child = self._by_peer.get(addr)
        if child is None or child in self._pending:
            conn.receive_datagram(data, addr, now, via_listener=True)
            if child is not None:
                child._flush(conn)
        elif not child._released:
            child._inbox.append((data, addr))

    def __enter__(self) -> SocketTCP:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self.conn is not None and self.conn.is_established:
                self.close()
        except FsmTcpError:
            pass
        finally:
            self._release()
