"""fsm-tcp check mutant: the length ACK is s+2 whatever d, and a retransmitted segment is
appended again."""

from mutant_base import build

SocketTCP = build("append_dup", deviation="length_ack_plus2")
