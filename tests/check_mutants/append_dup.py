"""fsm-tcp check mutant: append dup."""

from mutant_base import build

SocketTCP = build("append_dup")
