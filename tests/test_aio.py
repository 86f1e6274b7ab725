"""The asyncio driver: one host serving many concurrent connections, byte-exact."""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from fsm_tcp.aio import AsyncConnection, AsyncServer, open_connection
from fsm_tcp.engine import Config
from fsm_tcp.errors import ConnectionTimeout

CLIENTS = Path(__file__).with_name("aio_clients.py")


async def serve_and_collect(n: int, size: int, timeout: float) -> tuple[set[str], set[str]]:
    received: list[str] = []

    async def handler(conn: AsyncConnection) -> None:
        message = await conn.recv_message()
        assert message is not None and len(message) == size
        received.append(hashlib.sha256(message).hexdigest())
        await conn.recv_close()

    server = AsyncServer(handler)
    host, port = await server.start()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(CLIENTS),
        host,
        str(port),
        str(n),
        str(size),
        "7",
        stdout=subprocess.PIPE,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
        assert proc.returncode == 0
        while server.tasks:
            await asyncio.sleep(0.01)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await server.close()
    assert server.errors == []
    return set(json.loads(out)), set(received)


@pytest.mark.timeout(300)
def test_200_concurrent_clients_of_32_kib_all_arrive_byte_exact() -> None:
    sent, received = asyncio.run(serve_and_collect(200, 32 * 1024, 280))
    assert len(sent) == 200
    assert received == sent


def test_async_request_response_and_a_vanished_server() -> None:
    async def scenario() -> None:
        async def echo(conn: AsyncConnection) -> None:
            while (message := await conn.recv_message()) is not None:
                await conn.send(message[::-1])
            await conn.recv_close()

        server = AsyncServer(echo)
        address = await server.start()
        conn = await open_connection(address)
        await conn.send(b"abc|||\xff")
        assert await conn.recv(100) == b"\xff|||cba"
        await conn.close()
        await server.close()
        # nobody answers at that port any more: a typed timeout, within the bound
        cfg = Config(initial_rto=0.01, max_rto=0.05, max_retries=3)
        with pytest.raises(ConnectionTimeout):
            await open_connection(address, config=cfg)

    asyncio.run(scenario())


def test_a_client_gone_between_messages_ends_the_handler_in_a_timeout() -> None:
    """recv_message waits for the next message's length: that wait is bounded too, and a
    vanished client is a ConnectionTimeout, not a clean end of the stream."""

    async def scenario() -> None:
        got: list[bytes | None] = []

        async def collect(conn: AsyncConnection) -> None:
            while (message := await conn.recv_message()) is not None:
                got.append(message)
            got.append(None)  # a clean end: must not happen here

        fast = Config(initial_rto=0.01, max_rto=0.05, max_retries=3)
        server = AsyncServer(collect, config=fast)
        address = await server.start()
        conn = await open_connection(address, config=fast)
        await conn.send(b"one whole message")
        conn.release()  # the client vanishes without a FIN
        try:
            for _ in range(1000):
                if not server.tasks:
                    break
                await asyncio.sleep(0.01)
            assert not server.tasks, "the handler still waits for a peer that is gone"
        finally:
            await server.close()
        assert got == [b"one whole message"]
        assert [type(e) for e in server.errors] == [ConnectionTimeout]

    asyncio.run(scenario())
