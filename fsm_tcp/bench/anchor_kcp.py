"""The optional KCP anchor (issue 18): KCP's C core through the PyPI ``kcp`` binding, driven by
its raw ``KCP`` object over a UDP socket pair on loopback, tuned as KCP's README tunes it for
speed (nodelay, 10 ms interval, fast resend, no congestion window) with windows of 1024
segments. Timed as fsm_tcp's transfer is: from the first byte handed over until every byte is
acknowledged, receiver in a process of its own, byte-exact or an error.

Driven two ways. On KCP's clock (as KCP's README and its own test drive it, and as issue 18
measured it): datagrams go in as they arrive, and KCP sends, ACKs included, when its clock
says (``ikcp_check``/``ikcp_update``), so a window of 1024 moves at most once per 10 ms tick.
Eagerly: KCP also flushes right after each batch of datagrams and each chunk handed over, as
fsm_tcp answers at once; that takes its C core to nearly raw UDP's speed here."""

from __future__ import annotations

import select
import socket
import time
from typing import Any

from ..udp import SOCKET_BUFFER
from .peers import digest, exact
from .transfer import BIG_MSS

#: KCP's conversation id: any value both ends share.
CONV = 0x4653
INTERVAL_MS = 10
#: Resend a segment that two later segments' ACKs skipped (KCP's fast resend).
FAST_RESEND = 2
WINDOW = 1024
#: KCP's MTU counts its 24-byte header: this one carries BIG_MSS bytes of data per segment,
#: as fsm_tcp's selective repeat does.
MTU = BIG_MSS + 24
#: Bytes handed to KCP at a time: KCP cuts a message into at most a window's fragments, and
#: keeps at most two windows queued here, so memory stays bounded whatever the size.
CHUNK = 64 << 10
#: An empty datagram (never a KCP segment): the sender is done, the receiver may report.
END = b""
PATIENCE = 120.0


def version() -> str | None:
    """The installed binding's version, or None without it."""
    from importlib import metadata

    try:
        import kcp  # noqa: F401
    except ImportError:
        return None
    return metadata.version("kcp")


def udp_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):  # the buffers fsm_tcp's sockets ask for
        sock.setsockopt(socket.SOL_SOCKET, option, SOCKET_BUFFER)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    return sock


class End:
    """One KCP end on a UDP socket: datagrams in, KCP's clock ticking, its output out."""

    def __init__(
        self, sock: socket.socket, eager: bool, peer: tuple[str, int] | None = None
    ) -> None:
        from kcp.extension import KCP

        self.sock = sock
        self.eager = eager
        self.peer = peer
        self.ended = False  # the peer sent END
        self.kcp = KCP(
            conv_id=CONV,
            max_transmission=MTU,
            no_delay=True,
            update_interval=INTERVAL_MS,
            resend_count=FAST_RESEND,
            no_congestion_control=True,
            send_window_size=WINDOW,
            receive_window_size=WINDOW,
        )
        self.kcp.include_outbound_handler(self.output)
        self.kcp.update()  # KCP flushes nothing before its first update

    def output(self, _kcp: Any, data: bytes) -> None:
        assert self.peer is not None  # a receiver outputs only once a datagram came
        self.sock.sendto(data, self.peer)

    def step(self) -> None:
        """Wait for datagrams until KCP's next tick, take every one queued; answer at once if
        eager, else when the tick comes."""
        wait = max(0, int(self.kcp.update_check())) / 1000
        readable, _, _ = select.select([self.sock], [], [], wait)
        came = False
        while readable:
            try:
                data, addr = self.sock.recvfrom(65536)
            except BlockingIOError:
                break
            if data == END:
                self.ended = True
                continue
            self.peer = self.peer or addr
            self.kcp.receive(data)
            came = True
        self.kcp.update()  # sends only when a tick is due
        if came and self.eager:  # ACKs, and what an ACK let into the window, go out now
            self.kcp.flush()


def receiver(conn: Any, size: int, eager: bool) -> None:
    """Child process: receive ``size`` bytes over KCP, ACK until the sender says END (or is
    silent for a second), report their digest."""
    sock = udp_socket()
    conn.send(sock.getsockname())
    end = End(sock, eager)
    chunks: list[bytes] = []
    received = 0
    give_up = time.monotonic() + PATIENCE
    while received < size and time.monotonic() < give_up:
        end.step()
        for chunk in end.kcp.get_all_received():
            chunks.append(bytes(chunk))
            received += len(chunk)
    quiet_until = time.monotonic() + 1.0
    while not end.ended and time.monotonic() < quiet_until:
        end.step()
    sock.close()
    conn.send(digest(b"".join(chunks)))


def transfer(message: bytes, eager: bool = False) -> float:
    """Seconds for KCP to move ``message`` from here to a receiver process: from the first
    chunk handed to KCP until KCP holds nothing unacknowledged. ``eager``: flush at once (see
    above) rather than on KCP's clock. Raises RuntimeError unless the receiver's SHA-256 is
    the message's."""

    def send(address: tuple[str, int]) -> float:
        sock = udp_socket()
        try:
            end = End(sock, eager, address)
            kcp = end.kcp
            offset = 0
            start = time.perf_counter()
            give_up = start + PATIENCE
            while True:
                while offset < len(message) and kcp.get_outbound_packets() < 2 * WINDOW:
                    kcp.enqueue(message[offset : offset + CHUNK])
                    offset += CHUNK
                if offset >= len(message) and kcp.get_outbound_packets() == 0:
                    break
                if time.perf_counter() > give_up:
                    raise RuntimeError(f"KCP moved no more within {PATIENCE:.0f} s")
                if eager:
                    kcp.flush()  # what was just queued goes out now
                end.step()
            elapsed = time.perf_counter() - start
            for _ in range(3):  # END, a little apart: the receiver may still be draining
                sock.sendto(END, address)
                time.sleep(0.01)
            return elapsed
        finally:
            sock.close()

    return exact(receiver, (len(message), eager), send, message, patience=PATIENCE)
