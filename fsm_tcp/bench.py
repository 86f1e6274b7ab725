"""Benchmarks behind ``fsm-tcp bench``: ratios against baselines measured in the same run."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass

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
