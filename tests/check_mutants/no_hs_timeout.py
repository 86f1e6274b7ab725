"""fsm-tcp check mutant: no hs timeout."""

from mutant_base import build

SocketTCP = build("no_hs_timeout")
