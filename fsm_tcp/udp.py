"""``SocketUDP``: the course's loss helper, a UDP socket that can lose and duplicate datagrams.

``send_loss_rate``: a lost send is silently not sent. ``recv_loss_rate``: a lost receive is
read and discarded. ``dup_rate``: a sent datagram goes out twice. ``debug``: every datagram
sent, received or lost is printed with a timestamp on stderr (PROTOCOL.md 5).

``send_all`` sends what a driver has to send in one pass: on Linux, a run of equal-sized
datagrams to one address goes to the kernel in one ``sendmsg`` with ``UDP_SEGMENT`` (UDP
segmentation offload: the kernel cuts it into the same datagrams), else one ``sendto`` each.
"""

from __future__ import annotations

import contextlib
import errno
import random
import select
import socket
import struct
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from .errors import InvalidArgument

Address = tuple[Any, ...]
#: Receive buffers are fixed (PROTOCOL.md 1), independent of MSS and recv(buff_size).
RECV_BUFFER = 65536
#: Kernel socket buffers asked for (best effort: the system may cap them, e.g. Linux at
#: net.core.rmem_max): a window of full-size segments overflows the default of about 200 KiB
#: (PROTOCOL.md 6, issue 11 item 4), and a dropped burst costs a timeout.
SOCKET_BUFFER = 4 * 1024 * 1024
#: Linux's UDP_SEGMENT option (linux/udp.h; Python names it from 3.12 on only).
UDP_SEGMENT = getattr(socket, "UDP_SEGMENT", 103)
#: The kernel's limits on one segmented send: segments (UDP_MAX_SEGMENTS) and bytes.
GSO_MAX_SEGMENTS = 64
GSO_MAX_BYTES = 65000
#: What a kernel, a device or an address family says when it cannot segment: plain sends.
_NO_GSO = frozenset({errno.EINVAL, errno.ENOPROTOOPT, errno.EOPNOTSUPP, errno.EIO})
#: Sleeps at least this long may round up to a whole millisecond (poll) instead of select().
_LONG_WAIT = 0.02
#: select() takes only descriptors below FD_SETSIZE (1024 on Linux and macOS).
_FD_SETSIZE = 1024


_HAVE_POLL = hasattr(select, "poll")


def _needs_poll(timeout: float | None, high_fd: bool) -> bool:
    """select() keeps microseconds, which a sub-millisecond RTO needs, but fails on descriptors
    from FD_SETSIZE on; poll() takes any but rounds up to milliseconds, fine for long waits."""
    return _HAVE_POLL and (timeout is None or timeout >= _LONG_WAIT or high_fd)


def wait_readable(fds: list[int], timeout: float | None) -> list[int]:
    """Those of ``fds`` with a datagram waiting, after at most ``timeout`` seconds (None: no
    limit)."""
    if timeout is not None and timeout <= 0:
        timeout = 0.0
    if _needs_poll(timeout, max(fds) >= _FD_SETSIZE):
        poller = select.poll()
        for fd in fds:
            poller.register(fd, select.POLLIN)
        return [fd for fd, _ in poller.poll(None if timeout is None else timeout * 1e3)]
    return select.select(fds, [], [], timeout)[0]


def _size_buffers(sock: socket.socket) -> None:
    for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
        # best effort: the default buffers still work, only with smaller windows
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, option, SOCKET_BUFFER)


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
        self.send_loss_rate = _rate("send_loss_rate", send_loss_rate)
        self.recv_loss_rate = _rate("recv_loss_rate", recv_loss_rate)
        self.dup_rate = _rate("dup_rate", dup_rate)
        self.sock = sock or socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # after the checks
        if sock is None:
            _size_buffers(self.sock)
        self.rng = random.Random(seed)
        self.debug = debug
        self.log = log
        #: Called as on_fault(kind, datagram, address) for "lost send", "lost recv", "dup".
        self.on_fault = on_fault
        self.sent = self.received = self.lost_sends = self.lost_receives = self.duplicated = 0
        self.spin_hits = 0  # datagrams recv_wait() took while busy-polling, without a sleep
        self._t0 = time.monotonic()
        self._user_timeout: float | None = None  # what settimeout() asked for
        self._driven = False  # recv_wait() made the socket non-blocking
        self._poll: Any = None  # a poll object for long sleeps, where the system has poll()
        self._poll_only = False  # the descriptor is too high for select()
        #: Try UDP_SEGMENT for runs of equal-sized datagrams (Linux); off after a refusal.
        self.gso = sys.platform.startswith("linux")
        self.gso_sends = 0  # sendmsg calls that carried a run

    # -- the socket API the course uses
    def bind(self, address: Address) -> None:
        self.sock.bind(address)

    def getsockname(self) -> Address:
        name: Address = self.sock.getsockname()
        return name

    def fileno(self) -> int:
        return self.sock.fileno()

    def settimeout(self, timeout: float | None) -> None:
        self._user_timeout = timeout
        self._driven = False
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

    def send_all(self, datagrams: list[tuple[bytes, Address]]) -> None:
        """Send ``datagrams`` in order. Runs of datagrams to one address, all of one size
        but the last (which may be shorter), go out in one system call where the kernel
        segments them; faults and the debug print need each datagram, so they send one by
        one."""
        if (
            len(datagrams) < 2
            or not self.gso
            or self.send_loss_rate
            or self.dup_rate
            or self.debug
            or self.sock.family not in (socket.AF_INET, socket.AF_INET6)
        ):
            for data, address in datagrams:
                self.sendto(data, address)
            return
        i, n = 0, len(datagrams)
        while i < n:
            data, address = datagrams[i]
            size = total = len(data)
            j = i + 1
            while j < n and j - i < GSO_MAX_SEGMENTS:
                nxt, to = datagrams[j]
                if to != address or len(nxt) > size or total + len(nxt) > GSO_MAX_BYTES:
                    break
                total += len(nxt)
                j += 1
                if len(nxt) < size:
                    break  # only the last of a run may be shorter
            if j - i < 2 or not self._send_run(datagrams[i:j], size, address):
                for data, address in datagrams[i:j]:
                    self.sendto(data, address)
            i = j

    def _send_run(self, run: list[tuple[bytes, Address]], size: int, address: Address) -> bool:
        """One sendmsg with UDP_SEGMENT; False (and GSO off) where it is not supported."""
        try:
            self.sock.sendmsg(
                [b"".join(data for data, _ in run)],
                [(socket.IPPROTO_UDP, UDP_SEGMENT, struct.pack("=H", size))],
                0,
                address,
            )
        except OSError as exc:
            if exc.errno not in _NO_GSO:
                raise
            self.gso = False
            return False
        self.sent += len(run)
        self.gso_sends += 1
        return True

    def recv_wait(self, timeout: float | None, spin: float = 0.0) -> tuple[bytes, Address] | None:
        """One datagram, or None once ``timeout`` seconds passed (None: no limit) or on a loss.

        The drivers' wait. It puts the socket in non-blocking mode (``recvfrom`` and
        ``settimeout`` put it back). It first busy-polls for up to ``spin`` seconds: on
        loopback an answer comes within tens of microseconds, less than a sleep and a
        wake-up cost. Then it sleeps (see ``_sleep``).
        """
        if not self._driven:
            self._drive()
        if spin > 0.0:
            now = time.monotonic()
            end = now + spin if timeout is None or spin < timeout else now + timeout
            if self._spin_until(end):
                self.spin_hits += 1
            elif not self._sleep(None if timeout is None else timeout - (time.monotonic() - now)):
                return None
        elif not self._sleep(timeout):
            return None
        return self.recv_ready()

    def recv_ready(self) -> tuple[bytes, Address] | None:
        """The datagram ``ready()`` (or a wait) reported, taken without waiting again: a
        driver drains a burst with ``ready()`` and this, one poll and one recvfrom each."""
        try:
            data, address = self.sock.recvfrom(RECV_BUFFER)
        except BlockingIOError:  # reported ready, then dropped by the kernel
            return None
        if self.recv_loss_rate or self.debug:
            return self._arrived(data, address)
        self.received += 1  # what _arrived does without faults: once per segment, inline
        return data, address

    def ready(self) -> bool:
        """A datagram is queued now (no wait); only while driven by ``recv_wait``."""
        poll = self._poll
        if poll is not None:
            return bool(poll.poll(0))
        return bool(select.select([self.sock], [], [], 0)[0])

    def _drive(self) -> None:
        self.sock.setblocking(False)
        self._driven = True
        if self._poll is None and hasattr(select, "poll"):
            self._poll = select.poll()
            self._poll.register(self.sock, select.POLLIN)
            self._poll_only = self.sock.fileno() >= _FD_SETSIZE

    def _spin_until(self, end: float) -> bool:
        """Busy-poll until a datagram is here (True) or ``end``. A zero-timeout poll() costs
        about a third of a recvfrom() that fails, so a spin notices a datagram sooner."""
        monotonic = time.monotonic
        if self._poll is not None:
            ready = self._poll.poll
            while not ready(0):
                if monotonic() >= end:
                    return False
            return True
        while not select.select([self.sock], [], [], 0)[0]:  # no poll() here (Windows)
            if monotonic() >= end:
                return False
        return True

    def _sleep(self, timeout: float | None) -> bool:
        """Until a datagram is here (True) or ``timeout`` passed, as ``wait_readable`` decides,
        with the poll object ``_drive`` registered."""
        if _HAVE_POLL and (timeout is None or timeout >= _LONG_WAIT or self._poll_only):
            # (_needs_poll written out: this runs once per segment)
            return bool(self._poll.poll(None if timeout is None else timeout * 1e3))
        wait = None if timeout is None else max(0.0, timeout)
        return bool(select.select([self.sock], [], [], wait)[0])

    def recvfrom(self, bufsize: int = RECV_BUFFER) -> tuple[bytes, Address] | None:
        """One datagram (blocking, as ``settimeout`` says), or None when the loss simulation
        threw it away."""
        if self._driven:
            self.sock.settimeout(self._user_timeout)
            self._driven = False
        data, address = self.sock.recvfrom(bufsize)
        return self._arrived(data, address)

    def _arrived(self, data: bytes, address: Address) -> tuple[bytes, Address] | None:
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
