"""Benchmarks behind ``fsm-tcp bench``: ratios against baselines measured in the same run."""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import multiprocessing
import os
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TextIO, TypeVar

from .argtypes import at_least_one, non_negative
from .engine import Config
from .sim import DROP, Fault, run_lifecycle

_T = TypeVar("_T")


def random_loss(rate: float, rng: random.Random) -> Iterator[Fault]:
    """An endless schedule losing each datagram, either direction, with probability ``rate``."""
    drop, deliver = Fault(DROP), Fault()
    while True:
        yield drop if rng.random() < rate else deliver


@dataclass
class SimResult:
    lifecycles: int
    seconds: float
    failures: int

    @property
    def per_second(self) -> float:
        return self.lifecycles / self.seconds


def sim_lifecycles(
    duration: float = 2.0, loss: float = 0.2, size: int = 1024, seed: int = 1
) -> SimResult:
    """Simulated lifecycles per second: handshake, one message, teardown, under loss."""
    rng = random.Random(seed)
    message = bytes(rng.randrange(256) for _ in range(size))
    config = Config(max_retries=20)
    count = failures = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < duration or count == 0:
        out = run_lifecycle([message], random_loss(loss, rng), config=config, seed=count)
        failures += not out.complete
        count += 1
    return SimResult(count, elapsed, failures)


# ------------------------------------------------------------------ over real loopback UDP
def _payload(size: int, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(size)


def _fsm_receiver(conn: Any, loss: float, seed: int, busy_poll: float | None = None) -> None:
    """Child process: accept one connection, read one message, report its digest."""
    from .socket_tcp import SocketTCP

    server = SocketTCP(loss_rate=loss, seed=seed, busy_poll=busy_poll)
    server.bind(("127.0.0.1", 0))
    conn.send(server.getsockname())
    child, _ = server.accept()
    message = child.recv_message()
    child.recv_close()
    server.close()
    conn.send(hashlib.sha256(message or b"").hexdigest())


def _next_datagram(sock: Any, spin: bool, patience: float | None = None) -> bytes:
    """The baseline's wait: a blocking read, or a busy-polling one (as fsm_tcp's driver).

    A busy-polling wait raises TimeoutError after ``patience`` seconds, as the blocking
    sender's socket timeout does.
    """
    if not spin:
        data: bytes = sock.recv(65536)
        return data
    give_up = None if patience is None else time.perf_counter() + patience
    while True:
        try:
            data = sock.recv(65536)
            return data
        except BlockingIOError:
            if give_up is not None and time.perf_counter() > give_up:
                raise TimeoutError from None


def _baseline_receiver(conn: Any, size: int, spin: bool = False) -> None:
    """Child process: the plain stop-and-wait receiver."""
    import socket

    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    conn.send(rx.getsockname())
    data, addr = rx.recvfrom(65536)
    rx.setblocking(not spin)
    received = bytearray()
    expected = 0
    while True:
        seq, _, chunk = data.partition(b"|")
        if int(seq) == expected:
            received.extend(chunk)
            expected += len(chunk)
        rx.sendto(b"%d" % expected, addr)
        if len(received) >= size:
            break
        data = _next_datagram(rx, spin)
    rx.close()
    conn.send(hashlib.sha256(received).hexdigest())


def _await_report(here: Any, proc: Any, seconds: float, what: str) -> Any:
    """The peer's next report, failing fast (not after ``seconds``) if the peer died."""
    deadline = time.monotonic() + seconds
    while not here.poll(0.05):
        if not proc.is_alive() and not here.poll():
            raise RuntimeError(f"benchmark peer exited with code {proc.exitcode} before {what}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"benchmark peer did not report {what} within {seconds:.0f} s")
    return here.recv()


def _with_peer(
    target: Callable[..., None],
    args: tuple[Any, ...],
    run: Callable[[Any], _T],
    patience: float = 60.0,
) -> tuple[_T, Any]:
    """Start ``target(pipe, *args)`` in its own process (as a real peer is), call ``run`` here
    with the first thing it reports (its address), and return what ``run`` returned with the
    peer's second report (a digest or a count). The peer never outlives the call."""
    ctx = multiprocessing.get_context("spawn")
    here, there = ctx.Pipe()
    proc = ctx.Process(target=target, args=(there, *args), daemon=True)
    proc.start()
    finished = False
    try:
        result = run(_await_report(here, proc, 30.0, "its address"))
        report = _await_report(here, proc, patience, "its result")
        finished = True
        return result, report
    finally:
        proc.join(10.0 if finished else 1.0)  # a failed run leaves the peer waiting: end it
        if proc.is_alive():
            proc.kill()
            proc.join()


def _in_peer_process(
    target: Callable[..., None],
    args: tuple[Any, ...],
    send: Callable[[tuple[str, int]], float],
    message: bytes,
) -> float:
    """Run the receiver in its own process (as a real peer is), time the sender here."""
    elapsed, digest = _with_peer(target, args, send)
    if digest != hashlib.sha256(message).hexdigest():
        raise RuntimeError("benchmark transfer was not byte-exact")
    return elapsed


def fsm_transfer(
    message: bytes, loss: float = 0.0, seed: int = 1, busy_poll: float | None = None
) -> float:
    """Seconds for SocketTCP.send() of ``message`` to a SocketTCP receiver in another process.

    ``busy_poll`` applies to both ends (None: SocketTCP's default).
    """
    from .socket_tcp import SocketTCP

    def send(address: tuple[str, int]) -> float:
        client = SocketTCP(loss_rate=loss, seed=seed + 1, busy_poll=busy_poll)
        try:
            client.connect(address)
            start = time.perf_counter()
            client.send(message)
            elapsed = time.perf_counter() - start
            client.close()
            return elapsed
        finally:
            client.close()

    return _in_peer_process(_fsm_receiver, (loss, seed, busy_poll), send, message)


def baseline_transfer(message: bytes, mss: int = 16, spin: bool = False) -> float:
    """A plain stop-and-wait UDP sender/receiver: the cheapest correct thing to compare with.

    Each datagram carries an ASCII sequence number and up to ``mss`` bytes; the receiver
    acknowledges each one; the sender waits for that ACK (retransmitting after 50 ms).
    ``spin``: both ends busy-poll instead of sleeping (no retransmission: loopback, no loss).
    """
    import socket

    def send(dst: tuple[str, int]) -> float:
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tx.settimeout(0.0 if spin else 0.05)
        start = time.perf_counter()
        for off in range(0, len(message), mss):
            chunk = message[off : off + mss]
            want = b"%d" % (off + len(chunk))
            while True:
                tx.sendto(b"%d|%b" % (off, chunk), dst)
                try:
                    if _next_datagram(tx, spin, 0.05) == want:
                        break
                except TimeoutError:
                    continue
        elapsed = time.perf_counter() - start
        tx.close()
        return elapsed

    return _in_peer_process(_baseline_receiver, (len(message), spin), send, message)


def _best_of_interleaved(fns: list[Callable[[], float]], runs: int = 3) -> list[float]:
    """Best time of each function over ``runs`` rounds, the functions taking turns, so that
    a slow spell of the machine hits both sides of a ratio alike."""
    best = [float("inf")] * len(fns)
    for _ in range(runs):
        for i, fn in enumerate(fns):
            best[i] = min(best[i], fn())
    return best


@dataclass(frozen=True)
class Settings:
    """Sizes and repetitions of every part; the defaults are what ``fsm-tcp bench`` measures."""

    size: int = 1 << 20  # part 1: no loss, stop-and-wait
    loss_size: int = 64 << 10  # part 2: 20% loss, stop-and-wait
    sim_seconds: float = 1.0  # part 3
    course_size: int = 100_000  # part 5: the course's experiment
    sr_size: int = 16 << 20  # part 6: selective repeat vs aioquic vs raw UDP
    loss1_size: int = 4 << 20  # part 7: selective repeat at 1% loss
    window: int = 64  # segments (PROTOCOL.md 6: W = min(cwnd in whole MSS, window))
    sr_cc: str = "reno"  # SR goes beyond the course, so it gets RFC 5681's fast recovery
    runs: int = 3  # best of (no loss) or median over seeds (with loss)


def run_all(
    size: int,
    loss_size: int,
    sim_seconds: float,
    out: TextIO,
    only: Iterable[str] | None = None,
    settings: Settings | None = None,
) -> dict[str, float]:
    """Everything ``fsm-tcp bench`` prints, measured in this one run.

    ``only``: the parts to run, by name (PARTS); None runs DEFAULT_PARTS.
    """
    import platform

    chosen = DEFAULT_PARTS if only is None else tuple(only)
    unknown = set(chosen) - set(PARTS)
    if unknown:
        raise ValueError(f"unknown bench part(s): {', '.join(sorted(unknown))}")
    s = dataclasses.replace(
        settings or Settings(), size=size, loss_size=loss_size, sim_seconds=sim_seconds
    )
    results: dict[str, float] = {}
    print(
        f"fsm-tcp bench on {platform.machine()} {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} CPUs",
        file=out,
    )
    for name in PARTS:  # always in the same order, whatever order ``only`` names them in
        if name in chosen:
            PART_FUNCTIONS[name](s, out, results)
    return results


def _part_goodput(s: Settings, out: TextIO, results: dict[str, float]) -> None:
    size = s.size
    message = _payload(size)
    base, ours, ours_sleeping, base_spinning = _best_of_interleaved(
        [
            lambda: baseline_transfer(message),
            lambda: fsm_transfer(message),
            lambda: fsm_transfer(message, busy_poll=0.0),
            lambda: baseline_transfer(message, spin=True),
        ]
    )
    results["goodput_ratio"] = base / ours
    results["goodput_ratio_without_busy_poll"] = base / ours_sleeping
    results["goodput_ratio_to_busy_polling_baseline"] = base_spinning / ours

    def rate(seconds: float) -> str:
        return f"{size / seconds / 1e3:.0f} kB/s"

    print(
        f"1. {size} B, no loss, 16-byte segments: fsm_tcp {rate(ours)}, plain stop-and-wait "
        f"{rate(base)} -> ratio {base / ours:.2f} (goal >= 0.70)\n"
        f"   fsm_tcp with busy_poll=0 (sleeps in select() as the baseline sleeps): "
        f"{rate(ours_sleeping)} -> ratio {base / ours_sleeping:.2f}\n"
        f"   the baseline busy-polling too: {rate(base_spinning)}; fsm_tcp's ratio to it "
        f"{base_spinning / ours:.2f}",
        file=out,
    )


def _part_loss(s: Settings, out: TextIO, results: dict[str, float]) -> None:
    loss_size = s.loss_size
    small = _payload(loss_size, 9)
    (clean,) = _best_of_interleaved([lambda: fsm_transfer(small)])
    lossy = sorted(fsm_transfer(small, loss=0.2, seed=seed) for seed in range(3))[1]
    results["loss_ratio"] = lossy / clean
    print(
        f"2. {loss_size} B at 20% loss each way: {lossy:.3f} s vs {clean:.3f} s without loss"
        f" -> {lossy / clean:.1f}x (goal < 10x; median of 3 seeds)",
        file=out,
    )


def _part_sim(s: Settings, out: TextIO, results: dict[str, float]) -> None:
    sim_seconds = s.sim_seconds
    sims = sorted(sim_lifecycles(sim_seconds / 3 or 0.1, seed=seed).per_second for seed in range(3))
    results["sim_per_second"] = sims[1]
    print(
        f"3. simulator: {sims[1]:.0f} lifecycles/s (handshake, 1 KiB, teardown, 20% loss"
        f" each way; median of 3) (goal >= 300)",
        file=out,
    )


def _part_memory(s: Settings, out: TextIO, results: dict[str, float]) -> None:
    mem = memory_per_connection()
    results["bytes_per_connection"] = mem
    print(
        f"4. memory: {mem / 1024:.1f} KiB of Python heap per open connection "
        "(asyncio driver, idle, tracemalloc)",
        file=out,
    )


def memory_per_connection(n: int = 200) -> float:
    """Bytes of Python heap per open, idle server-side connection of the asyncio driver."""
    import asyncio
    import tracemalloc

    from .aio import AsyncConnection, AsyncServer, open_connection

    async def measure() -> float:
        release = asyncio.Event()

        async def idle(conn: AsyncConnection) -> None:
            await release.wait()

        server = AsyncServer(idle)
        address = await server.start()
        clients = [await open_connection(address) for _ in range(n)]  # warm-up allocations
        while len(server.connections) < n:
            await asyncio.sleep(0.01)
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        more = [await open_connection(address) for _ in range(n)]
        while len(server.connections) < 2 * n:
            await asyncio.sleep(0.01)
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        release.set()
        for c in clients + more:
            c.release()
        await server.close()
        return (after - before) / (2 * n)  # each new pair is one client and one server end

    return asyncio.run(measure())


# ------------------------------------------------------------------ windowed modes (issue 11)
#: Selective repeat's segment size, and the raw UDP ceiling's datagram payload.
BIG_MSS = 1400
#: The course's segment size for its congestion-control experiment.
COURSE_MSS = 8


def windowed_unavailable() -> str | None:
    """Why this SocketTCP cannot run windowed modes yet, or None once it can.

    Asked of the API itself (the constructor's keywords, send()'s signature), so the bench
    adapts the day the engine grows them, without starting a transfer that would only fail.
    """
    import inspect

    from .errors import InvalidArgument
    from .socket_tcp import SocketTCP

    try:
        sock = SocketTCP(mss=BIG_MSS, window=4, cc="tahoe")
    except (InvalidArgument, TypeError) as exc:
        return f"SocketTCP takes no window/cc: {exc}"
    try:
        # bind() raises the TypeError the call itself would raise
        inspect.signature(sock.send).bind(b"", mode="selective_repeat")
    except TypeError:
        return "SocketTCP.send() takes no mode"
    finally:
        sock.close()
    return None


@dataclass(frozen=True)
class Transfer:
    """One fsm_tcp message transfer, from the sender's side."""

    seconds: float  # send() called to send() returned (every byte acknowledged)
    segments: int  # segments the sender's engine sent meanwhile, retransmissions included
    retransmissions: int


def _fsm_receiver_with(conn: Any, options: dict[str, Any], loss: float, seed: int) -> None:
    """Child process: as _fsm_receiver, with SocketTCP options (mss, window, cc)."""
    from .socket_tcp import SocketTCP

    server = SocketTCP(loss_rate=loss, seed=seed, **options)
    server.bind(("127.0.0.1", 0))
    conn.send(server.getsockname())
    child, _ = server.accept()
    message = child.recv_message()
    child.recv_close()
    server.close()
    conn.send(hashlib.sha256(message or b"").hexdigest())


def windowed_transfer(
    message: bytes,
    options: dict[str, Any],
    mode: str | None = None,
    loss: float = 0.0,
    seed: int = 1,
) -> Transfer:
    """``message`` from a SocketTCP(**options) here to one in another process, sent with
    ``send(message, mode=mode)`` (plain ``send(message)`` for None: stop-and-wait, which works
    with or without windowed modes). Raises RuntimeError unless it arrived byte-exact."""
    from .socket_tcp import SocketTCP

    def send(address: tuple[str, int]) -> Transfer:
        client = SocketTCP(loss_rate=loss, seed=seed + 1, **options)
        try:
            client.connect(address)
            stats = client.conn.stats if client.conn is not None else None
            assert stats is not None  # connect() succeeded
            segments, retransmissions = stats.segments_sent, stats.retransmissions
            # typed loosely: send() takes ``mode`` only once the windowed modes are in
            send_call: Callable[..., None] = client.send
            start = time.perf_counter()
            if mode is None:
                send_call(message)
            else:
                send_call(message, mode=mode)
            elapsed = time.perf_counter() - start
            client.close()
            return Transfer(
                elapsed,
                stats.segments_sent - segments,
                stats.retransmissions - retransmissions,
            )
        finally:
            client.close()

    result, digest = _with_peer(_fsm_receiver_with, (options, loss, seed), send, patience=120.0)
    if digest != hashlib.sha256(message).hexdigest():
        raise RuntimeError("benchmark transfer was not byte-exact")
    return result


def _median_transfer(runs: Iterable[Transfer]) -> Transfer:
    ordered = sorted(runs, key=lambda t: t.seconds)
    return ordered[(len(ordered) - 1) // 2]


def _attempt(out: TextIO, label: str, measure: Callable[[], _T]) -> _T | None:
    """``measure()``, or None after one line saying why it failed: a failing measurement
    must not cost the other figures of the run (the engine's windowed modes are new)."""
    try:
        return measure()
    except Exception as exc:
        print(f"   {label}: FAILED ({type(exc).__name__}: {exc})", file=out)
        return None


def _interleaved(
    measures: dict[str, Callable[[int], _T]], rounds: int, out: TextIO
) -> dict[str, list[_T]]:
    """Each measurement ``rounds`` times (called with the round, a seed), taking turns, so
    that a slow spell of the machine hits every side of a ratio alike. One that fails says
    so once and is left out of the result."""
    got: dict[str, list[_T]] = {label: [] for label in measures}
    for seed in range(max(1, rounds)):
        for label, measure in measures.items():
            if label in got:
                value = _attempt(out, label, lambda: measure(seed))  # noqa: B023 (called now)
                if value is None:
                    del got[label]
                else:
                    got[label].append(value)
    return got


def _not_available(out: TextIO, label: str, reason: str) -> None:
    print(f"   {label}: windowed modes are not available ({reason})", file=out)


SAW, GBN = "stop-and-wait", "Go-Back-N + Tahoe"


def _part_window(s: Settings, out: TextIO, results: dict[str, float]) -> None:
    """The course's experiment: Go-Back-N + Tahoe vs stop-and-wait, same file, same loss."""
    message = _payload(s.course_size, 11)
    rounds = max(1, s.runs)
    print(
        f"5. the course's experiment: {s.course_size} B, MSS {COURSE_MSS}, 20% loss each way, "
        f"median of {rounds} seed(s)",
        file=out,
    )
    options = {"mss": COURSE_MSS, "window": s.window, "cc": "tahoe"}
    measures = {
        SAW: lambda seed: windowed_transfer(message, {"mss": COURSE_MSS}, loss=0.2, seed=seed)
    }
    reason = windowed_unavailable()
    if reason is None:
        measures[GBN] = lambda seed: windowed_transfer(
            message, options, "go_back_n", loss=0.2, seed=seed
        )
    got = _interleaved(measures, rounds, out)
    saw = _median_transfer(got[SAW]) if SAW in got else None
    gbn = _median_transfer(got[GBN]) if GBN in got else None
    if saw is not None:
        _record_course(out, results, "saw", f"{SAW}:      ", saw)
    if reason is not None:
        _not_available(out, GBN, reason)
    if gbn is not None:
        _record_course(out, results, "gbn", f"{GBN} (window {s.window}):", gbn)
    if saw is not None and gbn is not None:
        results["course_speedup"] = saw.seconds / gbn.seconds
        print(f"   -> Go-Back-N is {saw.seconds / gbn.seconds:.1f}x as fast", file=out)


def _record_course(
    out: TextIO, results: dict[str, float], key: str, label: str, t: Transfer
) -> None:
    results[f"course_{key}_seconds"] = t.seconds
    results[f"course_{key}_segments"] = t.segments
    print(
        f"   {label} {t.seconds:.3f} s, {t.segments} segments sent "
        f"({t.retransmissions} retransmissions)",
        file=out,
    )


def _rate(size: int, seconds: float) -> str:
    return f"{size / seconds / 1e6:.1f} MB/s"


def _sr_options(s: Settings) -> dict[str, Any]:
    return {"mss": BIG_MSS, "window": s.window, "cc": s.sr_cc}


def _part_aioquic(s: Settings, out: TextIO, results: dict[str, float]) -> None:
    """16 MiB without loss, receiver in its own process: fsm_tcp SR, aioquic, raw UDP; the
    best of each, the three taking turns."""
    message = _payload(s.sr_size, 13)
    rounds = max(1, s.runs)
    print(
        f"6. {s.sr_size} B, no loss, {BIG_MSS}-byte segments, receiver in its own process, "
        f"best of {rounds}",
        file=out,
    )
    sr = f"fsm_tcp selective repeat ({s.sr_cc}, window {s.window})"
    quic_version = _aioquic_version()
    quic = f"aioquic {quic_version} (QUIC, TLS 1.3, one stream)"
    raw = f"raw UDP, a sendto() loop of {BIG_MSS}-byte datagrams (the ceiling)"
    received: list[float] = []  # the fraction of raw datagrams that arrived, per run

    def blast(_seed: int) -> float:
        rate, fraction = raw_udp_rate(s.sr_size)
        received.append(fraction)
        return s.sr_size / rate  # as seconds, like the others

    measures: dict[str, Callable[[int], float]] = {}
    reason = windowed_unavailable()
    if reason is None:
        measures[sr] = lambda _: (
            windowed_transfer(message, _sr_options(s), "selective_repeat").seconds
        )
    if quic_version is not None:
        measures[quic] = lambda _: quic_transfer(message)
    measures[raw] = blast
    got = {
        label: s.sr_size / min(times)
        for label, times in _interleaved(measures, rounds, out).items()
    }
    if reason is not None:
        _not_available(out, sr.split(" (")[0], reason)
    if quic_version is None:
        print(
            "   aioquic: not installed; `pip install aioquic` (or the 'bench' extra) to "
            "compare with QUIC",
            file=out,
        )
    arrived = f" sent, at least {min(received, default=0.0):.0%} of them received"
    for key, label, suffix in (
        ("sr_goodput", sr, ""),
        ("aioquic_goodput", quic, ""),
        ("raw_udp_send_rate", raw, arrived),
    ):
        if label in got:
            results[key] = got[label]
            print(f"   {label}: {got[label] / 1e6:.1f} MB/s{suffix}", file=out)
    _print_ratios(out, results, got.get(sr), got.get(quic), got.get(raw))


def _print_ratios(
    out: TextIO,
    results: dict[str, float],
    ours: float | None,
    quic: float | None,
    raw: float | None,
) -> None:
    """Part 6's ratios, of the goodputs measured (None: not measured)."""
    ratios = []
    if ours is not None and quic is not None:
        results["ratio_to_aioquic"] = ours / quic
        ratios.append(f"fsm_tcp/aioquic {ours / quic:.2f} (goal >= 1.5)")
    if ours is not None and raw is not None:
        results["ratio_to_raw_udp"] = ours / raw
        ratios.append(f"fsm_tcp/raw {ours / raw:.2f}")
    if ratios:
        print("   -> " + ", ".join(ratios), file=out)


def _part_loss1(s: Settings, out: TextIO, results: dict[str, float]) -> None:
    """Selective repeat at 1% loss each way, as a fraction of its no-loss goodput."""
    label = (
        f"7. {s.loss1_size} B, selective repeat ({s.sr_cc}, window {s.window}), 1% loss each way"
    )
    reason = windowed_unavailable()
    if reason is not None:
        print(f"{label}: windowed modes are not available ({reason})", file=out)
        return
    rounds = max(1, s.runs)
    print(f"{label} vs none, {rounds} run(s) each", file=out)
    message = _payload(s.loss1_size, 17)

    def transfer(loss: float, seed: int) -> Transfer:
        return windowed_transfer(message, _sr_options(s), "selective_repeat", loss, seed)

    measures = {
        "without loss": lambda seed: transfer(0.0, seed),
        "at 1% loss": lambda seed: transfer(0.01, seed),
    }
    got = _interleaved(measures, rounds, out)
    if len(got) < len(measures):
        return  # said why
    clean = min(t.seconds for t in got["without loss"])
    lossy = _median_transfer(got["at 1% loss"]).seconds
    results["loss1_goodput"] = s.loss1_size / lossy
    results["loss1_fraction"] = clean / lossy
    print(
        f"   {_rate(s.loss1_size, lossy)} vs {_rate(s.loss1_size, clean)} without loss -> "
        f"{clean / lossy:.2f} of the no-loss goodput (goal >= 0.5; median of seeds with "
        "loss, best run without)",
        file=out,
    )


# ------------------------------------------------------------------ raw UDP: the ceiling
def _raw_receiver(conn: Any) -> None:
    """Child process: count datagrams until an empty one or 0.2 s of silence."""
    import socket

    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # as much buffer as the system grants, so the count shows what the sender got through
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
    rx.bind(("127.0.0.1", 0))
    conn.send(rx.getsockname())
    rx.settimeout(30.0)
    count = 0
    try:
        while rx.recv(65536):
            count += 1
            rx.settimeout(0.2)
    except TimeoutError:
        pass
    rx.close()
    conn.send(count)


def raw_udp_rate(size: int) -> tuple[float, float]:
    """(bytes per second a tight sendto() loop of BIG_MSS-byte datagrams sends to a receiver
    process, fraction of those datagrams it received): the most any protocol over UDP could
    do in Python on this machine."""
    import socket

    count = max(1, size // BIG_MSS)
    datagram = _payload(BIG_MSS, 19)

    def blast(dst: tuple[str, int]) -> float:
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sendto = tx.sendto
        start = time.perf_counter()
        for _ in range(count):
            sendto(datagram, dst)
        elapsed = time.perf_counter() - start
        for _ in range(3):  # end markers, a little apart: the receiver may still be draining
            time.sleep(0.01)
            sendto(b"", dst)
        tx.close()
        return elapsed

    elapsed, received = _with_peer(_raw_receiver, (), blast)
    return count * BIG_MSS / elapsed, received / count


# ------------------------------------------------------------------ aioquic: a real QUIC stack
#: aioquic's datagrams may be as large as fsm_tcp's 1400-byte segments with their header
#: (its default, 1200, would handicap it by a sixth).
QUIC_DATAGRAM = BIG_MSS + 32


def _aioquic_version() -> str | None:
    from importlib import metadata

    try:
        import aioquic  # noqa: F401
    except ImportError:
        return None
    return metadata.version("aioquic")


def _self_signed() -> tuple[Any, Any, bytes]:
    """(private key, certificate, certificate PEM) for "localhost", made now: the benchmark
    needs TLS but no secret, so no key is ever written to disk or committed."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert, cert.public_bytes(serialization.Encoding.PEM)


def _quic_receiver(conn: Any) -> None:
    """Child process: a QUIC server taking one stream, answering its SHA-256 on it."""
    import asyncio

    asyncio.run(_quic_serve(conn))


async def _quic_serve(conn: Any) -> None:
    import asyncio
    import functools

    from aioquic.asyncio.protocol import QuicConnectionProtocol
    from aioquic.asyncio.server import QuicServer
    from aioquic.quic.configuration import QuicConfiguration
    from aioquic.quic.events import ConnectionTerminated, QuicEvent, StreamDataReceived

    class Sink(QuicConnectionProtocol):
        """Keeps the stream; at its end answers how many bytes came, on the stream. Hashed
        only after the client closed, as fsm_tcp's receiver hashes after the transfer, so
        that neither timing includes hashing."""

        def __init__(self, *args: Any, done: asyncio.Future[str], **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._chunks: list[bytes] = []
            self._size = 0
            self._done = done

        def quic_event_received(self, event: QuicEvent) -> None:
            if isinstance(event, StreamDataReceived):
                self._chunks.append(event.data)
                self._size += len(event.data)
                if event.end_stream:
                    answer = b"%d" % self._size
                    self._quic.send_stream_data(event.stream_id, answer, end_stream=True)
                    self.transmit()
            elif isinstance(event, ConnectionTerminated) and not self._done.done():
                self._done.set_result(hashlib.sha256(b"".join(self._chunks)).hexdigest())

    key, cert, pem = _self_signed()
    config = QuicConfiguration(is_client=False, max_datagram_size=QUIC_DATAGRAM)
    config.private_key, config.certificate = key, cert
    loop = asyncio.get_running_loop()
    done: asyncio.Future[str] = loop.create_future()
    transport, server = await loop.create_datagram_endpoint(
        lambda: QuicServer(
            configuration=config, create_protocol=functools.partial(Sink, done=done)
        ),
        local_addr=("127.0.0.1", 0),
    )
    conn.send((transport.get_extra_info("sockname"), pem))
    try:
        digest = await asyncio.wait_for(done, 120.0)  # the client closes once answered
    finally:
        server.close()
    conn.send(digest)


def quic_transfer(message: bytes) -> float:
    """Seconds for an aioquic client here to move ``message`` over one stream to an aioquic
    server in another process: from the first write, with the handshake done, until the
    server's answer (how many bytes it received) is in. Raises RuntimeError unless the
    server's SHA-256 of the stream, reported afterwards, is the message's."""
    import asyncio

    def send(started: tuple[tuple[str, int], bytes]) -> float:
        address, pem = started
        return asyncio.run(asyncio.wait_for(_quic_send(address, pem, message), 120.0))

    elapsed, digest = _with_peer(_quic_receiver, (), send)
    if digest != hashlib.sha256(message).hexdigest():
        raise RuntimeError("aioquic transfer was not byte-exact")
    return elapsed


async def _quic_send(address: tuple[str, int], pem: bytes, message: bytes) -> float:
    import asyncio

    from aioquic.asyncio.protocol import QuicConnectionProtocol
    from aioquic.quic.configuration import QuicConfiguration
    from aioquic.quic.connection import QuicConnection

    config = QuicConfiguration(
        is_client=True, max_datagram_size=QUIC_DATAGRAM, server_name="localhost"
    )
    config.load_verify_locations(cadata=pem)  # the server's own certificate, made at run time
    loop = asyncio.get_running_loop()
    # aioquic's connect() binds "::"; bound here as every other part binds, to 127.0.0.1
    transport, client = await loop.create_datagram_endpoint(
        lambda: QuicConnectionProtocol(QuicConnection(configuration=config)),
        local_addr=("127.0.0.1", 0),
    )
    try:
        client.connect(address)
        await client.wait_connected()
        reader, writer = await client.create_stream()
        start = time.perf_counter()
        writer.write(message)
        writer.write_eof()
        answer = await reader.read()
        elapsed = time.perf_counter() - start
    finally:
        client.close()
        await client.wait_closed()
        transport.close()
    if answer != b"%d" % len(message):
        raise RuntimeError(f"aioquic server received {answer!r} bytes of {len(message)}")
    return elapsed


# ------------------------------------------------------------------ parts and options
PartFunction = Callable[[Settings, TextIO, dict[str, float]], None]
#: Every part, numbered as printed: 1-4 stop-and-wait and the engine, 5-7 the windowed modes.
PART_FUNCTIONS: dict[str, PartFunction] = {
    "goodput": _part_goodput,
    "loss": _part_loss,
    "sim": _part_sim,
    "memory": _part_memory,
    "window": _part_window,
    "aioquic": _part_aioquic,
    "loss1": _part_loss1,
}
PARTS = tuple(PART_FUNCTIONS)
#: What a plain run prints: the figures bench printed before issue 11 (the new parts move
#: 16 MiB several times, in processes of their own; ask for them with --only).
DEFAULT_PARTS = PARTS[:4]


def parse_parts(text: str) -> tuple[str, ...]:
    """``--only``'s value: part names separated by commas; "all" for every part."""
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    if names == ("all",):
        return PARTS
    unknown = [name for name in names if name not in PARTS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown part(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(PARTS)} or all"
        )
    return names


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Every option of ``fsm-tcp bench`` (and ``python -m fsm_tcp.bench``)."""
    d = Settings()
    p.add_argument(
        "--size",
        type=at_least_one,
        default=d.size,
        metavar="N",
        help=f"bytes of the no-loss stop-and-wait transfers (default {d.size})",
    )
    p.add_argument(
        "--loss-size",
        type=at_least_one,
        default=d.loss_size,
        metavar="N",
        help=f"bytes of the stop-and-wait transfers at 20%% loss (default {d.loss_size})",
    )
    p.add_argument(
        "--sim-seconds",
        type=non_negative,
        default=d.sim_seconds,
        metavar="S",
        help=f"seconds of simulated lifecycles (default {d.sim_seconds:g})",
    )
    p.add_argument(
        "--only",
        type=parse_parts,
        default=DEFAULT_PARTS,
        metavar="PARTS",
        help=f"parts to run, comma-separated, of {', '.join(PARTS)}, or all "
        f"(default {','.join(DEFAULT_PARTS)})",
    )
    numbers = (
        ("--course-size", d.course_size, "bytes of the course's experiment (part window)"),
        ("--sr-size", d.sr_size, "bytes of the selective repeat, aioquic and raw UDP transfers"),
        ("--loss1-size", d.loss1_size, "bytes of the transfers at 1%% loss (part loss1)"),
        ("--window", d.window, "the windowed modes' window, in segments"),
        ("--runs", d.runs, "transfers (or seeds) per figure of parts 5-7"),
    )
    for flag, default, what in numbers:
        p.add_argument(
            flag,
            type=at_least_one,
            default=default,
            metavar="N",
            help=f"{what} (default {default})",
        )
    p.add_argument(
        "--sr-cc",
        choices=("tahoe", "reno"),
        default=d.sr_cc,
        help=f"congestion control of the selective repeat transfers (default {d.sr_cc})",
    )


def run_from_args(args: argparse.Namespace, out: TextIO) -> dict[str, float]:
    """Run what ``args`` (from a parser add_arguments filled) asks for."""
    settings = Settings(
        course_size=args.course_size,
        sr_size=args.sr_size,
        loss1_size=args.loss1_size,
        window=args.window,
        sr_cc=args.sr_cc,
        runs=args.runs,
    )
    return run_all(args.size, args.loss_size, args.sim_seconds, out, args.only, settings)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m fsm_tcp.bench``: the same as ``fsm-tcp bench``, with every part's options."""
    import sys

    p = argparse.ArgumentParser(prog="python -m fsm_tcp.bench", description=__doc__)
    add_arguments(p)
    run_from_args(p.parse_args(argv), sys.stdout)
    return 0


if __name__ == "__main__":
    # through the package's module, so that the spawned peers find their functions there
    from fsm_tcp.bench import main as _main

    raise SystemExit(_main())
