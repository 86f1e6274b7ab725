"""``SocketUDP``: the course's loss helper, a UDP socket that can lose and duplicate datagrams.

``send_loss_rate``: a lost send is silently not sent. ``recv_loss_rate``: a lost receive is
read and discarded. ``dup_rate``: a sent datagram goes out twice. ``debug``: every datagram
sent, received or lost is printed with a timestamp on stderr (PROTOCOL.md 5).
"""

from __future__ import annotations

import random
import select
import socket
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from .errors import InvalidArgument

Address = tuple[Any, ...]
#: Receive buffers are fixed (PROTOCOL.md 1), independent of MSS and recv(buff_size).
RECV_BUFFER = 65536
#: Waits at least this long may use the socket's millisecond timeout instead of select().
_LONG_WAIT = 0.02


def _rate(name: str, value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise InvalidArgument(f"{name} must be a probability in [0, 1], got {value}")
    return float(value)


class SocketUDP:
    """A UDP socket with the course's loss knobs, a duplicate rate, a seed and a debug print."""

    def __init__(
        self,
        *,
        send_loss_rate: float = 0.0,
        recv_loss_rate: float = 0.0,
        dup_rate: float = 0.0,
        seed: int | None = None,
        debug: bool = False,
        log: TextIO | None = None,
        sock: socket.socket | None = None,
        on_fault: Callable[[str, bytes, Address], None] | None = None,
    ) -> None:
        self.sock = sock or socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.send_loss_rate = _rate("send_loss_rate", send_loss_rate)
        self.recv_loss_rate = _rate("recv_loss_rate", recv_loss_rate)
        self.dup_rate = _rate("dup_rate", dup_rate)
        self.rng = random.Random(seed)
        self.debug = debug
        self.log = log
        #: Called as on_fault(kind, datagram, address) for "lost send", "lost recv", "dup".
        self.on_fault = on_fault
        self.sent = self.received = self.lost_sends = self.lost_receives = self.duplicated = 0
        self._t0 = time.monotonic()
        self._timeout: float | None = None

    # -- the socket API the course uses
    def bind(self, address: Address) -> None:
        self.sock.bind(address)

    def getsockname(self) -> Address:
        name: Address = self.sock.getsockname()
        return name

    def fileno(self) -> int:
        return self.sock.fileno()

    def settimeout(self, timeout: float | None) -> None:
        self.sock.settimeout(timeout)

    def close(self) -> None:
        self.sock.close()

    def sendto(self, data: bytes, address: Address) -> int:
        if self.send_loss_rate and self.rng.random() < self.send_loss_rate:
            self.lost_sends += 1
            self._say("LOST send", data, address)
            if self.on_fault:
                self.on_fault("lost send", data, address)
            return len(data)
        self.sock.sendto(data, address)
        self.sent += 1
        if self.debug:
            self._say("send", data, address)
        if self.dup_rate and self.rng.random() < self.dup_rate:
            self.sock.sendto(data, address)
            self.duplicated += 1
            self._say("DUP send", data, address)
            if self.on_fault:
                self.on_fault("dup", data, address)
        return len(data)

    def recv_wait(self, timeout: float | None) -> tuple[bytes, Address] | None:
        """One datagram, or None once ``timeout`` seconds passed (None: no limit) or on a loss.

        Short waits (a retransmission timer) go through select(), which keeps microseconds;
        long ones (a reader waiting on its peer) through a socket timeout, which rounds to
        milliseconds but is a single call into C on every received segment.
        """
        if timeout is not None and timeout < _LONG_WAIT:
            if not select.select([self.sock], [], [], max(0.0, timeout))[0]:
                return None
            return self.recvfrom()
        current = self._timeout
        if not (
            (current is None and timeout is None)
            or (
                current is not None
                and current >= _LONG_WAIT
                and (timeout is None or current <= timeout)
            )
        ):
            self.sock.settimeout(timeout)  # rarely: an early wake-up is harmless, a late one not
            self._timeout = timeout
        try:
            return self.recvfrom()
        except TimeoutError:
            return None

    def recvfrom(self, bufsize: int = RECV_BUFFER) -> tuple[bytes, Address] | None:
        """One datagram, or None when the loss simulation threw it away."""
        data, address = self.sock.recvfrom(bufsize)
        if self.recv_loss_rate and self.rng.random() < self.recv_loss_rate:
            self.lost_receives += 1
            self._say("LOST recv", data, address)
            if self.on_fault:
                self.on_fault("lost recv", data, address)
            return None
        self.received += 1
        if self.debug:
            self._say("recv", data, address)
        return data, address

    def _say(self, what: str, data: bytes, address: Address) -> None:
        if self.debug:
            stamp = time.monotonic() - self._t0
            shown = data if len(data) <= 48 else data[:48] + b"..."
            print(
                f"[{stamp:9.4f}] {what:9} {address[0]}:{address[1]} {shown!r}",
                file=self.log or sys.stderr,
            )
