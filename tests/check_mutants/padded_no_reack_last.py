"""fsm-tcp check mutant: SEQ zero-padded to 8 digits, and a repeated last data segment is
not re-ACKed once the message is complete (the seed report's desync case b)."""

from mutant_base import build

SocketTCP = build("no_reack_last", deviation="padded")
