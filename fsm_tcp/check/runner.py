"""Runs the catalogue against a program: one child process per scenario, fsm_tcp's own
SocketTCP at the other end (in a thread), the scripted fault proxy between them.

The program under test is addressed through placeholders: {port} (the server's port, or the
proxy's for a client under test), {file} (the message to send), {out} (where a server
writes what it received). --module builds that command itself, around driver.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import math
import shlex
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import dialects as D
from ..proxy import Captured, FaultProxy, Faults
from ..schedule import parse_schedule
from ..socket_tcp import SocketTCP
from . import driver as driver_module
from .catalogue import CATALOGUE, Scenario
from .deviations import Deviation, deviations, fixed_dialect
from .explain import explain, first_unplaced
from .sandbox import Group, Limits, copy_submission
from .verdicts import BASELINE_BOUND, Bounds, Facts, Verdict, decide, last_lines

SERVER, CLIENT = "server", "client"
DRIVER = Path(driver_module.__file__).resolve()
#: How long a server under test may take to bind its port (times --timeout-scale).
STARTUP = 10.0
#: After the program ends, how long fsm_tcp's end may still take to finish its close.
PEER_GRACE = 5.0
#: What fsm_tcp's end speaks in the fault scenarios: the program's own dialect as the
#: discovery runs found it, fixed (the default); or a name of fsm_tcp.dialects.names().
PROGRAM = "program"
#: The whole check's default time budget in seconds: scenarios not started by then are
#: NOT RUN, so a program that hangs everywhere still ends in about three minutes.
BUDGET = 180.0
#: The bound of a confirmation run (the no-fault run with the dialect as found): this many
#: times T0, plus this many seconds.
CONFIRM_FACTOR, CONFIRM_SLACK = 3.0, 2.0


@dataclass(frozen=True)
class Program:
    """The program under test in one role."""

    role: str  # what the program is: SERVER or CLIENT
    command: str | list[str]  # a shell command, or argv; placeholders {port} {file} {out} {meta}
    collect: str = "stdout"  # SERVER role: where the received message is, "stdout" or "file"
    label: str = ""
    #: A folder copied into each scenario's scratch folder, the program's working directory
    #: ({module} names the module file within the copy); None: an empty scratch folder.
    source: Path | None = None
    module: str = ""  # the module file's name in ``source`` (--module)

    @property
    def fixed_port(self) -> bool:
        text = self.command if isinstance(self.command, str) else " ".join(self.command)
        return "{port}" not in text


def module_program(role: str, module: Path, class_name: str) -> Program:
    """The class in ``module``, driven by driver.py under ``python -I`` (no environment, no
    user site, not its own folder on sys.path: the driver puts the module's copy there)."""
    head = [sys.executable, "-I", str(DRIVER), role, "{module}", class_name, "{port}"]
    tail = ["{out}", "{length}", "{meta}"] if role == SERVER else ["{file}", "{meta}"]
    label = f"{module.name}:{class_name} as {role}"
    source = module.resolve().parent
    return Program(role, head + tail, "file", label, source, module.name)


@dataclass
class Options:
    jobs: int = 2
    timeout_scale: float = 1.0
    text_only: bool = False  # skip scenarios that need arbitrary bytes
    only: Sequence[str] = ()  # scenario names; empty: all
    #: SocketTCP options for fsm_tcp's end. The RTO floor keeps our end from retransmitting
    #: spuriously when a program answers late (a Python process may take milliseconds), so
    #: each scenario injects exactly the faults it names.
    peer: dict[str, Any] = field(default_factory=lambda: {"min_rto": 0.05})
    #: What fsm_tcp's end speaks in the fault scenarios (PROGRAM, or a dialect name).
    peer_dialect: str = PROGRAM
    budget: float = BUDGET  # seconds for the whole check
    limits: Limits = field(default_factory=Limits)


@dataclass
class Result:
    role: str
    scenario: Scenario
    verdict: Verdict
    facts: Facts
    capture: list[Captured] = field(default_factory=list)
    findings: list[D.Finding] = field(default_factory=list)
    api: str = ""  # "bytes" or "str" (module mode), "" when unknown
    peer: str = ""  # what fsm_tcp's end spoke in this run


@dataclass
class RoleReport:
    """Per role: does the program speak PROTOCOL.md, and what fsm_tcp spoke to it."""

    role: str
    label: str
    deviations: list[Deviation] = field(default_factory=list)
    peer: str = ""  # what fsm_tcp spoke in the fault scenarios
    dialect: D.Dialect | None = None  # the program's dialect, fixed (PROGRAM mode)
    no_conversation: str = ""  # why the scenarios needing a conversation were NOT RUN
    canonical: Result | None = None  # the no-fault run again, fsm_tcp strictly canonical
    #: The no-fault run once more, with fsm_tcp speaking ``dialect`` fixed: proof that the
    #: dialect as found holds a conversation (else the note says so).
    confirmation: Result | None = None
    note: str = ""


@dataclass
class Outcome:
    """A whole check: every scenario's result, and what each role speaks."""

    results: list[Result]
    roles: dict[str, RoleReport]


# ---------------------------------------------------------------------- the proxy's loop
class _Loop:
    """One event loop thread that runs every scenario's proxy."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def start(self, proxy: FaultProxy) -> tuple[str, int]:
        address = asyncio.run_coroutine_threadsafe(proxy.start(), self.loop).result(10)
        return address[0], address[1]

    def stop(self, proxy: FaultProxy) -> None:
        async def close() -> None:
            proxy.close()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


# ---------------------------------------------------------------------- ports
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def udp_bound(port: int) -> bool:
    """Whether some socket is bound to this UDP port (read from /proc, so no probe bind can
    steal the port from the program; elsewhere, a probe bind)."""
    try:
        lines = Path("/proc/net/udp").read_text().splitlines()[1:]
    except OSError:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return True
            return False
    want = f":{port:04X}"
    return any(line.split()[1].endswith(want) for line in lines if len(line.split()) > 1)


# ---------------------------------------------------------------------- one scenario
class _Keep(dict[str, str]):
    """str.format_map that leaves unknown braces alone (a shell command may hold some)."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _command(command: str | list[str], values: dict[str, str]) -> str | list[str]:
    if isinstance(command, str):
        return command.format_map(_Keep({k: shlex.quote(v) for k, v in values.items()}))
    return [part.format_map(_Keep(values)) for part in command]


class _Live:
    """The programs running now, so that an interrupted check kills every one of them."""

    def __init__(self) -> None:
        self.groups: set[Group] = set()
        self.lock = threading.Lock()
        self.cancelled = False

    def add(self, group: Group) -> Group:
        with self.lock:
            self.groups.add(group)
            cancelled = self.cancelled
        if cancelled:  # started while the check was being stopped
            group.kill()
        return group

    def done(self, group: Group) -> None:
        group.kill()
        with self.lock:
            self.groups.discard(group)

    def cancel(self) -> None:
        with self.lock:
            self.cancelled = True
            groups = list(self.groups)
        for group in groups:
            group.kill()


@dataclass(frozen=True)
class _Where:
    """Where one scenario's program runs, and under which limits."""

    work: Path  # its stdout, stderr, {out}, {file}
    cwd: Path  # its working directory (a copy of its folder, or an empty one)
    home: Path
    limits: Limits
    live: _Live

    def spawn(self, command: str | list[str]) -> Group:
        return self.live.add(Group(command, self.work, self.cwd, self.home, self.limits))


class _Peer(threading.Thread):
    """fsm_tcp's end of the conversation, in a thread; keeps its result or error."""

    def __init__(self, target: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self._fn = target
        self.result: Any = None
        self.error = ""
        self.stage = "talk"  # "close" once the message is through

    def run(self) -> None:
        try:
            self.result = self._fn()
        except Exception as exc:  # reported in the verdict, never raised
            self.error = f"{type(exc).__name__}: {exc}"


def _describe_peer(dialect: str | D.Dialect) -> str:
    if isinstance(dialect, D.Dialect):
        bent = D.deviations(dialect)
        return f"the program's own dialect, fixed ({bent or 'as PROTOCOL.md'})"
    if dialect == D.AUTO:
        return "auto (adapting to the program)"
    return f"{dialect}, fixed"


class Runner:
    def __init__(
        self, options: Options, announce: Callable[[RoleReport], None] | None = None
    ) -> None:
        self.options = options
        #: Told what each role speaks once the discovery runs are done, before the scenarios.
        self.announce = announce
        self._loop = _Loop()
        self._baseline: dict[str, float | None] = {}
        self._api: dict[str, str] = {}
        self._deadline = math.inf
        self._live = _Live()
        self._findings: dict[str, list[D.Finding]] = {}
        self.roles: dict[str, RoleReport] = {}

    def close(self) -> None:
        self._loop.close()

    def bounds(self, role: str) -> Bounds:
        return Bounds.from_baseline(self._baseline.get(role), self.options.timeout_scale)

    # ------------------------------------------------------------------ the catalogue
    def run_all(
        self, programs: Sequence[Program], report: Callable[[Result, int, int], None]
    ) -> Outcome:
        """Discovery first (fsm_tcp adapting: the program's dialect), then every fault
        scenario with fsm_tcp speaking what was found, fixed."""
        self._deadline = time.monotonic() + self.options.budget
        only = self.options.only
        chosen = [s for s in CATALOGUE if not only or s.name in only or s.discovery]
        own = self.options.peer_dialect == PROGRAM
        # the other fault-free runs (len-1-digit) find what the no-fault run cannot see; in
        # the other modes they run once more as scenarios, with fsm_tcp speaking that mode
        later = [s for s in chosen if s.discovery and not s.baseline]
        rest = [s for s in chosen if not s.discovery or (not s.baseline and not own)]
        total, done = len(programs) * len(chosen), 0
        results: list[Result] = []
        found: list[Result] = []  # discovery runs that are not scenario results
        lock = threading.Lock()
        for p in programs:
            self.roles[p.role] = RoleReport(p.role, p.label)

        def one(item: tuple[Program, Scenario, str | D.Dialect]) -> Result:
            nonlocal done
            result = self.run_one(*item)
            with lock:
                if item[2] == D.AUTO and not own and not item[1].baseline:
                    found.append(result)  # its scenario runs later, in the mode asked for
                    return result
                done += 1
                results.append(result)
                report(result, done, total)
            return result

        jobs = 1 if any(p.fixed_port for p in programs) else max(1, self.options.jobs)
        with ThreadPoolExecutor(jobs) as pool:
            try:
                base = [s for s in chosen if s.baseline]
                self._run_phases(pool, programs, (base, later, rest), one, (results, found))
            except BaseException:  # Ctrl-C: nothing more starts, every program is killed
                self._live.cancel()
                pool.shutdown(wait=False, cancel_futures=True)
                raise
        return Outcome(results, self.roles)

    def _run_phases(
        self,
        pool: ThreadPoolExecutor,
        programs: Sequence[Program],
        phases: tuple[Sequence[Scenario], Sequence[Scenario], Sequence[Scenario]],
        one: Callable[[tuple[Program, Scenario, str | D.Dialect]], Result],
        runs: tuple[list[Result], list[Result]],
    ) -> None:
        """The no-fault run (and its canonical fallback), the other discovery runs, the
        dialect settled and confirmed, then the scenarios. ``runs``: the results and the
        discovery-only runs, as they come in."""
        base, later, rest = phases
        list(pool.map(one, [(p, s, D.AUTO) for p in programs for s in base]))
        list(pool.map(self._fallback, programs))
        self._announce(p for p in programs if self.roles[p.role].no_conversation)
        list(pool.map(one, [(p, s, D.AUTO) for p in programs for s in later]))
        for p in programs:
            self._settle(p, [r for part in runs for r in part if r.role == p.role])
        list(pool.map(self._confirm, programs))
        self._announce(p for p in programs if not self.roles[p.role].no_conversation)
        list(pool.map(one, [(p, s, self._speak(p)) for p in programs for s in rest]))

    def _announce(self, programs: Iterable[Program]) -> None:
        for p in programs:
            if self.announce is not None:
                self.announce(self.roles[p.role])

    def _fallback(self, program: Program) -> None:
        """The no-fault run failed with fsm_tcp adapting: once more, strictly canonical.
        Both failed: no conversation is possible, and the reason comes first."""
        if self._baseline.get(program.role) is not None:
            return
        base = next(s for s in CATALOGUE if s.baseline)
        again = self.run_one(program, base, D.CANONICAL.name)
        role = self.roles[program.role]
        role.canonical = again
        if again.verdict.passed:
            return
        unplaced = first_unplaced(again.capture, program.role, base.message)
        role.no_conversation = (
            f"the no-fault run failed with fsm_tcp adapting and with fsm_tcp strictly "
            f"canonical ({again.verdict.verdict}: {again.verdict.detail}); {unplaced}"
        )

    def _settle(self, program: Program, found: Sequence[Result]) -> None:
        """What fsm_tcp speaks in the fault scenarios, from what the discovery runs found."""
        role = self.roles[program.role]
        findings = [f for r in found if r.scenario.discovery for f in r.findings]
        role.deviations = deviations(findings)
        if self.options.peer_dialect != PROGRAM:
            role.peer = _describe_peer(self.options.peer_dialect)
        elif role.canonical is not None and role.canonical.verdict.passed:
            role.dialect = D.CANONICAL  # only PROTOCOL.md held a conversation
            role.peer = _describe_peer(role.dialect)
        else:
            role.dialect = fixed_dialect(findings)
            role.peer = _describe_peer(role.dialect)
        self._findings[program.role] = findings

    def _confirm(self, program: Program) -> None:
        """The no-fault run with fsm_tcp speaking the dialect as found, fixed. What the
        program showed comes first; when that alone holds no conversation, the values auto
        inferred from the recorded profiles too (an own-ISN server never shows the
        handshake ACK number it wants)."""
        role = self.roles[program.role]
        if role.dialect is None or role.no_conversation or role.canonical is not None:
            return
        findings = self._findings.get(program.role, [])
        seen, every = fixed_dialect(findings), fixed_dialect(findings, inferred=True)
        base = next(s for s in CATALOGUE if s.baseline)
        for candidate in [seen] if seen == every else [seen, every]:
            result = self.run_one(program, base, candidate, self._confirm_bound(program.role))
            role.confirmation = result
            if result.verdict.passed:
                role.dialect, role.peer = candidate, _describe_peer(candidate)
                return
        role.note = (
            f"the no-fault run failed with fsm_tcp speaking the dialect as found, fixed "
            f"({role.confirmation.verdict.verdict if role.confirmation else '?'}): the "
            f"fault scenarios may fail for that reason too"
        )

    def _speak(self, program: Program) -> str | D.Dialect:
        role = self.roles[program.role]
        return role.dialect if role.dialect is not None else self.options.peer_dialect

    def _confirm_bound(self, role: str) -> float:
        """A no-fault run again takes about T0: a dialect that needs much longer is not the
        program's (a wrong guess would otherwise cost a whole HANG bound)."""
        t0 = self._baseline.get(role) or BASELINE_BOUND / CONFIRM_FACTOR
        return self.options.timeout_scale * (CONFIRM_FACTOR * t0 + CONFIRM_SLACK)

    def run_one(
        self,
        program: Program,
        scenario: Scenario,
        speak: str | D.Dialect,
        bound: float | None = None,
    ) -> Result:
        role = self.roles.get(program.role)
        if role is not None and role.no_conversation and not scenario.baseline:
            why = "no conversation with the program was possible (see above)"
            return self._not_run(program, scenario, why)
        if self._live.cancelled:
            return self._not_run(program, scenario, "the check was interrupted")
        left = self._deadline - time.monotonic()
        if left <= 0:
            why = f"the check's time budget ({self.options.budget:.0f} s) was spent"
            return self._not_run(program, scenario, why)
        if scenario.needs_bytes and (self.options.text_only or "str" in self._api.values()):
            why = "skipped: the program carries text only" + (
                " (its class takes or returns str)" if "str" in self._api.values() else ""
            )
            facts = Facts(scenario.message, None, 0.0, False, 0, skipped=why)
            return Result(program.role, scenario, decide(facts, self.bounds(program.role)), facts)
        with tempfile.TemporaryDirectory(prefix="fsm-tcp-check-") as tmp:
            result = self._run_in(Path(tmp), program, scenario, speak, left, bound)
        if self._live.cancelled:  # killed by the interruption, not by its own doing
            return self._not_run(program, scenario, "the check was interrupted")
        if scenario.baseline and result.verdict.passed:
            self._baseline[program.role] = result.facts.elapsed  # auto, or the fallback
        if result.api:
            self._api[program.role] = result.api
        return result

    def _not_run(self, program: Program, scenario: Scenario, why: str) -> Result:
        facts = Facts(scenario.message, None, 0.0, False, None, not_run=why)
        return Result(program.role, scenario, decide(facts, self.bounds(program.role)), facts)

    def _run_in(
        self,
        work: Path,
        program: Program,
        scenario: Scenario,
        speak: str | D.Dialect,
        left: float,
        bound_given: float | None = None,
    ) -> Result:
        scale = self.options.timeout_scale
        full = bound_given or self.bounds(program.role).hang  # T0 unknown: BASELINE_BOUND
        bound = min(full, left + 10.0 * scale)  # the budget's last scenario may not overrun
        home = work / "home"
        home.mkdir()
        message_file = work / "message"
        message_file.write_bytes(scenario.message)
        values = {
            "file": str(message_file),
            "out": str(work / "out"),
            "meta": str(work / "meta.json"),
            "length": str(len(scenario.message)),
        }
        cwd = home
        if program.source is not None:
            cwd = copy_submission(program.source, home / "submission")
            values["module"] = str(cwd / program.module) if program.module else str(cwd)
        proxy = FaultProxy(
            ("127.0.0.1", 0),
            ("127.0.0.1", 0),  # set below, once fsm_tcp's server or the program listens
            Faults(loss=scenario.loss, dup=0.0),
            seed=scenario.seed,
            schedule=parse_schedule(scenario.schedule),
            record=True,
        )
        limits = dataclasses.replace(self.options.limits, cpu_seconds=math.ceil(bound) + 5)
        talk = self._against_server if program.role == SERVER else self._against_client
        where = _Where(work, cwd, home, limits, self._live)
        facts, findings = talk(program, scenario, proxy, values, where, bound, speak)
        if facts.timed_out and bound < full:
            facts = dataclasses.replace(
                facts, not_run=f"the check's time budget ({self.options.budget:.0f} s) was spent"
            )
        bounds = self.bounds(program.role) if not scenario.baseline else Bounds(bound, bound)
        verdict = decide(facts, bounds)
        for scheduler in proxy.schedulers[:1]:
            verdict.notes += [f"rule {r} never met its segment" for r in scheduler.unfired()]
        api = _read_api(work / "meta.json")
        if api == "str":
            verdict.notes.append("the class takes or returns str: it cannot carry arbitrary bytes")
        capture = list(proxy.capture)
        verdict.explanation = explain(
            scenario, verdict.verdict, verdict.detail, capture, program.role
        )
        peer = _describe_peer(speak)
        return Result(program.role, scenario, verdict, facts, capture, findings, api, peer)

    def _peer_socket(self, speak: str | D.Dialect) -> SocketTCP:
        return SocketTCP(name="fsm_tcp", dialect=speak, **self.options.peer)

    # ------------------------------------------------------------------ program = server
    def _against_server(
        self,
        program: Program,
        scenario: Scenario,
        proxy: FaultProxy,
        values: dict[str, str],
        where: _Where,
        bound: float,
        speak: str | D.Dialect,
    ) -> tuple[Facts, list[D.Finding]]:
        port = free_port()
        values["port"] = str(port)
        child = where.spawn(_command(program.command, values))
        try:
            if not self._wait_bound(child, port):
                why = f"never bound its port within {STARTUP * self.options.timeout_scale:.1f} s"
                ended = child.poll() is not None
                return self._facts(scenario, child, None, bound, why, ended), []
            proxy.target = ("127.0.0.1", port)
            address = self._loop.start(proxy)
            client = self._peer_socket(speak)

            def talk() -> None:
                client.connect(address)
                client.send(scenario.message)
                peer.stage = "close"  # from here on our end may linger by protocol
                client.close()

            peer = _Peer(talk)
            peer.start()
            ended = child.wait(child.started + bound)
            received = self._collect(program, child, where.work)
            facts = self._facts(scenario, child, received, bound, self._join(peer, ended), ended)
            return facts, _findings(client)
        finally:
            self._live.done(child)
            with contextlib.suppress(Exception):
                self._loop.stop(proxy)

    def _wait_bound(self, child: Group, port: int) -> bool:
        until = time.monotonic() + STARTUP * self.options.timeout_scale
        while time.monotonic() < until:
            if udp_bound(port):
                return True
            if child.poll() is not None:
                return False
            time.sleep(0.01)
        return False

    def _collect(self, program: Program, child: Group, work: Path) -> bytes | None:
        return child.read(work / "out" if program.collect == "file" else child.stdout)

    def _join(self, peer: _Peer, ended: bool) -> str:
        """fsm_tcp's end, given a grace period once the program ended: its error, if any."""
        if not ended or self._live.cancelled:
            return peer.error
        peer.join(max(1.0, PEER_GRACE * self.options.timeout_scale))
        if peer.is_alive() and peer.stage != "close":
            return "still waiting for the program, which had ended"
        return peer.error

    # ------------------------------------------------------------------ program = client
    def _against_client(
        self,
        program: Program,
        scenario: Scenario,
        proxy: FaultProxy,
        values: dict[str, str],
        where: _Where,
        bound: float,
        speak: str | D.Dialect,
    ) -> tuple[Facts, list[D.Finding]]:
        server = self._peer_socket(speak)
        server.bind(("127.0.0.1", 0))
        proxy.target = server.getsockname()
        address = self._loop.start(proxy)
        accepted: list[SocketTCP] = []

        def serve() -> bytes | None:
            conn, _ = server.accept()
            accepted.append(conn)
            message = conn.recv_message()
            peer.result, peer.stage = message, "close"
            conn.recv_close()
            return message

        peer = _Peer(serve)
        peer.start()
        values["port"] = str(address[1])
        child = where.spawn(_command(program.command, values))
        try:
            ended = child.wait(child.started + bound)
            error = self._join(peer, ended)
            received = peer.result
            facts = self._facts(scenario, child, received, bound, error, ended)
            return facts, _findings(accepted[0] if accepted else server)
        finally:
            self._live.done(child)
            server.close()  # also wakes an accept() that no client ever reached
            with contextlib.suppress(Exception):
                self._loop.stop(proxy)

    # ------------------------------------------------------------------ facts
    def _facts(
        self,
        scenario: Scenario,
        child: Group,
        received: bytes | None,
        bound: float,
        peer_error: str,
        ended: bool = True,
    ) -> Facts:
        elapsed = time.monotonic() - child.started
        status = child.poll()
        if (
            received is not None
            and received.endswith(b"\n")
            and not scenario.message.endswith(b"\n")
        ):
            received = received[:-1]  # print() adds one newline; the message had none
        stderr = (child.read(child.stderr) or b"").decode(errors="replace")
        killed_for = ""
        if child.too_many:
            killed_for = (
                f"{child.too_many} processes in its group, above the bound of "
                f"{child.limits.processes}"
            )
        return Facts(
            scenario.message,
            received,
            min(elapsed, bound),
            timed_out=not ended,
            exit_status=status if ended else None,
            stderr=last_lines(stderr[-20000:], 20),
            peer_error=peer_error,
            killed_for=killed_for,
        )


def _findings(sock: SocketTCP) -> list[D.Finding]:
    """What fsm_tcp's end (auto) saw the program bend, and what it used on a hint (a
    hint is no deviation, but the fixed dialect the faults are run in must speak it)."""
    conn = sock.conn
    return [*conn.dialect_findings, *conn.dialect_hints] if conn is not None else []


def _read_api(path: Path) -> str:
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError):
        return ""
    api = meta.get("api", "") if isinstance(meta, dict) else ""
    return str(api)
