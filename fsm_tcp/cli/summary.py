"""One transfer's figures: a line for a person, a JSON object for a script."""

from __future__ import annotations

import dataclasses
import json

from .. import dialects
from ..engine import Address
from ..socket_tcp import SocketTCP


def rate(bytes_per_second: float) -> str:
    for unit in ("B/s", "kB/s", "MB/s"):
        if bytes_per_second < 1000:
            return f"{bytes_per_second:.3g} {unit}"
        bytes_per_second /= 1000
    return f"{bytes_per_second:.3g} GB/s"


@dataclasses.dataclass
class Summary:
    """One transfer's figures: a line for a person, a JSON object for a script.

    ``loss_seen`` is what one end can observe of the path's loss: for the sender the share
    of its segments it had to send again; for the receiver the share of segments that
    arrived twice (an ACK of its was lost, or a retransmission was spurious).
    """

    event: str  # "sent" or "received"
    peer: str
    bytes: int
    messages: int
    seconds: float
    retransmissions: int
    duplicates_received: int
    segments_sent: int
    segments_received: int
    srtt_ms: float | None
    simulated_losses: int
    #: What auto saw of the peer's dialect (dialects.describe): --debug prints it.
    peer_dialect: str = ""

    @classmethod
    def of(
        cls, event: str, sock: SocketTCP, peer: Address, nbytes: int, messages: int, secs: float
    ) -> Summary:
        conn = sock.conn
        stats = conn.stats if conn is not None else None
        srtt = conn.rto.srtt if conn is not None else None
        return cls(
            event=event,
            peer=f"{peer[0]}:{peer[1]}",
            bytes=nbytes,
            messages=messages,
            seconds=round(secs, 6),
            retransmissions=stats.retransmissions if stats else 0,
            duplicates_received=stats.duplicates_received if stats else 0,
            segments_sent=stats.segments_sent if stats else 0,
            segments_received=stats.segments_received if stats else 0,
            srtt_ms=None if srtt is None else round(srtt * 1000, 3),
            simulated_losses=sock.udp.lost_sends + sock.udp.lost_receives,
            peer_dialect=dialects.describe(conn.dialect_findings) if conn is not None else "",
        )

    @property
    def goodput(self) -> float:
        """Message bytes per second, whole transfer (handshake and teardown included)."""
        return self.bytes / self.seconds if self.seconds > 0 else 0.0

    @property
    def loss_seen(self) -> float:
        if self.event == "sent":
            return self.retransmissions / self.segments_sent if self.segments_sent else 0.0
        repeated = self.duplicates_received
        return repeated / self.segments_received if self.segments_received else 0.0

    def line(self) -> str:
        what = (
            f"sent {self.bytes} bytes, all acknowledged,"
            if self.event == "sent"
            else f"{self.peer}: received {self.messages} message(s), {self.bytes} bytes,"
        )
        srtt = "n/a" if self.srtt_ms is None else f"{self.srtt_ms:.3f} ms"
        simulated = f" ({self.simulated_losses} by --loss)" if self.simulated_losses else ""
        return (
            f"{what} in {self.seconds:.3f} s: {rate(self.goodput)}, "
            f"{self.retransmissions} retransmissions, {self.duplicates_received} duplicates, "
            f"srtt {srtt}, loss seen {self.loss_seen:.1%}{simulated}"
        )

    def as_json(self) -> str:
        fields = dataclasses.asdict(self)
        fields.update(goodput=round(self.goodput, 1), loss_seen=round(self.loss_seen, 6))
        return json.dumps(fields, separators=(",", ":"))
