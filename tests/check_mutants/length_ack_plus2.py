"""fsm-tcp check mutant: length ack plus2."""

from mutant_base import build

SocketTCP = build("length_ack_plus2")
