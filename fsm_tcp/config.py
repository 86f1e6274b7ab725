"""A connection's knobs (:class:`Config`) and its counters (:class:`Stats`)."""

from __future__ import annotations

from dataclasses import dataclass

from . import dialects as D
from .congestion import ALGORITHMS, Algorithm
from .errors import InvalidArgument
from .rto import RtoEstimator
from .segment import MAX_DATAGRAM


@dataclass(frozen=True)
class Config:
    """Protocol knobs. Defaults speak PROTOCOL.md and suit loopback and LAN paths."""

    mss: int = 16
    #: RFC 6298 (2.1) says 1 s before the first RTT sample; this transport lives on LANs and
    #: loopback, where a lost SYN should not cost a second. Set 1.0 for the RFC's value.
    initial_rto: float = 0.25
    #: RFC 6298 (2.4) suggests 1 s; the RTT estimate keeps a low floor safe on slow paths.
    #: On loopback a round trip takes 10-60 us, so the RTO there is SRTT + G, tens of us:
    #: a lost segment costs that, not a millisecond (spurious retransmissions measured with
    #: G = 20 us: 39 of 65,579 segments of a no-loss MiB, 0.06%).
    min_rto: float = 0.00002
    max_rto: float = 4.0
    #: RFC 6298's clock granularity G: how late a timer may fire. A busy-polling driver (the
    #: default) checks its timer within microseconds; a sleep in select() may wake up to
    #: Linux's 50 us timer slack late, which only makes that retransmission later. 50 us here
    #: made a loss cost ~6 no-loss segments and the 20% loss figure 9.4-10.1x; 20 us: 5.1-6.1x.
    granularity: float = 0.00002
    #: Retransmissions of one segment (handshake or data) before ConnectionTimeout.
    max_retries: int = 12
    #: PROTOCOL.md 4: FIN resent and the last ACK sent this many times, one timeout apart.
    close_tries: int = 3
    max_message_size: int = 64 * 1024 * 1024
    #: Unread bytes a receiver holds before it stops accepting data (flow control).
    receive_buffer: int = 256 * 1024
    #: SocketTCP.send(..., wait=False) returns once at most this many bytes of messages are
    #: queued or not yet acknowledged whole (what a sender holds beyond the one in flight).
    send_buffer: int = 4 * 1024 * 1024
    #: Random 32-bit initial sequence numbers instead of the course's 0..100, and segments
    #: outside the expected window dropped silently instead of re-ACKed.
    secure: bool = False
    #: How to speak to the peer (fsm_tcp.dialects): "auto" sends PROTOCOL.md and adapts to
    #: what the peer shows; a profile name or a Dialect value speaks that dialect.
    dialect: str | D.Dialect = D.AUTO
    #: PROTOCOL.md 6: the most segments a windowed sender has unacknowledged (also bounded
    #: by cwnd and by receive_buffer / mss); stop-and-wait is a window of one whatever this.
    window: int = 64
    #: Congestion control of the windowed modes: "tahoe" (the course's) or "reno".
    cc: Algorithm = "tahoe"
    #: The receiver keeps out-of-order segments (within receive_buffer) and reports them as
    #: SACK blocks; False: it drops them and re-ACKs, as a plain stop-and-wait receiver.
    sack: bool = True

    def __post_init__(self) -> None:
        if self.mss < 1 or self.mss > MAX_DATAGRAM - 64:
            raise InvalidArgument(f"mss must be 1..{MAX_DATAGRAM - 64}, got {self.mss}")
        if self.max_retries < 0 or self.close_tries < 1:
            raise InvalidArgument("max_retries must be >= 0 and close_tries >= 1")
        if self.max_message_size < 0 or self.receive_buffer < 1 or self.send_buffer < 0:
            raise InvalidArgument(
                "max_message_size and send_buffer must be >= 0 and receive_buffer >= 1"
            )
        if self.window < 1:
            raise InvalidArgument(f"window must be >= 1 segment, got {self.window}")
        if self.cc not in ALGORITHMS:
            raise InvalidArgument(f"unknown cc {self.cc!r}; choose tahoe or reno")
        RtoEstimator(self.initial_rto, self.min_rto, self.max_rto)  # validates the timers
        D.resolve(self.dialect)  # validates the name

    def give_up_bound(self) -> float:
        """Longest a sender retransmits to a silent peer before ConnectionTimeout (seconds).

        At most ``max_retries + 1`` timeouts, none longer than max_rto. A reader waiting on
        a silent peer waits at most twice this (it must outwait any sender).
        """
        return (self.max_retries + 1) * self.max_rto


@dataclass
class Stats:
    segments_sent: int = 0
    segments_received: int = 0
    payload_bytes_sent: int = 0
    retransmissions: int = 0
    duplicates_received: int = 0
    malformed: int = 0
    foreign: int = 0
    ignored: int = 0
    out_of_window: int = 0
    window_full: int = 0
    rtt_samples: int = 0
    #: timeouts the first ACK after them showed spurious (their cwnd cut undone)
    spurious_timeouts: int = 0
    transitions: int = 0
