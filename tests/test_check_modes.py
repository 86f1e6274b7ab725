"""fsm-tcp check (issue 15): the two questions apart, the exit statuses, a program with
which no conversation is possible, and the grader formats (JUnit XML read back with
junitparser, Gradescope's results.json checked field by field).

The mutants time out after 0.2 s, so the bounds are scaled down (SCALE).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from junitparser import Error, Failure, JUnitXml, Skipped

from fsm_tcp import dialects as D
from fsm_tcp.check import add_arguments, check, run
from fsm_tcp.check.catalogue import CATALOGUE
from fsm_tcp.check.deviations import deviations, fixed_dialect
from fsm_tcp.check.explain import first_unplaced
from fsm_tcp.check.formats import gradescope, junit, load_weights
from fsm_tcp.check.report import EXIT_DEVIATES, EXIT_FAILED, EXIT_OK, to_json, write_report
from fsm_tcp.check.runner import CLIENT, SERVER, Options, Outcome, Program, module_program
from fsm_tcp.errors import InvalidArgument
from fsm_tcp.proxy import Captured

HERE = Path(__file__).resolve().parent
MUTANTS = HERE / "check_mutants"
SCALE = 0.3
ONLY = ("lost-ack-data-last", "dup-data")


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="fsm-tcp check")
    add_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.fixture(scope="module")
def deviating_defect(tmp_path_factory: pytest.TempPathFactory) -> tuple[Outcome, dict[str, Any]]:
    """padded_no_reack_last: SEQ zero-padded (a deviation) and no re-ACK of the last data
    segment once the message is complete (a defect), in both roles, written as a report."""
    programs = [
        module_program(role, MUTANTS / "padded_no_reack_last.py", "SocketTCP")
        for role in (SERVER, CLIENT)
    ]
    outcome = check(programs, Options(jobs=2, timeout_scale=SCALE, only=ONLY))
    folder = tmp_path_factory.mktemp("report")
    write_report(folder, outcome, [p.label for p in programs])
    return outcome, to_json(outcome, [p.label for p in programs], folder)


# ---------------------------------------------------------------------- the two questions
@pytest.mark.timeout(120)
def test_a_deviation_is_reported_once_and_only_the_defect_fails(
    deviating_defect: tuple[Outcome, dict[str, Any]],
) -> None:
    outcome, record = deviating_defect
    for role in (SERVER, CLIENT):
        (deviation,) = outcome.roles[role].deviations  # once per role, not once per scenario
        assert deviation.variable == "seq_width" and deviation.value == 8
        assert deviation.statement.startswith("1: SEQ is a plain decimal number")
        assert "00000" in deviation.segment  # the segment that showed it
        assert "seq_width=8" in outcome.roles[role].peer  # spoken, fixed, in the faults
    failures = {
        (r.role, r.scenario.name): r.verdict for r in outcome.results if not r.verdict.passed
    }
    assert list(failures) == [(SERVER, "lost-ack-data-last")]
    verdict = failures[(SERVER, "lost-ack-data-last")]
    assert verdict.verdict == "HANG"
    assert verdict.explanation.startswith(
        "after the ACK of the last data segment was lost, the program left "
    )
    assert "repeats of the last data segment (SEQ" in verdict.explanation
    assert verdict.explanation.endswith("unanswered")
    # the report answers the first question before the second, and charts the explanation
    page = (Path(record["report"]) / "index.md").read_text()
    assert page.index("Does it speak PROTOCOL.md?") < page.index("Does it survive the faults?")
    assert page.count("seq_width: PROTOCOL.md") == 2  # once per role
    assert "Note over P0,P1: after the ACK of the last data segment was lost" in page
    assert record["exit_status"] == EXIT_FAILED and record["deviates"]


@pytest.mark.timeout(120)
def test_exit_status_tells_failures_deviations_and_accepted_deviations(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    module = str(MUTANTS / "length_ack_plus2.py")
    base = ("server", "--module", module, "--timeout-scale", str(SCALE), "--scenario")
    assert run(_args(*base, "len-3-digits")) == EXIT_DEVIATES
    accepted = ("--junit", str(tmp_path / "a.xml"), "--gradescope", str(tmp_path / "a.json"))
    assert run(_args(*base, "len-3-digits", "--accept-deviations", *accepted)) == EXIT_OK
    variant = json.loads((tmp_path / "a.json").read_text())["tests"][0]
    assert variant["name"] == f"{SERVER}: speaks PROTOCOL.md: length_ack"
    assert variant["status"] == "passed" and variant["output"].startswith("accepted variant:")
    xml = JUnitXml.fromfile(str(tmp_path / "a.xml"))
    assert all(case.is_passed for suite in xml for case in suite)
    out = capsys.readouterr().out
    assert "length_ack: PROTOCOL.md 3: the length segment's ACK is s+d" in out
    assert out.index("1 deviation from PROTOCOL.md") < out.index("len-3-digits")
    # today's strict checker, on request: the deviation fails the scenario too
    files = ("--junit", str(tmp_path / "j.xml"), "--gradescope", str(tmp_path / "results.json"))
    strict = _args(*base, "len-3-digits", "--peer-dialect", "canonical", "--json", *files)
    assert run(strict) == EXIT_FAILED
    doc = json.loads(capsys.readouterr().out)
    verdicts = {s["scenario"]: s["verdict"] for s in doc["scenarios"]}
    assert verdicts == {"no-faults": "PASS", "len-1-digit": "HANG", "len-3-digits": "HANG"}
    assert doc["roles"][SERVER]["peer"] == "canonical, fixed"
    assert [d["variable"] for d in doc["roles"][SERVER]["deviations"]] == ["length_ack"]
    # the command line writes both grader files from that record
    xml = JUnitXml.fromfile(str(tmp_path / "j.xml"))
    failed = [case.name for suite in xml for case in suite if case.result]
    assert failed == ["speaks PROTOCOL.md: length_ack", "len-1-digit", "len-3-digits"]
    results = json.loads((tmp_path / "results.json").read_text())
    assert [t["name"] for t in results["tests"] if t["status"] == "failed"] == [
        f"{SERVER}: speaks PROTOCOL.md: length_ack",
        f"{SERVER}: len-1-digit (a 5-byte message (1-digit length))",
        f"{SERVER}: len-3-digits (a 150-byte message (3-digit length))",
    ]
    strict.junit = str(tmp_path / "missing" / "j.xml")
    with pytest.raises(InvalidArgument, match="cannot write"):
        run(strict)


# ---------------------------------------------------------------------- no conversation
@pytest.mark.timeout(120)
def test_no_conversation_is_said_first_and_the_rest_is_not_run(tmp_path: Path) -> None:
    shutil.copy(HERE / "hostile" / "babble.py", tmp_path)
    program = Program(SERVER, "python3 babble.py {port}", "stdout", "babble", tmp_path)
    outcome = check([program], Options(timeout_scale=0.05, only=("lost-syn", "pipes")))
    said = outcome.roles[SERVER].no_conversation
    assert said.startswith("the no-fault run failed with fsm_tcp adapting and with fsm_tcp")
    assert "the program sent `hello?`, which is not a segment" in said
    verdicts = {r.scenario.name: r.verdict.verdict for r in outcome.results}
    assert verdicts == {
        "no-faults": "HANG",
        "len-1-digit": "NOT RUN",
        "lost-syn": "NOT RUN",
        "pipes": "NOT RUN",
    }
    record = to_json(outcome, ["babble"])
    suites = JUnitXml.fromstring(junit(record))
    cases = {case.name: case for suite in suites for case in suite}
    assert isinstance(cases["lost-syn"].result[0], Skipped)
    assert cases["a conversation"].classname == "server.protocol"
    assert isinstance(cases["a conversation"].result[0], Failure)


# ---------------------------------------------------------------------- grader formats
@pytest.mark.timeout(120)
def test_the_junit_file_reads_back_with_a_junit_parser(
    deviating_defect: tuple[Outcome, dict[str, Any]], tmp_path: Path
) -> None:
    _, record = deviating_defect
    path = tmp_path / "junit.xml"
    path.write_text(junit(record))
    xml = JUnitXml.fromfile(str(path))
    cases = [(case.classname, case.name, case) for suite in xml for case in suite]
    scenarios = {(c, n): case for c, n, case in cases if c in (SERVER, CLIENT)}
    assert set(scenarios) == {
        (role, name) for role in (SERVER, CLIENT) for name in ("no-faults", "len-1-digit", *ONLY)
    }
    hang = scenarios[(SERVER, "lost-ack-data-last")]
    (failure,) = hang.result
    assert isinstance(failure, Failure) and failure.type == "HANG"
    assert failure.message.startswith("after the ACK of the last data segment was lost")
    out = hang.system_out or ""
    assert (
        "HANG: no end within" in out and "pcap: " in out and "server-lost-ack-data-last.pcap" in out
    )
    assert Path(out.split("pcap: ", 1)[1].splitlines()[0]).is_file()
    assert scenarios[(CLIENT, "dup-data")].is_passed
    deviations = [case for c, _, case in cases if c.endswith(".protocol")]
    assert [d.name for d in deviations] == ["speaks PROTOCOL.md: seq_width"] * 2
    assert all(d.result[0].type == "DEVIATION" for d in deviations)
    suite = next(iter(xml))
    assert (suite.tests, suite.failures, suite.errors) == (len(cases), 3, 0)


def test_junit_maps_every_verdict_to_its_element() -> None:
    def scenario(verdict: str) -> dict[str, Any]:
        return {
            "role": SERVER, "scenario": verdict.lower().replace(" ", "-"), "title": "t",
            "requires": "r", "verdict": verdict, "detail": f"{verdict} detail",
            "explanation": "", "notes": [], "peer": "", "elapsed": 0.5, "stderr": "",
            "artefacts": {"page": "r/index.md#x"},
        }  # fmt: skip

    verdicts = ["PASS", "HANG", "CORRUPT", "SLOW", "CRASH", "NOT RUN", "SKIP"]
    record = {
        "roles": {SERVER: {"deviations": [], "no_conversation": ""}},
        "scenarios": [scenario(v) for v in verdicts],
    }
    suites = JUnitXml.fromstring(junit(record))
    got = {case.name: case.result for suite in suites for case in suite}
    assert got["pass"] == []
    for name in ("hang", "corrupt", "slow"):
        assert isinstance(got[name][0], Failure) and got[name][0].type == name.upper()
    assert isinstance(got["crash"][0], Error) and got["crash"][0].type == "CRASH"
    assert isinstance(got["not-run"][0], Skipped) and isinstance(got["skip"][0], Skipped)


#: Gradescope's documented fields of one test, with their types.
GRADESCOPE_TEST = {"name": str, "score": float, "max_score": float, "status": str, "output": str}


@pytest.mark.timeout(120)
def test_the_gradescope_file_has_its_documented_fields(
    deviating_defect: tuple[Outcome, dict[str, Any]], tmp_path: Path
) -> None:
    _, record = deviating_defect
    results = gradescope(record)
    assert set(results) >= {"score", "tests", "output"}
    for test in results["tests"]:
        for field, kind in GRADESCOPE_TEST.items():
            assert isinstance(test[field], kind), (field, test)
        assert test["status"] in ("passed", "failed")
        assert 0 <= test["score"] <= test["max_score"]
    assert results["score"] == sum(t["score"] for t in results["tests"])
    by_name = {t["name"]: t for t in results["tests"]}
    hang = by_name[f"{SERVER}: lost-ack-data-last (the ACK of the last data segment lost once)"]
    assert hang["status"] == "failed" and "the program left" in hang["output"]
    deviation = by_name[f"{SERVER}: speaks PROTOCOL.md: seq_width"]
    assert deviation["status"] == "failed" and "zero-padded to 8 digits" in deviation["output"]
    scenario_tests = [t for t in results["tests"] if "speaks PROTOCOL.md" not in t["name"]]
    assert {t["max_score"] for t in scenario_tests} == {1.0}  # equal points by default
    # weights: a scenario by name, by role/name, the deviations, and the default
    weights_file = tmp_path / "weights.json"
    weights_file.write_text(
        json.dumps({"*": 2, "lost-ack-data-last": 5, "client/dup-data": 3, "deviations": 4})
    )
    weighted = {t["name"]: t for t in gradescope(record, load_weights(str(weights_file)))["tests"]}
    assert weighted[hang["name"]]["max_score"] == 5.0
    assert weighted[f"{CLIENT}: dup-data (the second data segment duplicated)"]["max_score"] == 3.0
    assert weighted[f"{SERVER}: dup-data (the second data segment duplicated)"]["max_score"] == 2.0
    assert weighted[deviation["name"]]["max_score"] == 4.0
    weights_file.write_text('{"lost-syn": -1}')
    with pytest.raises(InvalidArgument, match="points >= 0"):
        load_weights(str(weights_file))


# ---------------------------------------------------------------------- pure pieces
def _captured(direction: str, data: bytes) -> Captured:
    return Captured(0.0, direction, ("127.0.0.1", 1), ("127.0.0.1", 2), data, "forwarded")


def test_the_first_unplaced_segment_is_named_with_what_protocol_md_expected() -> None:
    message = bytes(50)
    own_isn = [_captured("c2s", b"1|||0|||0|||42|||"), _captured("s2c", b"1|||1|||0|||7|||")]
    assert first_unplaced(own_isn, SERVER, message) == (
        "the first segment fsm_tcp could not place: `1|||1|||0|||7|||` from the program; "
        "PROTOCOL.md expected the SYN-ACK with SEQ x+1, `1|||1|||0|||43|||`"
    )
    # a client that skips the length segment; its repeated SYN is placed as a copy
    client = [
        _captured("c2s", b"1|||0|||0|||5|||"),
        _captured("c2s", b"1|||0|||0|||5|||"),
        _captured("s2c", b"1|||1|||0|||6|||"),
        _captured("c2s", b"0|||1|||0|||7|||"),
        _captured("c2s", b"0|||0|||0|||7|||" + message[:16]),
    ]
    said = first_unplaced(client, CLIENT, message)
    assert said.startswith("the first segment fsm_tcp could not place: `0|||0|||0|||7|||")
    assert said.endswith("PROTOCOL.md expected the length segment at x+2, `0|||0|||0|||7|||50`")
    assert first_unplaced(client[:4], CLIENT, message).startswith(
        "every segment the program sent fits PROTOCOL.md, but after `0|||1|||0|||7|||`"
    )
    assert first_unplaced(own_isn[:1], SERVER, message) == (
        "the program sent nothing (no answer to the SYN)"
    )
    assert "not a segment" in first_unplaced([_captured("c2s", b"hi")], CLIENT, message)


def test_a_fixed_dialect_takes_what_was_shown_and_inferences_only_on_request() -> None:
    shown = D.Finding("synack_seq", "own", "client+1", "b'1|||1|||0|||7|||'")
    guess = D.Finding("handshake_ack_offset", 1, 2, "synack_seq='own'", inferred=True)
    hint = D.Finding("handshake_ack_to", "listener", "connection", "x (a hint)", True, hint=True)
    assert fixed_dialect([shown, guess]).handshake_ack_offset == 2
    assert fixed_dialect([shown, guess], inferred=True).handshake_ack_offset == 1
    assert fixed_dialect([hint]).handshake_ack_to == "listener"  # the peer's answer showed it
    assert [d.variable for d in deviations([shown, guess, hint, shown])] == ["synack_seq"]
    assert fixed_dialect([]) == dataclasses.replace(
        D.CANONICAL, name="program", summary="PROTOCOL.md exactly"
    )


def test_an_own_isn_server_landing_on_an_offset_by_chance_is_no_offset_finding() -> None:
    """CI's failure of 2026-12-05: one scenario's own ISN fell on x+0; the other runs showed
    the server's own number, which explains any SYN-ACK number."""
    own = D.Finding("synack_seq", "own", "client", "b'1|||1|||0|||57|||'")
    chance = D.Finding("synack_offset", 0, 1, "b'1|||1|||0|||42|||'")
    assert [d.variable for d in deviations([chance, own])] == ["synack_seq"]
    assert fixed_dialect([chance, own]).synack_offset == 1
    assert [d.variable for d in deviations([chance])] == ["synack_offset"]  # alone: shown


@pytest.mark.timeout(60)
def test_the_time_budget_leaves_the_rest_not_run() -> None:
    program = module_program(SERVER, MUTANTS / "no_reack_last.py", "SocketTCP")
    outcome = check([program], Options(timeout_scale=SCALE, budget=1.0))
    not_run = [r for r in outcome.results if r.verdict.verdict == "NOT RUN"]
    assert not_run and all("time budget (1 s) was spent" in r.verdict.detail for r in not_run)
    assert len(outcome.results) == len(CATALOGUE)
