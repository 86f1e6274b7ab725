"""What is measured inside this process: simulated lifecycles and memory per connection."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass

from ..engine import Config
from ..sim import DROP, Fault, run_lifecycle


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


def memory_per_connection(n: int = 200) -> float:
    """Bytes of Python heap per open, idle server-side connection of the asyncio driver."""
    import asyncio
    import tracemalloc

    from ..aio import AsyncConnection, AsyncServer, open_connection

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
