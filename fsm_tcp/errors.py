"""Typed exceptions: everything fsm_tcp raises on purpose derives from FsmTcpError."""

from __future__ import annotations


class FsmTcpError(Exception):
    """Base class of every error fsm_tcp raises on purpose."""


class MalformedSegment(FsmTcpError, ValueError):
    """A datagram that is not a segment of PROTOCOL.md section 1."""


class InvalidArgument(FsmTcpError, ValueError):
    """A caller passed a value the API cannot accept (bad buff_size, bad option...)."""


class ConnectionTimeout(FsmTcpError, TimeoutError):
    """The peer stopped answering: the retry bound was reached."""


class ConnectionClosed(FsmTcpError, ConnectionError):
    """The operation needs an open connection, and this one is closed or closing."""


class MessageTooLarge(FsmTcpError):
    """A length segment announced more than the configured maximum message size."""


class ProtocolViolation(FsmTcpError):
    """The peer broke the contract in a way that cannot be repaired (e.g. closed mid-message)."""


class DialectUnknown(FsmTcpError):
    """auto met a peer whose arithmetic no rule of the dialect space explains (the message
    says what the peer did); ``--dialect`` names one explicitly."""
