"""What fsm_tcp is measured against that is no protocol: a plain stop-and-wait UDP pair (the
cheapest correct thing) and a bare sendto() loop (the ceiling)."""

from __future__ import annotations

import socket
import time
from typing import Any

from .peers import digest, exact, payload, with_peer
from .transfer import BIG_MSS


def next_datagram(sock: socket.socket, spin: bool, patience: float | None = None) -> bytes:
    """The baseline's wait: a blocking read, or a busy-polling one (as fsm_tcp's driver).

    A busy-polling wait raises TimeoutError after ``patience`` seconds, as the blocking
    sender's socket timeout does.
    """
    if not spin:
        return sock.recv(65536)
    give_up = None if patience is None else time.perf_counter() + patience
    while True:
        try:
            return sock.recv(65536)
        except BlockingIOError:
            if give_up is not None and time.perf_counter() > give_up:
                raise TimeoutError from None


def stop_and_wait_receiver(conn: Any, size: int, spin: bool = False) -> None:
    """Child process: the plain stop-and-wait receiver."""
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    conn.send(rx.getsockname())
    data, addr = rx.recvfrom(65536)
    rx.setblocking(not spin)
    received = bytearray()
    expected = 0
    while True:
        seq, _, chunk = data.partition(b"|")
        if int(seq) == expected:
            received.extend(chunk)
            expected += len(chunk)
        rx.sendto(b"%d" % expected, addr)
        if len(received) >= size:
            break
        data = next_datagram(rx, spin)
    rx.close()
    conn.send(digest(bytes(received)))


def stop_and_wait(message: bytes, mss: int = 16, spin: bool = False) -> float:
    """Seconds for a plain stop-and-wait UDP sender to move ``message`` to its receiver.

    Each datagram carries an ASCII sequence number and up to ``mss`` bytes; the receiver
    acknowledges each one; the sender waits for that ACK (retransmitting after 50 ms).
    ``spin``: both ends busy-poll instead of sleeping (no retransmission: loopback, no loss).
    """

    def send(dst: tuple[str, int]) -> float:
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tx.settimeout(0.0 if spin else 0.05)
        start = time.perf_counter()
        for off in range(0, len(message), mss):
            chunk = message[off : off + mss]
            want = b"%d" % (off + len(chunk))
            while True:
                tx.sendto(b"%d|%b" % (off, chunk), dst)
                try:
                    if next_datagram(tx, spin, 0.05) == want:
                        break
                except TimeoutError:
                    continue
        elapsed = time.perf_counter() - start
        tx.close()
        return elapsed

    return exact(stop_and_wait_receiver, (len(message), spin), send, message)


def counting_receiver(conn: Any) -> None:
    """Child process: count datagrams until an empty one or 0.2 s of silence."""
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # as much buffer as the system grants, so the count shows what the sender got through
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
    rx.bind(("127.0.0.1", 0))
    conn.send(rx.getsockname())
    rx.settimeout(30.0)
    count = 0
    try:
        while rx.recv(65536):
            count += 1
            rx.settimeout(0.2)
    except TimeoutError:
        pass
    rx.close()
    conn.send(count)


def raw_udp_rate(size: int) -> tuple[float, float]:
    """(bytes per second a tight sendto() loop of BIG_MSS-byte datagrams sends to a receiver
    process, fraction of those datagrams it received): the most any protocol over UDP could
    do in Python on this machine."""
    count = max(1, size // BIG_MSS)
    datagram = payload(BIG_MSS, 19)

    def blast(dst: tuple[str, int]) -> float:
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sendto = tx.sendto
        start = time.perf_counter()
        for _ in range(count):
            sendto(datagram, dst)
        elapsed = time.perf_counter() - start
        for _ in range(3):  # end markers, a little apart: the receiver may still be draining
            time.sleep(0.01)
            sendto(b"", dst)
        tx.close()
        return elapsed

    elapsed, received = with_peer(counting_receiver, (), blast)
    return count * BIG_MSS / elapsed, received / count
