"""fsm-tcp check mutant: a deviation only (the length segment's ACK is s+2, whatever d)."""

from mutant_base import build

SocketTCP = build(deviation="length_ack_plus2")
