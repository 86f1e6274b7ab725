"""The scenario catalogue: the faults and messages the course statement names, each with
what the statement requires of a program that meets it.

The client always sends one message and closes; the server receives it and answers the
close (the course's own test programs do the same). "c2s" is from the client.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

#: 50 ASCII bytes: a 2-digit length, four segments (16 + 16 + 16 + 2).
ASCII_50 = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"
#: 47 bytes of UTF-8 with the two-byte "ó" at offsets 15 and 16: it straddles the first
#: 16-byte boundary, so a receiver that decodes each chunk on its own fails on it.
UTF8_47 = "Mensaje de acci\u00f3n con \u00f1 y m\u00e1s, \u00bfvale? S\u00ed!."
PIPES = b"a|||b||||c|||||d 1|||0|||0|||5|||data split on ||| is wrong|||"
BINARY = bytes(random.Random(10).randrange(256) for _ in range(80)) + b"\x00|||\xff\xfe\x80"


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    requires: str  # what the course statement requires, in one sentence
    message: bytes = ASCII_50
    schedule: str = ""  # fsm_tcp.schedule text form
    loss: float = 0.0  # random loss each way (the proxy's seeded faults)
    seed: int = 0
    needs_bytes: bool = False  # meaningless for a program that carries text only
    baseline: bool = False  # the no-fault run the time bounds are derived from
    #: Fault-free runs that also find the program's dialect (fsm_tcp adapts in them): the
    #: no-fault run, and a 1-digit length, which tells a length ACK of s+2 or s+1 from s+d
    #: (a 2-digit length cannot).
    discovery: bool = False
    #: The fault in the scenario's own words, as the start of a sentence ("after ...").
    fault: str = ""


def _utf8() -> bytes:
    text = UTF8_47.encode()
    assert len(text) == 47 and text[15:17] == "\u00f3".encode(), len(text)
    return text


def _lost(kind: str, occurrence: str, what: str, requires: str) -> Scenario:
    direction = "c2s" if kind in ("syn", "hs-ack", "length", "data", "fin", "last-ack") else "s2c"
    name = f"lost-{kind}" + ("-last" if occurrence == "last" else "")
    return Scenario(
        name,
        f"{what} lost once",
        requires,
        schedule=f"drop:{kind}:{direction}:{occurrence}",
        fault=f"{what} was lost",
    )


CATALOGUE: tuple[Scenario, ...] = (
    Scenario(
        "no-faults",
        "no faults, 50-byte message (2-digit length)",
        "the message arrives intact and both ends close",
        baseline=True,
        discovery=True,
    ),
    _lost("syn", "first", "the first SYN", "connect() resends the SYN on timeout"),
    _lost("syn-ack", "first", "the SYN-ACK", "the handshake recovers by retransmission on timeout"),
    _lost(
        "hs-ack",
        "first",
        "the last handshake ACK",
        "the server takes data at SEQ x+2 as the missing ACK (the statement's edge case)",
    ),
    _lost("length", "first", "the length segment", "the sender resends it on timeout"),
    _lost(
        "ack-length",
        "first",
        "the ACK of the length",
        "a repeated length segment is re-ACKed, not taken twice",
    ),
    _lost("data", "first", "the first data segment", "the sender resends it on timeout"),
    _lost("data", "last", "the last data segment", "the sender resends it on timeout"),
    _lost(
        "ack-data",
        "first",
        "the ACK of the first data segment",
        "a repeated segment is re-ACKed and delivered once",
    ),
    _lost(
        "ack-data",
        "last",
        "the ACK of the last data segment",
        "the receiver re-ACKs the last segment even after it has the whole message",
    ),
    _lost("fin", "first", "the FIN", "close() resends the FIN on timeout"),
    _lost("fin-ack", "first", "the FIN+ACK", "a repeated FIN is answered again"),
    _lost(
        "last-ack",
        "first",
        "the last ACK",
        "the last ACK is sent again, or recv_close() ends after its timeouts",
    ),
    Scenario(
        "dup-data",
        "the second data segment duplicated",
        "a duplicate is re-ACKed and delivered once",
        schedule="dup:data:c2s:2",
        fault="the second data segment was duplicated",
    ),
    Scenario(
        "dup-ack-late",
        "the ACK of the first data segment duplicated and delivered late",
        "an old ACK does not acknowledge the segment in flight",
        schedule="dup-late:ack-data:s2c:1",
        fault="the ACK of the first data segment came twice, the copy late",
    ),
    Scenario(
        "reorder-hs-ack",
        "the last handshake ACK overtaken by the length segment",
        "data at SEQ x+2 completes the handshake; the late ACK changes nothing",
        schedule="reorder:hs-ack:c2s:first",
        fault="the length segment overtook the last handshake ACK",
    ),
    Scenario(
        "len-1-digit",
        "a 5-byte message (1-digit length)",
        "the length has as many digits as it needs",
        message=b"hello",
        discovery=True,
    ),
    Scenario(
        "len-3-digits",
        "a 150-byte message (3-digit length)",
        "the length ACK counts every digit (s + 3)",
        message=(ASCII_50 * 3),
    ),
    Scenario(
        "utf8-split",
        "47 bytes of UTF-8, a two-byte character across the 16-byte boundary",
        "DATA is bytes: never decode a segment on its own",
        message=_utf8(),
    ),
    Scenario(
        "pipes",
        "a payload holding |||",
        "split a segment on its first four separators only",
        message=PIPES,
    ),
    Scenario(
        "binary",
        "87 arbitrary bytes (NUL, 0xff, invalid UTF-8, |||)",
        "DATA may hold any byte",
        message=BINARY,
        needs_bytes=True,
    ),
    *(
        Scenario(
            f"loss-20-seed-{seed}",
            f"20% random loss each way (seed {seed})",
            "every segment is retransmitted until acknowledged; the message arrives intact",
            loss=0.2,
            seed=seed,
            fault=f"20% of the segments each way were lost (seed {seed})",
        )
        for seed in (1, 2, 3)
    ),
)
BY_NAME = {s.name: s for s in CATALOGUE}
