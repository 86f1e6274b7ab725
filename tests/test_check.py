"""fsm-tcp check (issues 10 and 15): verdicts, the pcap writer, the scripted proxy on real
UDP, the command line, and the checker against mutant programs with one defect and/or one
deviation each.

The default run is a slice (the defect-free mutant, two defect mutants and a deviating one
on their key scenarios, 0.2 s timeouts); the full mutant x catalogue matrix, and fsm_tcp's
own serve/send through every scenario in every dialect profile, run with ``-m check_matrix``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import struct
import sys
from pathlib import Path

import pytest
from netutil import serve_one_message, spawn

from fsm_tcp import SocketTCP
from fsm_tcp import dialects as D
from fsm_tcp.check import EPILOG, add_arguments, check, pcap, run
from fsm_tcp.check.catalogue import CATALOGUE
from fsm_tcp.check.report import EXIT_DEVIATES, EXIT_FAILED, Table, exit_status, write_report
from fsm_tcp.check.runner import (
    CLIENT,
    SERVER,
    Options,
    Outcome,
    Program,
    Result,
    module_program,
)
from fsm_tcp.check.verdicts import Bounds, Facts, decide
from fsm_tcp.errors import InvalidArgument
from fsm_tcp.proxy import FaultProxy
from fsm_tcp.schedule import parse_schedule

MUTANTS = Path(__file__).resolve().parent / "check_mutants"
SCALE = 0.3  # the mutants time out after 0.2 s: short bounds keep their hangs short
#: Each defect, and the (role, scenario) pairs it must fail, with the verdict.
EXPECTED: dict[str, dict[tuple[str, str], str]] = {
    "clean": {},
    "no_hs_timeout": {(SERVER, "lost-syn-ack"): "HANG", (CLIENT, "lost-syn"): "HANG"},
    "append_dup": {
        (SERVER, "lost-ack-length"): "CORRUPT",
        (SERVER, "lost-ack-data"): "CORRUPT",
        (SERVER, "dup-data"): "CORRUPT",
    },
    "utf8_chunks": {(SERVER, "utf8-split"): "CRASH", (SERVER, "binary"): "CRASH"},
    "split_pipes": {(SERVER, "pipes"): "HANG", (SERVER, "binary"): "HANG"},
    "no_reack_last": {(SERVER, "lost-ack-data-last"): "HANG"},
    # deviations only: spoken to in their own dialect, they pass every scenario
    "length_ack_plus2": {},
    "padded": {},
    # a deviation and a defect: exactly the defect's scenarios fail
    "padded_no_reack_last": {(SERVER, "lost-ack-data-last"): "HANG"},
    "plus2_no_hs_timeout": {(SERVER, "lost-syn-ack"): "HANG", (CLIENT, "lost-syn"): "HANG"},
    "plus2_append_dup": {
        (SERVER, "lost-ack-length"): "CORRUPT",
        (SERVER, "lost-ack-data"): "CORRUPT",
        (SERVER, "dup-data"): "CORRUPT",
    },
}
#: The variable each mutant bends, reported once per role (the same in both roles).
DEVIATES = {
    "length_ack_plus2": "length_ack",
    "padded": "seq_width",
    "padded_no_reack_last": "seq_width",
    "plus2_no_hs_timeout": "length_ack",
    "plus2_append_dup": "length_ack",
}


def _run_mutant(
    name: str,
    only: tuple[str, ...] = (),
    roles: tuple[str, ...] = (SERVER, CLIENT),
    peer_dialect: str = "program",
) -> Outcome:
    programs = [module_program(role, MUTANTS / f"{name}.py", "SocketTCP") for role in roles]
    options = Options(jobs=2, timeout_scale=SCALE, only=only, peer_dialect=peer_dialect)
    return check(programs, options)


def _failures(results: Outcome | list[Result]) -> dict[tuple[str, str], str]:
    found = results.results if isinstance(results, Outcome) else results
    return {(r.role, r.scenario.name): r.verdict.verdict for r in found if not r.verdict.passed}


def _deviations(outcome: Outcome) -> dict[str, list[str]]:
    return {role: [d.variable for d in r.deviations] for role, r in outcome.roles.items()}


# ---------------------------------------------------------------------- verdicts
def test_verdicts_follow_the_facts_in_order() -> None:
    bounds = Bounds.from_baseline(0.5, 1.0)
    assert (bounds.hang, bounds.slow) == (12.0, 7.5)
    ok = Facts(b"abc", b"abc", 0.1, False, 0)
    assert decide(ok, bounds).verdict == "PASS"
    wrong = decide(Facts(b"abcd", b"abXd", 0.1, False, 0), bounds)
    assert wrong.verdict == "CORRUPT"
    assert "offset 2: expected 0x63, got 0x58" in wrong.detail
    assert "short: 2 of 4" in decide(Facts(b"abcd", b"ab", 0.1, False, 0), bounds).detail
    crash = decide(Facts(b"a", None, 0.1, False, 1, stderr="x\nValueError: boom"), bounds)
    assert (crash.verdict, crash.detail) == ("CRASH", "exit status 1; stderr: x | ValueError: boom")
    assert decide(Facts(b"a", None, 0.1, False, -9), bounds).detail.startswith("killed by signal 9")
    assert decide(Facts(b"abc", b"ab", 12.0, True, None), bounds).verdict == "HANG"
    # bytes already wrong when it hung: the corruption is the finding
    assert decide(Facts(b"abc", b"x", 12.0, True, None), bounds).verdict == "CORRUPT"
    assert decide(Facts(b"abc", b"abc", 9.0, False, 0), bounds).verdict == "SLOW"
    left = decide(Facts(b"abc", b"abc", 0.1, False, 0, peer_error="ConnectionTimeout: x"), bounds)
    assert left.verdict == "HANG"


# ---------------------------------------------------------------------- pcap
def test_the_pcap_file_parses_back_with_valid_checksums(tmp_path: Path) -> None:
    packets = [
        pcap.Packet(
            1_700_000_000.25, ("127.0.0.1", 40000), ("127.0.0.1", 8000), b"1|||0|||0|||5|||"
        ),
        pcap.Packet(1_700_000_000.5, ("127.0.0.1", 8001), ("127.0.0.1", 40000), bytes(range(256))),
        pcap.Packet(1_700_000_001.0, ("127.0.0.1", 40000), ("127.0.0.1", 8001), b""),
    ]
    path = tmp_path / "x.pcap"
    pcap.write(path, packets)
    data = path.read_bytes()
    assert struct.unpack_from("<IHHiIII", data) == (0xA1B2C3D4, 2, 4, 0, 0, 65535, 101)
    back = pcap.read(path)
    assert [(p.src, p.dst, p.payload) for p in back] == [(p.src, p.dst, p.payload) for p in packets]
    assert [round(p.t, 6) for p in back] == [p.t for p in packets]
    broken = bytearray(data)
    broken[-1] ^= 0xFF  # a payload byte: the UDP checksum no longer holds
    path.write_bytes(bytes(broken))
    with pytest.raises(ValueError, match="checksum"):
        pcap.read(path)


# ---------------------------------------------------------------------- scripted proxy
@pytest.mark.timeout(30)
def test_the_scripted_proxy_drops_exactly_the_last_data_segment() -> None:
    message = bytes(range(50))
    server = SocketTCP(min_rto=0.05)
    server.bind(("127.0.0.1", 0))
    listener = server.getsockname()

    worker = spawn(lambda: serve_one_message(server))

    async def main() -> FaultProxy:
        proxy = FaultProxy(
            ("127.0.0.1", 0),
            listener,
            schedule=parse_schedule("drop:data:c2s:last,dup:ack-data:s2c:1"),
            record=True,
        )
        address = await proxy.start()
        client = SocketTCP(min_rto=0.05)
        try:
            await asyncio.to_thread(client.connect, address)
            await asyncio.to_thread(client.send, message)
            await asyncio.to_thread(client.close)
        finally:
            proxy.close()
        return proxy

    try:
        proxy = asyncio.run(main())
        assert worker.outcome(20) == message
    finally:
        server.close()
    fates = [(c.label, c.fate) for c in proxy.capture if c.fate != "forwarded"]
    assert fates == [
        ("ack-data #1 s2c", "duplicated (schedule)"),
        ("data #4 c2s (last)", "dropped (schedule)"),
    ]
    data = [c for c in proxy.capture if c.label.startswith("data #4")]
    assert [c.fate for c in data] == ["dropped (schedule)", "forwarded"]  # then resent
    assert data[0].data.endswith(message[48:])
    # the server answered from its own new port, and the proxy followed it
    ports = {c.dst[1] for c in proxy.capture if c.direction == "c2s"}
    assert len(ports) == 2 and listener[1] in ports


# ---------------------------------------------------------------------- command line
def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="fsm-tcp check")
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_the_command_line_refuses_bad_input_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    for argv, why in [
        ((), "exactly one of --cmd"),
        (("--cmd", "x {port}"), "needs the program's role"),
        (("server", "--cmd", "python3 server.py 8000"), "needs {port}"),
        (("--module", "nowhere.py"), "not a Python file"),
        (("--module", str(MUTANTS / "clean.py"), "--scenario", "nope"), "unknown scenario"),
    ]:
        with pytest.raises(InvalidArgument, match=why):
            run(_args(*argv))
    assert run(_args("--list")) == 0
    listed = capsys.readouterr().out
    assert all(s.name in listed for s in CATALOGUE)
    assert len(CATALOGUE) >= 24
    check_parser = argparse.ArgumentParser(prog="fsm-tcp check", epilog=EPILOG)
    add_arguments(check_parser)
    assert check_parser.epilog and "--module" in check_parser.epilog
    recording = _Recording(prog="fsm-tcp check")
    add_arguments(recording)
    assert recording.added and all(a.help for a in recording.added)
    assert "exit status" in EPILOG and "--accept-deviations" in EPILOG


class _Recording(argparse.ArgumentParser):
    """A parser that keeps every argument it is given (argparse has no public list)."""

    def __init__(self, **kwargs: object) -> None:
        self.added: list[argparse.Action] = []
        super().__init__(**kwargs)  # type: ignore[arg-type]

    def add_argument(self, *args: object, **kwargs: object) -> argparse.Action:
        action = super().add_argument(*args, **kwargs)  # type: ignore[arg-type]
        self.added.append(action)
        return action


# ---------------------------------------------------------------------- mutants: the slice
@pytest.mark.timeout(120)
def test_the_defect_free_mutant_passes_the_key_scenarios_and_writes_a_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    only = ("lost-hs-ack", "lost-ack-data-last", "dup-data", "utf8-split", "pipes", "binary")
    args = _args("--module", str(MUTANTS / "clean.py"), "--timeout-scale", str(SCALE), "--json")
    args.scenario = list(only)
    args.report = str(tmp_path / "report")
    assert run(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["passed"] and doc["api"] == ["bytes"] and doc["exit_status"] == 0
    assert (
        doc["roles"][SERVER]["deviations"] == [] and doc["roles"][CLIENT]["no_conversation"] == ""
    )
    assert {(s["role"], s["scenario"]) for s in doc["scenarios"]} == {
        (role, name) for role in (SERVER, CLIENT) for name in ("no-faults", "len-1-digit", *only)
    }
    page = (tmp_path / "report" / "index.md").read_text()
    assert "| server | no-faults | **PASS**" in page
    capture = pcap.read(tmp_path / "report" / "pcap" / "server-lost-hs-ack.pcap")
    assert capture[0].payload.startswith(b"1|||0|||0|||")
    assert any(p.payload.endswith(b"|||50") for p in capture)  # the length segment


@pytest.mark.timeout(120)
def test_two_defect_mutants_are_caught_by_their_key_scenarios(tmp_path: Path) -> None:
    outcome = _run_mutant("append_dup", ("lost-ack-data", "dup-data", "lost-fin"), (SERVER,))
    results = outcome.results
    assert _failures(results) == {
        (SERVER, "lost-ack-data"): "CORRUPT",
        (SERVER, "dup-data"): "CORRUPT",
    }
    corrupt = next(r for r in results if r.scenario.name == "dup-data").verdict.detail
    assert corrupt.startswith("first difference at offset 32: expected 0x77, got 0x67")
    outcome = _run_mutant("utf8_chunks", ("utf8-split", "pipes"), (SERVER,))
    assert _failures(outcome) == {(SERVER, "utf8-split"): "CRASH"}
    crash = next(r for r in outcome.results if not r.verdict.passed)
    assert "UnicodeDecodeError" in crash.verdict.detail
    assert crash.verdict.explanation.startswith(
        "with 47 bytes of UTF-8, a two-byte character across the 16-byte boundary, the "
        "program crashed after sending"
    )
    page = write_report(tmp_path, outcome, ["utf8_chunks"]).read_text()
    assert "```mermaid\n---\ntitle: server: utf8-split" in page  # a chart of the failure


# ---------------------------------------------------------------------- the full matrix
@pytest.mark.check_matrix
@pytest.mark.timeout(600)
@pytest.mark.parametrize("mutant", sorted(EXPECTED))
def test_each_mutant_fails_exactly_the_scenarios_of_its_defect(mutant: str) -> None:
    outcome = _run_mutant(mutant)
    failures = _failures(outcome)
    expected = EXPECTED[mutant]
    assert {k: v for k, v in failures.items() if k in expected} == expected
    # random loss may hit the defect too (a lost SYN, a resent segment), with its verdict
    allowed = set(expected.values())
    others = {k: v for k, v in failures.items() if k not in expected}
    assert all(name.startswith("loss-") and v in allowed for (_, name), v in others.items()), others
    bent = DEVIATES.get(mutant)
    assert _deviations(outcome) == {SERVER: [bent] if bent else [], CLIENT: [bent] if bent else []}
    status = EXIT_FAILED if expected else EXIT_DEVIATES if bent else 0
    assert exit_status(outcome) == status


@pytest.mark.check_matrix
@pytest.mark.timeout(600)
def test_fsm_tcp_own_serve_and_send_pass_every_scenario() -> None:
    fsm = f"{sys.executable} -m fsm_tcp"
    programs = [
        Program(SERVER, f"{fsm} serve --port {{port}} --output {{out}} --once", "file"),
        Program(CLIENT, f"{fsm} send 127.0.0.1 {{port}} {{file}}"),
    ]
    outcome = check(programs, Options(jobs=2), Table(sys.stderr))
    assert _failures(outcome) == {}
    assert len(outcome.results) == 2 * len(CATALOGUE)
    assert _deviations(outcome) == {SERVER: [], CLIENT: []}


def _fsm_tcp_programs(dialect: str) -> list[Program]:
    fsm = f"{sys.executable} -m fsm_tcp"
    return [
        Program(SERVER, f"{fsm} serve --port {{port}} --output {{out}} --once "
                f"--dialect {dialect}", "file"),
        Program(CLIENT, f"{fsm} send --dialect {dialect} 127.0.0.1 {{port}} {{file}}"),
    ]  # fmt: skip


#: Profiles whose deviations never show on the wire of these runs (four final ACKs; a
#: 48-byte read buffer): checked, they speak PROTOCOL.md.
UNSEEN = frozenset({"four-final-acks"})


def _right_deviations(outcome: Outcome, dialect: str) -> None:
    """Each deviation reported is one the profile makes (with its value), once per role;
    none for canonical."""
    profile = D.PROFILES[dialect]
    for role in outcome.roles.values():
        shown = [(d.variable, d.value) for d in role.deviations]
        assert len({v for v, _ in shown}) == len(shown), shown
        assert all(getattr(profile, v) == value for v, value in shown), (role.role, shown)
        assert all(getattr(D.CANONICAL, v) != value for v, value in shown), (role.role, shown)
        if dialect == "canonical":
            assert shown == []
        elif dialect not in UNSEEN:
            assert shown, role.role


@pytest.mark.check_matrix
@pytest.mark.timeout(900)
@pytest.mark.parametrize("dialect", sorted(D.PROFILES))
def test_fsm_tcp_in_every_dialect_passes_every_scenario_in_its_own_dialect(dialect: str) -> None:
    """fsm_tcp speaking each profile, checked the default way (the program's own dialect,
    fixed): every scenario passes, and the deviations are the profile's."""
    outcome = check(_fsm_tcp_programs(dialect), Options(jobs=2))
    assert _failures(outcome) == {}
    _right_deviations(outcome, dialect)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("dialect", ["own-isn-four-way"])
def test_fsm_tcp_in_a_dialect_passes_key_scenarios_in_its_own_dialect(dialect: str) -> None:
    """The default run's slice of the matrix above: the dialect that bends most, on the
    scenarios its deviations touch (handshake, length, close)."""
    only = ("lost-syn-ack", "lost-hs-ack", "lost-fin-ack", "lost-last-ack")
    outcome = check(_fsm_tcp_programs(dialect), Options(jobs=2, only=only))
    assert _failures(outcome) == {}
    _right_deviations(outcome, dialect)
    assert {"synack_seq"} <= {d.variable for d in outcome.roles[SERVER].deviations}
