"""Runs the catalogue against a program: one child process per scenario, fsm_tcp's own
SocketTCP at the other end (in a thread), the scripted fault proxy between them.

The program under test is addressed through placeholders: {port} (the server's port, or the
proxy's for a client under test), {file} (the message to send), {out} (where a server
writes what it received). --module builds that command itself, around driver.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..proxy import Captured, FaultProxy, Faults
from ..schedule import parse_schedule
from ..socket_tcp import SocketTCP
from . import driver as driver_module
from .catalogue import CATALOGUE, Scenario
from .verdicts import BASELINE_BOUND, Bounds, Facts, Verdict, decide, last_lines

SERVER, CLIENT = "server", "client"
DRIVER = Path(driver_module.__file__).resolve()
#: How long a server under test may take to bind its port (times --timeout-scale).
STARTUP = 10.0
#: After the program ends, how long fsm_tcp's end may still take to finish its close.
PEER_GRACE = 5.0


@dataclass(frozen=True)
class Program:
    """The program under test in one role."""

    role: str  # what the program is: SERVER or CLIENT
    command: str | list[str]  # a shell command, or argv; placeholders {port} {file} {out} {meta}
    collect: str = "stdout"  # SERVER role: where the received message is, "stdout" or "file"
    label: str = ""

    @property
    def fixed_port(self) -> bool:
        text = self.command if isinstance(self.command, str) else " ".join(self.command)
        return "{port}" not in text


def module_program(role: str, module: Path, class_name: str) -> Program:
    head = [sys.executable, "-P", str(DRIVER), role, str(module.resolve()), class_name, "{port}"]
    tail = ["{out}", "{length}", "{meta}"] if role == SERVER else ["{file}", "{meta}"]
    return Program(role, head + tail, "file", f"{module.name}:{class_name} as {role}")


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
    #: The dialect fsm_tcp's end speaks in the fault scenarios: PROTOCOL.md by default, so
    #: a program is checked against the course's statement. The no-fault run always uses
    #: "auto", which adapts and reports how the program bends the protocol.
    peer_dialect: str = "canonical"


@dataclass
class Result:
    role: str
    scenario: Scenario
    verdict: Verdict
    facts: Facts
    capture: list[Captured] = field(default_factory=list)
    dialect: list[str] = field(default_factory=list)
    api: str = ""  # "bytes" or "str" (module mode), "" when unknown


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
@dataclass
class _Child:
    proc: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path
    started: float

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)

    def wait(self, until: float) -> bool:
        """True when the program ended before ``until`` (monotonic)."""
        try:
            self.proc.wait(max(0.0, until - time.monotonic()))
        except subprocess.TimeoutExpired:
            return False
        return True


def _spawn(command: str | list[str], values: dict[str, str], work: Path) -> _Child:
    if isinstance(command, str):
        quoted = {k: shlex.quote(v) for k, v in values.items()}
        args: str | list[str] = command.format_map(_Keep(quoted))
    else:
        args = [part.format_map(_Keep(values)) for part in command]
    out, err = work / "stdout", work / "stderr"
    with out.open("wb") as fout, err.open("wb") as ferr:
        proc = subprocess.Popen(
            args,
            shell=isinstance(args, str),
            stdin=subprocess.DEVNULL,
            stdout=fout,
            stderr=ferr,
            start_new_session=True,  # its own process group: killed whole, children included
        )
    return _Child(proc, out, err, time.monotonic())


class _Keep(dict[str, str]):
    """str.format_map that leaves unknown braces alone (a shell command may hold some)."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


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


class Runner:
    def __init__(self, options: Options) -> None:
        self.options = options
        self._loop = _Loop()
        self._baseline: dict[str, float | None] = {}
        self._api: dict[str, str] = {}

    def close(self) -> None:
        self._loop.close()

    def bounds(self, role: str) -> Bounds:
        return Bounds.from_baseline(self._baseline.get(role), self.options.timeout_scale)

    # ------------------------------------------------------------------ the catalogue
    def run_all(
        self, programs: Sequence[Program], report: Callable[[Result, int, int], None]
    ) -> list[Result]:
        todo = [
            (p, s)
            for p in programs
            for s in CATALOGUE
            if not self.options.only or s.name in self.options.only or s.baseline
        ]
        total, done = len(todo), 0
        results: list[Result] = []
        lock = threading.Lock()

        def one(item: tuple[Program, Scenario]) -> Result:
            nonlocal done
            result = self.run_one(*item)
            with lock:
                done += 1
                results.append(result)
                report(result, done, total)
            return result

        first = [item for item in todo if item[1].baseline]
        rest = [item for item in todo if not item[1].baseline]
        jobs = 1 if any(p.fixed_port for p in programs) else max(1, self.options.jobs)
        with ThreadPoolExecutor(jobs) as pool:
            list(pool.map(one, first))  # the time bounds come from these
            list(pool.map(one, rest))
        return results

    def run_one(self, program: Program, scenario: Scenario) -> Result:
        if scenario.needs_bytes and (self.options.text_only or "str" in self._api.values()):
            why = "skipped: the program carries text only" + (
                " (its class takes or returns str)" if "str" in self._api.values() else ""
            )
            facts = Facts(scenario.message, None, 0.0, False, 0, skipped=why)
            return Result(program.role, scenario, decide(facts, self.bounds(program.role)), facts)
        with tempfile.TemporaryDirectory(prefix="fsm-tcp-check-") as tmp:
            result = self._run_in(Path(tmp), program, scenario)
        if scenario.baseline:
            ok = result.verdict.passed
            self._baseline[program.role] = result.facts.elapsed if ok else None
        if result.api:
            self._api[program.role] = result.api
        return result

    def _run_in(self, work: Path, program: Program, scenario: Scenario) -> Result:
        bound = (
            BASELINE_BOUND * self.options.timeout_scale
            if scenario.baseline
            else self.bounds(program.role).hang
        )
        message_file = work / "message"
        message_file.write_bytes(scenario.message)
        values = {
            "file": str(message_file),
            "out": str(work / "out"),
            "meta": str(work / "meta.json"),
            "length": str(len(scenario.message)),
        }
        proxy = FaultProxy(
            ("127.0.0.1", 0),
            ("127.0.0.1", 0),  # set below, once fsm_tcp's server or the program listens
            Faults(loss=scenario.loss, dup=0.0),
            seed=scenario.seed,
            schedule=parse_schedule(scenario.schedule),
            record=True,
        )
        if program.role == SERVER:
            facts, dialect = self._against_server(program, scenario, proxy, values, work, bound)
        else:
            facts, dialect = self._against_client(program, scenario, proxy, values, work, bound)
        verdict = decide(
            facts, self.bounds(program.role) if not scenario.baseline else Bounds(bound, bound)
        )
        for scheduler in proxy.schedulers[:1]:
            verdict.notes += [f"rule {r} never met its segment" for r in scheduler.unfired()]
        api = _read_api(work / "meta.json")
        if api == "str":
            verdict.notes.append("the class takes or returns str: it cannot carry arbitrary bytes")
        return Result(program.role, scenario, verdict, facts, proxy.capture, dialect, api)

    # ------------------------------------------------------------------ program = server
    def _against_server(
        self,
        program: Program,
        scenario: Scenario,
        proxy: FaultProxy,
        values: dict[str, str],
        work: Path,
        bound: float,
    ) -> tuple[Facts, list[str]]:
        port = free_port()
        values["port"] = str(port)
        child = _spawn(program.command, values, work)
        try:
            if not self._wait_bound(child, port):
                return self._facts(scenario, child, None, bound, "never bound its port"), []
            proxy.target = ("127.0.0.1", port)
            address = self._loop.start(proxy)
            client = SocketTCP(name="fsm_tcp", **self._peer(scenario))

            def talk() -> None:
                client.connect(address)
                client.send(scenario.message)
                peer.stage = "close"  # from here on our end may linger by protocol
                client.close()

            peer = _Peer(talk)
            peer.start()
            ended = child.wait(child.started + bound)
            received = self._collect(program, work)
            facts = self._facts(scenario, child, received, bound, self._join(peer, ended), ended)
            return facts, _dialect(client)
        finally:
            child.kill()
            with contextlib.suppress(Exception):
                self._loop.stop(proxy)

    def _peer(self, scenario: Scenario) -> dict[str, Any]:
        """fsm_tcp's end: auto in the no-fault run (it detects the dialect), else strict."""
        dialect = "auto" if scenario.baseline else self.options.peer_dialect
        return {"dialect": dialect, **self.options.peer}

    def _wait_bound(self, child: _Child, port: int) -> bool:
        until = time.monotonic() + STARTUP * self.options.timeout_scale
        while time.monotonic() < until:
            if udp_bound(port):
                return True
            if child.proc.poll() is not None:
                return False
            time.sleep(0.01)
        return False

    def _collect(self, program: Program, work: Path) -> bytes | None:
        path = work / "out" if program.collect == "file" else work / "stdout"
        try:
            return path.read_bytes()
        except OSError:
            return None

    def _join(self, peer: _Peer, ended: bool) -> str:
        """fsm_tcp's end, given a grace period once the program ended: its error, if any."""
        if not ended:
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
        work: Path,
        bound: float,
    ) -> tuple[Facts, list[str]]:
        server = SocketTCP(name="fsm_tcp", **self._peer(scenario))
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
        child = _spawn(program.command, values, work)
        try:
            ended = child.wait(child.started + bound)
            error = self._join(peer, ended)
            received = peer.result
            facts = self._facts(scenario, child, received, bound, error, ended)
            return facts, _dialect(accepted[0] if accepted else server)
        finally:
            child.kill()
            server.close()  # also wakes an accept() that no client ever reached
            with contextlib.suppress(Exception):
                self._loop.stop(proxy)

    # ------------------------------------------------------------------ facts
    def _facts(
        self,
        scenario: Scenario,
        child: _Child,
        received: bytes | None,
        bound: float,
        peer_error: str,
        ended: bool = True,
    ) -> Facts:
        elapsed = time.monotonic() - child.started
        status = child.proc.poll()
        if (
            received is not None
            and received.endswith(b"\n")
            and not scenario.message.endswith(b"\n")
        ):
            received = received[:-1]  # print() adds one newline; the message had none
        try:
            stderr = child.stderr.read_text(errors="replace")
        except OSError:
            stderr = ""
        return Facts(
            scenario.message,
            received,
            min(elapsed, bound),
            timed_out=not ended,
            exit_status=status if ended else None,
            stderr=last_lines(stderr, 20),
            peer_error=peer_error,
        )


def _dialect(sock: SocketTCP) -> list[str]:
    """The dialect fsm_tcp's end saw the program speak, once SocketTCP reports it."""
    lines = []
    findings: Any = getattr(sock, "dialect_findings", None)
    if findings is None:  # until SocketTCP exposes it, its engine connection has it
        findings = getattr(sock.conn, "dialect_findings", [])
    for f in findings() if callable(findings) else findings:
        variable = getattr(f, "variable", "?")
        value, canonical = getattr(f, "value", "?"), getattr(f, "canonical", "?")
        segment = getattr(f, "segment", "")
        how = "inferred from" if getattr(f, "inferred", False) else "seen in"
        lines.append(f"{variable}={value} (PROTOCOL.md: {canonical}; {how} {segment})")
    return lines


def _read_api(path: Path) -> str:
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError):
        return ""
    api = meta.get("api", "") if isinstance(meta, dict) else ""
    return str(api)
