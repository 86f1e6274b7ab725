"""fsm-tcp check mutant: split pipes."""

from mutant_base import build

SocketTCP = build("split_pipes")
