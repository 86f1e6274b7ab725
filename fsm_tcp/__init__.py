"""fsm_tcp: a reliable transport over UDP whose behaviour is declared as state machines."""

from .config import Config
from .congestion import CongestionControl
from .engine import Connection
from .errors import (
    ConnectionClosed,
    ConnectionTimeout,
    FsmTcpError,
    InvalidArgument,
    MalformedSegment,
    MessageTooLarge,
    ProtocolViolation,
)
from .events import Closed, Established, MessageReceived, MessageSent
from .listener import Listener
from .segment import Segment
from .socket_tcp import SocketTCP
from .udp import SocketUDP

__all__ = [
    "Closed",
    "Config",
    "CongestionControl",
    "Connection",
    "ConnectionClosed",
    "ConnectionTimeout",
    "Established",
    "FsmTcpError",
    "InvalidArgument",
    "Listener",
    "MalformedSegment",
    "MessageReceived",
    "MessageSent",
    "MessageTooLarge",
    "ProtocolViolation",
    "Segment",
    "SocketTCP",
    "SocketUDP",
]
