"""Run N asyncio clients at once against a server; print the sha256 of each message sent.

Used by test_aio.py as a separate process, so clients and server use both cores.
Usage: python aio_clients.py HOST PORT N SIZE SEED
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import sys

from fsm_tcp.aio import open_connection


async def one(address: tuple[str, int], message: bytes) -> str:
    conn = await open_connection(address)
    await conn.send(message)
    await conn.close()
    return hashlib.sha256(message).hexdigest()


async def main(host: str, port: int, n: int, size: int, seed: int) -> None:
    rng = random.Random(seed)
    messages = [rng.randbytes(size) for _ in range(n)]
    digests = await asyncio.gather(*(one((host, port), m) for m in messages))
    print(json.dumps(digests))


if __name__ == "__main__":
    host, port, n, size, seed = sys.argv[1:6]
    asyncio.run(main(host, int(port), int(n), int(size), int(seed)))
