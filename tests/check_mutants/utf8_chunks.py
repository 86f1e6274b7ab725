"""fsm-tcp check mutant: utf8 chunks."""

from mutant_base import build

SocketTCP = build("utf8_chunks")
