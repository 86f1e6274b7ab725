"""Soak and load through the fault proxy: every fault kind at once, nothing lost.

The full soak (50 sequential connections of 256 KiB, 200 concurrent of 32 KiB, at 30% loss,
10% duplication, 10% reordering and jitter) is marked ``soak`` and runs on demand:
``.venv/bin/python -m pytest -m soak``. CI runs the short version below, which crosses the
same fault kinds at the same rates with less data.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from fsm_tcp.aio import AsyncConnection, AsyncServer, open_connection
from fsm_tcp.engine import Config
from fsm_tcp.proxy import FaultProxy, Faults, ProxyStats

CLIENTS = Path(__file__).with_name("aio_clients.py")
FAULTS = Faults(loss=0.3, dup=0.1, reorder=0.1, delay=0.001, jitter=0.001)
#: At 30% loss each way a round trip fails half the time (0.51): 13 tries in a row fail for
#: one segment in 6,000, so the soak allows more retries (0.51**41 is about 1e-12), and
#: with a failure rate above one half, doubling the RTO makes the expected wait per segment
#: grow with each step, so the back-off is capped low (a LAN setting, not the default).
CONFIG = Config(max_retries=40, max_rto=0.05)


@dataclass
class SoakResult:
    sent: list[str]
    received: list[str]
    proxy: ProxyStats
    errors: int


async def soak(
    sequential: int, seq_size: int, concurrent: int, conc_size: int, seed: int = 11
) -> SoakResult:
    received: list[str] = []

    async def handler(conn: AsyncConnection) -> None:
        message = await conn.recv_message()
        received.append(hashlib.sha256(message or b"").hexdigest())
        await conn.recv_close()

    server = AsyncServer(handler, config=CONFIG)
    target = await server.start()
    proxy = FaultProxy(("127.0.0.1", 0), target, FAULTS, seed=seed)
    host, port = await proxy.start()
    rng = random.Random(seed)
    sent: list[str] = []
    proc = None
    try:
        for _ in range(sequential):
            message = rng.randbytes(seq_size)
            conn = await open_connection((host, port), config=CONFIG)
            await conn.send(message)
            await conn.close()
            sent.append(hashlib.sha256(message).hexdigest())
            print(f"soak: {len(sent)}/{sequential} sequential connections done", flush=True)
        if concurrent:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                str(CLIENTS),
                host,
                str(port),
                str(concurrent),
                str(conc_size),
                str(seed),
                str(CONFIG.max_retries),
                str(CONFIG.max_rto),
                stdout=subprocess.PIPE,
            )
            out, _ = await proc.communicate()
            assert proc.returncode == 0
            sent += json.loads(out)
        for _ in range(3000):
            if len(received) >= len(sent):
                break  # a server still waiting for a FIN lost three times is just cancelled
            await asyncio.sleep(0.01)
    finally:
        if proc is not None and proc.returncode is None:
            proc.kill()
            await proc.wait()
        proxy.close()
        await server.close()
    return SoakResult(sent, received, proxy.stats, len(server.errors))


def check(result: SoakResult) -> None:
    assert result.errors == 0
    assert sorted(result.received) == sorted(result.sent)  # every byte, every connection
    s = result.proxy
    assert s.dropped > 0 and s.duplicated > 0 and s.reordered > 0  # every fault kind hit


@pytest.mark.timeout(300)
def test_short_soak_crosses_every_fault_kind() -> None:
    check(asyncio.run(soak(sequential=2, seq_size=4096, concurrent=20, conc_size=1024)))


@pytest.mark.soak
@pytest.mark.timeout(4 * 3600)
def test_full_soak_sequential() -> None:
    check(asyncio.run(soak(sequential=50, seq_size=256 * 1024, concurrent=0, conc_size=0)))


@pytest.mark.soak
@pytest.mark.timeout(4 * 3600)
def test_full_soak_concurrent() -> None:
    check(asyncio.run(soak(sequential=0, seq_size=0, concurrent=200, conc_size=32 * 1024)))
