"""Benchmarks behind ``fsm-tcp bench``: ratios against baselines measured in the same run."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from .engine import Config
from .sim import DROP, Fault, run_lifecycle


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


def _in_peer_process(
    target: Callable[..., None],
    args: tuple[Any, ...],
    send: Callable[[tuple[str, int]], float],
    message: bytes,
) -> float:
    """Run the receiver in its own process (as a real peer is), time the sender here."""
    ctx = multiprocessing.get_context("spawn")
    here, there = ctx.Pipe()
    proc = ctx.Process(target=target, args=(there, *args), daemon=True)
    proc.start()
    try:
        if not here.poll(30):
            raise RuntimeError("benchmark receiver did not start")
        elapsed = send(here.recv())
        if not here.poll(60) or here.recv() != hashlib.sha256(message).hexdigest():
            raise RuntimeError("benchmark transfer was not byte-exact")
        return elapsed
    finally:
        proc.join(10)
        if proc.is_alive():
            proc.kill()
            proc.join()


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


def run_all(size: int, loss_size: int, sim_seconds: float, out: TextIO) -> dict[str, float]:
    """Everything ``fsm-tcp bench`` prints, measured in this one run."""
    import platform

    results: dict[str, float] = {}
    print(
        f"fsm-tcp bench on {platform.machine()} {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} CPUs",
        file=out,
    )
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
    small = _payload(loss_size, 9)
    (clean,) = _best_of_interleaved([lambda: fsm_transfer(small)])
    lossy = sorted(fsm_transfer(small, loss=0.2, seed=s) for s in range(3))[1]
    results["loss_ratio"] = lossy / clean
    print(
        f"2. {loss_size} B at 20% loss each way: {lossy:.3f} s vs {clean:.3f} s without loss"
        f" -> {lossy / clean:.1f}x (goal < 10x; median of 3 seeds)",
        file=out,
    )
    sims = sorted(sim_lifecycles(sim_seconds / 3 or 0.1, seed=s).per_second for s in range(3))
    results["sim_per_second"] = sims[1]
    print(
        f"3. simulator: {sims[1]:.0f} lifecycles/s (handshake, 1 KiB, teardown, 20% loss"
        f" each way; median of 3) (goal >= 300)",
        file=out,
    )
    mem = memory_per_connection()
    results["bytes_per_connection"] = mem
    print(
        f"4. memory: {mem / 1024:.1f} KiB of Python heap per open connection "
        "(asyncio driver, idle, tracemalloc)",
        file=out,
    )
    return results


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
