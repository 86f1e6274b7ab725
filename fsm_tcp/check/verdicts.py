"""Verdicts: what happened in one scenario, decided from facts the runner collected.

Order matters: a program still running at the bound HANGs whatever it printed; one that
exited badly CRASHes; then the message is compared byte for byte (CORRUPT); a program that
delivered it but left fsm_tcp's end unanswered (gave up, or still waiting once the program
ended) HANGs too; a correct run far above the no-fault time is SLOW.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PASS, CORRUPT, HANG, CRASH, SLOW, SKIP = "PASS", "CORRUPT", "HANG", "CRASH", "SLOW", "SKIP"
#: Not run, because something the scenario needs is missing (no conversation was possible,
#: or the check's time budget was spent): a finding about the check, not about the fault.
NOT_RUN = "NOT RUN"
VERDICTS = (PASS, CORRUPT, HANG, CRASH, SLOW, SKIP, NOT_RUN)
#: Verdicts that say the program failed the scenario.
FAILURES = (CORRUPT, HANG, CRASH, SLOW)
#: Bounds from the no-fault time T0 (seconds), times --timeout-scale: a faulty scenario may
#: cost a few of the program's retransmission timeouts, which T0 does not show, hence the
#: slack; a HANG bound several T0 long also covers a close that lingers (D1: 20 s).
HANG_FACTOR, HANG_SLACK = 4.0, 10.0
SLOW_FACTOR, SLOW_SLACK = 3.0, 6.0
#: The no-fault run itself, before any T0 is known.
BASELINE_BOUND = 60.0
STDERR_LINES = 5


@dataclass(frozen=True)
class Bounds:
    hang: float
    slow: float

    @staticmethod
    def from_baseline(t0: float | None, scale: float) -> Bounds:
        if t0 is None:  # the no-fault run failed: the generous bound for every scenario
            return Bounds(BASELINE_BOUND * scale, BASELINE_BOUND * scale)
        return Bounds(
            scale * (HANG_FACTOR * t0 + HANG_SLACK), scale * (SLOW_FACTOR * t0 + SLOW_SLACK)
        )


@dataclass
class Facts:
    """What the runner saw; the verdict follows from these alone."""

    expected: bytes
    received: bytes | None  # None: nothing was collected
    elapsed: float
    timed_out: bool  # the program was still running at the bound and was killed
    exit_status: int | None  # None when killed at the bound; negative: killed by a signal
    stderr: str = ""
    peer_error: str = ""  # what fsm_tcp's own end reported, if it failed
    skipped: str = ""  # why the scenario does not apply
    not_run: str = ""  # why the scenario could not be run
    killed_for: str = ""  # why the checker killed the program before its bound, if it did


@dataclass
class Verdict:
    verdict: str
    detail: str
    notes: list[str] = field(default_factory=list)
    #: What the program did not do, in the scenario's own terms (fsm_tcp.check.explain).
    explanation: str = ""

    @property
    def passed(self) -> bool:
        return self.verdict == PASS


def decide(facts: Facts, bounds: Bounds) -> Verdict:
    if facts.not_run:
        return Verdict(NOT_RUN, facts.not_run)
    if facts.skipped:
        return Verdict(SKIP, facts.skipped)
    if facts.timed_out:
        if facts.received and not facts.expected.startswith(facts.received):
            # wrong bytes already delivered: the cause, of which the hang is a consequence
            detail = compare(facts.expected, facts.received)
            return Verdict(CORRUPT, f"{detail}; then {_hang_detail(facts, bounds)}")
        return Verdict(HANG, _hang_detail(facts, bounds))
    if facts.exit_status not in (0, None):
        return Verdict(CRASH, _crash_detail(facts))
    corrupt = compare(facts.expected, facts.received)
    if corrupt:
        return Verdict(CORRUPT, corrupt)
    if facts.peer_error:
        # the message arrived, but the program left fsm_tcp's end waiting for an answer
        return Verdict(HANG, f"the program stopped answering; fsm_tcp's end: {facts.peer_error}")
    if facts.elapsed > bounds.slow:
        return Verdict(
            SLOW, f"took {facts.elapsed:.2f} s, above {bounds.slow:.2f} s (from the no-fault run)"
        )
    return Verdict(PASS, f"{len(facts.expected)} bytes intact in {facts.elapsed:.2f} s")


def compare(expected: bytes, received: bytes | None) -> str:
    """'' when equal; else where they first differ, with both bytes."""
    if received is None:
        return "nothing received"
    if received == expected:
        return ""
    for offset, (want, got) in enumerate(zip(expected, received, strict=False)):
        if want != got:
            return (
                f"first difference at offset {offset}: expected 0x{want:02x}, got 0x{got:02x} "
                f"({len(received)} of {len(expected)} bytes received)"
            )
    offset = min(len(expected), len(received))
    if len(received) < len(expected):
        return (
            f"short: {len(received)} of {len(expected)} bytes; at offset {offset} expected "
            f"0x{expected[offset]:02x}, got end of message"
        )
    return (
        f"long: {len(received)} bytes for {len(expected)}; at offset {offset} expected end of "
        f"message, got 0x{received[offset]:02x}"
    )


def _hang_detail(facts: Facts, bounds: Bounds) -> str:
    got = "nothing" if facts.received is None else f"{len(facts.received)} bytes"
    peer = f"; fsm_tcp's end: {facts.peer_error}" if facts.peer_error else ""
    return f"no end within {bounds.hang:.1f} s (killed); {got} received{peer}"


def _crash_detail(facts: Facts) -> str:
    status = facts.exit_status
    assert status is not None
    how = f"killed by signal {-status}" if status < 0 else f"exit status {status}"
    if facts.killed_for:
        how = f"killed: {facts.killed_for}"
    elif status in (-24, -25):  # SIGXCPU, SIGXFSZ: a resource limit of the sandbox
        how += " (CPU time limit)" if status == -24 else " (file size limit)"
    return f"{how}; stderr: {last_lines(facts.stderr) or '(empty)'}"


def last_lines(text: str, count: int = STDERR_LINES) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines() if line.strip()]
    return " | ".join(lines[-count:])
