"""fsm-tcp check mutant: clean."""

from mutant_base import build

SocketTCP = build("")
