"""fsm-tcp check mutant: a deviation only (SEQ zero-padded to 8 digits)."""

from mutant_base import build

SocketTCP = build(deviation="padded")
