"""fsm-tcp check mutant: the length ACK is s+2 whatever d, and the handshake is never
retransmitted."""

from mutant_base import build

SocketTCP = build("no_hs_timeout", deviation="length_ack_plus2")
