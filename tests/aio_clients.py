"""Run N asyncio clients at once against a server; print the sha256 of each message sent.

Used by test_aio.py as a separate process, so clients and server use both cores.
Usage: python aio_clients.py HOST PORT N SIZE SEED [MAX_RETRIES MAX_RTO]
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import sys

from fsm_tcp.aio import open_connection
from fsm_tcp.engine import Config


async def one(address: tuple[str, int], message: bytes, config: Config) -> str:
    conn = await open_connection(address, config=config)
    await conn.send(message)
    await conn.close()
    return hashlib.sha256(message).hexdigest()


async def main(host: str, port: int, n: int, size: int, seed: int, config: Config) -> None:
    rng = random.Random(seed)
    messages = [rng.randbytes(size) for _ in range(n)]
    digests = await asyncio.gather(*(one((host, port), m, config) for m in messages))
    print(json.dumps(digests))


if __name__ == "__main__":
    host, port, n, size, seed = sys.argv[1:6]
    timers = (
        {"max_retries": int(sys.argv[6]), "max_rto": float(sys.argv[7])}
        if len(sys.argv) > 7
        else {}
    )
    asyncio.run(main(host, int(port), int(n), int(size), int(seed), Config(**timers)))
