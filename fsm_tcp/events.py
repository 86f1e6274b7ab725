"""What a connection tells its driver (``Connection.next_event()``), and the address type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import FsmTcpError

Address = tuple[Any, ...]


@dataclass(frozen=True)
class Established:
    peer: Address


@dataclass(frozen=True)
class MessageReceived:
    length: int


@dataclass(frozen=True)
class MessageSent:
    length: int


@dataclass(frozen=True)
class Closed:
    """The connection reached CLOSED; ``error`` is None for every orderly ending."""

    reason: str
    error: FsmTcpError | None = None


Event = Established | MessageReceived | MessageSent | Closed
