"""fsm-tcp check mutant: no reack last."""

from mutant_base import build

SocketTCP = build("no_reack_last")
