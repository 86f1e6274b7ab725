"""Named fault schedules: the seed report's two desync cases and the classic losses.

The regression tests run them, and ``fsm-tcp diagram`` draws each as a sequence chart, so
the pictures in ``diagrams/`` are what the simulator really does with those schedules.
Datagram order with no faults: 1 SYN, 2 SYN-ACK, 3 ACK, 4 length "16", 5 its ACK, ...
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .config import Config
from .sim import DELIVER, DROP, Fault, Outcome, run_lifecycle

OK, LOST = Fault(DELIVER), Fault(DROP)
MESSAGES = (b"Mensje de len=16", b"Mensaje de largo 19")
CONFIG = Config(max_retries=12)


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    schedule: tuple[Fault, ...]
    messages: tuple[bytes, ...] = MESSAGES

    def run(self) -> tuple[Outcome, list[dict[str, Any]]]:
        """Run it on the simulator; return the outcome and the full trace."""
        log: list[dict[str, Any]] = []
        out = run_lifecycle(
            list(self.messages),
            self.schedule,
            buff_sizes=[16, 19, 14],
            config=CONFIG,
            tracer=log.append,
            record=True,
        )
        return out, log


SCENARIOS = (
    Scenario(
        "desync_a",
        "Desync (a): the last handshake ACK is lost while the client sends",
        (OK, OK, LOST),
    ),
    # 3 handshake datagrams, then data segments and ACKs alternate; the ACK of the last
    # chunk of the last message is datagram 3 + 2 * 5 = 13 (segments: 2, 16, 2, 16, 3 B).
    Scenario(
        "desync_b",
        "Desync (b): the ACK of the last data segment is lost while the receiver waits for FIN",
        (OK,) * 12 + (LOST,),
    ),
    Scenario("lost_syn", "The first SYN is lost", (LOST,), (b"hello",)),
)
BY_NAME = {s.name: s for s in SCENARIOS}
