"""A small course-style SocketTCP (blocking, socket timeouts, PROTOCOL.md's canonical
arithmetic) with switchable defects and deviations, for testing ``fsm-tcp check``.

Each mutant file beside this one builds the class with at most one defect (fault handling
the statement requires and the class gets wrong) and at most one deviation (a variable of
the wire protocol it bends, consistently, as the recorded dialects do); the checker imports
it with this folder on sys.path, as it would a student's helper module.
"""

from __future__ import annotations

import random
import socket

TIMEOUT = 0.2  # seconds: short, so the tests stay short
RETRIES = 15  # a bounded wait everywhere, so a correct mutant never hangs
SEP = b"|||"
MSS = 16

DEFECTS = frozenset(
    {
        "no_hs_timeout",  # connect()/accept() never retransmit the SYN or SYN-ACK
        "append_dup",  # a retransmitted data segment is appended again
        "utf8_chunks",  # each chunk is decoded as UTF-8 on arrival
        "split_pipes",  # a datagram is split on every |||, so DATA ends at its first |||
        "no_reack_last",  # a repeated last data segment is not re-ACKed after the message
    }
)


DEVIATIONS = frozenset(
    {
        "length_ack_plus2",  # the length segment is ACKed with s+2, whatever its digits
        "padded",  # every SEQ it sends is zero-padded to 8 digits
    }
)


def encode(syn: int, ack: int, fin: int, seq: int, data: bytes = b"", width: int = 0) -> bytes:
    return b"%d|||%d|||%d|||%0*d|||%b" % (syn, ack, fin, width, seq, data)


def build(defect: str = "", deviation: str = "") -> type:
    assert not defect or defect in DEFECTS, defect
    assert not deviation or deviation in DEVIATIONS, deviation

    class SocketTCP(_Base):
        DEFECT = defect
        DEVIATION = deviation

    return SocketTCP


class _Base:
    DEFECT = ""
    DEVIATION = ""

    def _encode(self, syn: int, ack: int, fin: int, seq: int, data: bytes = b"") -> bytes:
        return encode(syn, ack, fin, seq, data, 8 if self.DEVIATION == "padded" else 0)

    def __init__(self, sock: socket.socket | None = None) -> None:
        self.sock = sock or socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(TIMEOUT)
        self.peer: tuple[str, int] | None = None
        self.seq = 0  # next SEQ to send
        self.expected = 0  # next SEQ to receive
        self.buffer = b""  # received bytes of the current message not yet returned
        self.remaining = 0  # bytes of the current message not yet returned
        self.stash: list[bytes] = []  # data that completed the handshake (lost last ACK)

    # ------------------------------------------------------------------ codec
    def parse(self, datagram: bytes) -> tuple[int, int, int, int, bytes] | None:
        if self.DEFECT == "split_pipes":
            parts = datagram.split(SEP)
            if len(parts) < 5:
                return None
            parts = parts[:5]
        else:
            parts = datagram.split(SEP, 4)
            if len(parts) != 5:
                return None
        try:
            return int(parts[0]), int(parts[1]), int(parts[2]), int(parts[3]), parts[4]
        except ValueError:
            return None

    def receive_one(
        self, forever: bool = False
    ) -> tuple[tuple[int, int, int, int, bytes], tuple[str, int]] | None:
        """One segment, or None on timeout."""
        self.sock.settimeout(None if forever else TIMEOUT)
        try:
            data, addr = self.sock.recvfrom(4096)
        except TimeoutError:
            return None
        seg = self.parse(data)
        return (seg, addr) if seg is not None else None

    def transmit(self, datagram: bytes) -> None:
        assert self.peer is not None
        self.sock.sendto(datagram, self.peer)

    # ------------------------------------------------------------------ handshake
    def bind(self, address: tuple[str, int]) -> None:
        self.sock.bind(address)

    def connect(self, address: tuple[str, int]) -> None:
        x = random.randint(0, 100)
        forever = self.DEFECT == "no_hs_timeout"
        for _ in range(RETRIES):
            self.sock.sendto(self._encode(1, 0, 0, x), address)
            got = self.receive_one(forever)
            if got and got[0][:4] == (1, 1, 0, x + 1):
                self.peer = got[1]
                self.seq = self.expected = x + 2
                self.transmit(self._encode(0, 1, 0, x + 2))
                return
        raise TimeoutError("no SYN-ACK")

    def accept(self) -> tuple[_Base, tuple[str, int]]:
        while True:
            got = self.receive_one(forever=True)
            if got and got[0][:3] == (1, 0, 0):
                break
        (_, _, _, x, _), client = got
        conn = type(self)()
        conn.sock.bind((self.sock.getsockname()[0], 0))
        conn.peer = client
        forever = self.DEFECT == "no_hs_timeout"
        for _ in range(RETRIES):
            conn.transmit(self._encode(1, 1, 0, x + 1))
            answer = conn.receive_one(forever)
            if answer is None:
                continue
            seg, _ = answer
            if seg[:4] == (0, 1, 0, x + 2):
                break
            if seg[:3] == (0, 0, 0) and seg[3] == x + 2:
                conn.stash.append(self._encode(*seg))  # data at x+2: the client saw our SYN-ACK
                break
        else:
            raise TimeoutError("no handshake ACK")
        conn.seq = conn.expected = x + 2
        return conn, client

    # ------------------------------------------------------------------ sending
    def send(self, message: bytes) -> None:
        digits = str(len(message)).encode()
        length_ack = self.seq + (2 if self.DEVIATION == "length_ack_plus2" else len(digits))
        self._send_and_wait(self._encode(0, 0, 0, self.seq, digits), length_ack)
        self.seq = length_ack  # the data goes on from the ACK (s+2 too, for that deviation)
        for i in range(0, len(message), MSS):
            chunk = message[i : i + MSS]
            self._send_and_wait(self._encode(0, 0, 0, self.seq, chunk), self.seq + len(chunk))
            self.seq += len(chunk)

    def _send_and_wait(self, segment: bytes, ack: int) -> None:
        for _ in range(RETRIES):
            self.transmit(segment)
            while (got := self.receive_one()) is not None:
                seg = got[0]
                if seg[:3] == (0, 1, 0) and seg[3] == ack:
                    return  # an old or duplicate ACK is not this one
        raise TimeoutError("no ACK")

    # ------------------------------------------------------------------ receiving
    def _next_segment(self) -> tuple[int, int, int, int, bytes] | None:
        if self.stash:
            return self.parse(self.stash.pop(0))
        got = self.receive_one()
        return got[0] if got else None

    def recv(self, buff_size: int) -> bytes:
        if self.remaining == 0:
            self._receive_length()
        want = min(buff_size, self.remaining)
        tries = 0
        while len(self.buffer) < want:
            seg = self._next_segment()
            if seg is None:
                tries += 1
                if tries > RETRIES:
                    raise TimeoutError("no data")
                continue
            self._on_data(seg)
        out, self.buffer = self.buffer[:want], self.buffer[want:]
        self.remaining -= len(out)
        return out

    def _receive_length(self) -> None:
        for _ in range(RETRIES * 4):
            seg = self._next_segment()
            if seg is None or seg[:3] != (0, 0, 0):
                continue
            if seg[3] == self.expected:
                self.remaining = int(seg[4])
                step = 2 if self.DEVIATION == "length_ack_plus2" else len(seg[4])
                self.expected += step
                self.transmit(self._encode(0, 1, 0, self.expected))
                return
            self.transmit(self._encode(0, 1, 0, self.expected))  # a repeat: ACK again
        raise TimeoutError("no length segment")

    def _on_data(self, seg: tuple[int, int, int, int, bytes]) -> None:
        if seg[:3] != (0, 0, 0):
            return  # a late handshake ACK or a duplicate ACK: nothing to do
        data = seg[4]
        if self.DEFECT == "utf8_chunks":
            data = data.decode("utf-8").encode("utf-8")
        if seg[3] == self.expected:
            self.buffer += data
            self.expected += len(data)
        elif seg[3] < self.expected and self.DEFECT == "append_dup":
            self.buffer += data
        self.transmit(self._encode(0, 1, 0, self.expected))

    # ------------------------------------------------------------------ teardown
    def close(self) -> None:
        if self.peer is None:
            self.sock.close()
            return
        y = self.seq
        for _ in range(3):
            self.transmit(self._encode(0, 0, 1, y))
            got = self.receive_one()
            while got is not None and got[0][:3] != (0, 1, 1):
                got = self.receive_one()
            if got is not None:
                break
        for i in range(3):
            self.transmit(self._encode(0, 1, 0, y + 2))
            if i < 2:
                self.receive_one()  # one timeout between the copies (a FIN+ACK again is answered)
        self.sock.close()

    def recv_close(self) -> None:
        for _ in range(RETRIES * 2):
            seg = self._next_segment()
            if seg is None:
                continue
            if seg[:3] == (0, 0, 1):
                break
            if seg[:3] == (0, 0, 0) and self.DEFECT != "no_reack_last":
                self.transmit(self._encode(0, 1, 0, self.expected))  # its ACK was lost: ACK again
        else:
            self.sock.close()
            return
        y = seg[3]
        for _ in range(3):
            self.transmit(self._encode(0, 1, 1, y + 1))
            got = self.receive_one()
            if got is not None and got[0][:3] == (0, 1, 0):
                break
        self.sock.close()
