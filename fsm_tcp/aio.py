"""An asyncio driver: one event loop serves many connections (and clients, for tests).

Each connection owns a non-blocking UDP socket watched with ``loop.add_reader``; datagrams
and ``loop.call_at`` timer expiries are pumped into its engine, and coroutines waiting in
``send``/``recv``/``close`` are woken when the engine has moved. No protocol logic here.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .config import Config
from .engine import Connection
from .errors import ConnectionClosed, FsmTcpError
from .events import Address
from .link import Tracer
from .listener import Listener
from .udp import RECV_BUFFER


def _udp_socket(address: Address) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    try:
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


@dataclass
class Loss:
    """Optional user-space loss, applied to sends: ``rate`` is the loss in each direction."""

    rate: float = 0.0
    rng: random.Random | None = None

    def lost(self) -> bool:
        return bool(self.rate) and (self.rng or random).random() < self.rate


class AsyncConnection:
    """An engine Connection pumped by the running event loop."""

    def __init__(self, conn: Connection, sock: socket.socket, loss: Loss | None = None) -> None:
        self.conn = conn
        self.sock = sock
        self.loss = loss or Loss()
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._waiters: list[asyncio.Future[None]] = []
        self._closed = False
        self._loop.add_reader(sock.fileno(), self._readable)

    # -------------------------------------------------------------- application API
    async def send(self, message: bytes) -> None:
        """Returns once every byte of ``message`` is acknowledged."""
        self.conn.send(message, self._loop.time())
        self.service()
        await self.until(lambda: not self.conn.sending or self.conn.is_closed)
        if self.conn.error is not None:
            raise self.conn.error

    async def recv(self, buff_size: int) -> bytes:
        while True:
            data = self.conn.receive(buff_size)
            self.service()
            if data is not None:
                return data
            await self._changed()

    async def recv_message(self) -> bytes | None:
        """The whole next message, or None at the end of the stream."""
        conn = self.conn
        conn.await_message()  # bounded: a vanished sender ends it in a ConnectionTimeout
        self.service()
        await self.until(lambda: conn.next_message_length() is not None or conn.at_eof)
        size = conn.next_message_length()
        if size is None and conn.error is not None:
            raise conn.error  # not the end of the stream: the connection failed
        return None if size is None else await self.recv(max(size, 1))

    async def close(self) -> None:
        if not self.conn.is_closed:
            self.conn.close(self._loop.time())
            self.service()
            await self.until(lambda: self.conn.is_closed)
        self.release()

    async def recv_close(self) -> None:
        self.conn.expect_close(self._loop.time())
        self.service()
        await self.until(lambda: self.conn.is_closed)
        self.release()

    @property
    def peer(self) -> Address | None:
        return self.conn.peer

    # -------------------------------------------------------------- pumping
    def _readable(self) -> None:
        for _ in range(64):  # drain what is queued, but let other connections run too
            try:
                data, addr = self.sock.recvfrom(RECV_BUFFER)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                break  # e.g. ICMP port unreachable surfaced by the kernel: not our datagram
            answer = self.conn.express_answer(data, addr)
            if answer is not None:  # out first: the peer waits on it, bookkeeping can wait
                self._send(answer, addr)
                self.conn.receive_datagram(data, addr, self._loop.time(), answered=True)
            else:
                self.conn.receive_datagram(data, addr, self._loop.time())
        self.service()

    def deliver(self, data: bytes, addr: Address) -> None:
        """A datagram for this connection that arrived elsewhere (at the listener)."""
        self.conn.receive_datagram(data, addr, self._loop.time(), via_listener=True)
        self.service()

    def _on_timer(self) -> None:
        self._timer = self._timer_at = None
        self.conn.handle_timer(self._loop.time())  # early (deadline moved on): a no-op
        self.service()

    def _send(self, data: bytes, dst: Address) -> None:
        if self.loss.lost():
            return
        with contextlib.suppress(BlockingIOError, InterruptedError):
            self.sock.sendto(data, dst)  # a full buffer is one more lost datagram

    def service(self) -> None:
        """Send what the engine wants sent, re-arm its timer, wake waiting coroutines."""
        if self._closed:
            return
        for data, dst in self.conn.datagrams_to_send():
            self._send(data, dst)
        # Lazy timer: a deadline that moved later (every acknowledged segment pushes it) keeps
        # the handle already scheduled, which then fires early and re-arms; only an earlier
        # deadline costs a cancel. Saves a heap push and a cancel per segment.
        deadline = self.conn.get_timer()
        if deadline is not None and (self._timer_at is None or deadline < self._timer_at):
            if self._timer is not None:
                self._timer.cancel()
            self._timer_at = deadline
            self._timer = self._loop.call_at(deadline, self._on_timer)
        waiters, self._waiters = self._waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    async def _changed(self) -> None:
        if self._closed and self.conn.is_closed:
            raise self.conn.error or ConnectionClosed("the connection is closed")
        fut = self._loop.create_future()
        self._waiters.append(fut)
        await fut

    async def until(self, done: Callable[[], bool]) -> None:
        """Drive the connection until ``done()`` holds (raises if it closes first)."""
        while not done():
            if self.conn.is_closed and self.conn.get_timer() is None:
                if done():
                    return
                raise self.conn.error or ConnectionClosed("the connection is closed")
            await self._changed()

    def release(self) -> None:
        """Stop watching the socket and close it (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        self._loop.remove_reader(self.sock.fileno())
        self.sock.close()
        for fut in self._waiters:
            if not fut.done():
                fut.set_result(None)


Handler = Callable[[AsyncConnection], Awaitable[None]]


class AsyncServer:
    """A listener that hands each established connection to ``handler`` in its own task."""

    def __init__(
        self,
        handler: Handler,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        config: Config | None = None,
        loss: float = 0.0,
        seed: int | None = None,
        max_half_open: int = 1024,
        tracer: Tracer | None = None,
    ) -> None:
        self.handler = handler
        self.host, self.port = host, port
        self.config = config or Config()
        self._rng = random.Random(seed)
        self.loss = Loss(loss, self._rng)
        self.listener = Listener(
            self.config, rng=self._rng, max_half_open=max_half_open, tracer_for=lambda _name: tracer
        )
        self.connections: dict[int, AsyncConnection] = {}
        self._peers: dict[Address, AsyncConnection] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.errors: list[FsmTcpError] = []
        self.completed = 0
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> Address:
        self._loop = asyncio.get_running_loop()
        self._sock = _udp_socket((self.host, self.port))
        self._loop.add_reader(self._sock.fileno(), self._readable)
        address: Address = self._sock.getsockname()
        self.port = address[1]
        return address

    @property
    def address(self) -> Address:
        return (self.host, self.port)

    def _readable(self) -> None:
        assert self._sock is not None and self._loop is not None
        for _ in range(64):
            try:
                data, addr = self._sock.recvfrom(RECV_BUFFER)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            new = self.listener.receive_datagram(data, addr, self._loop.time())
            for gone in self.listener.take_evicted():  # SYN flood: free the oldest half-open
                victim = self._peers.get(gone.peer) if gone.peer else None
                if victim is not None:
                    victim.service()  # wakes its task, which sees CLOSED and releases it
            if new is not None:
                self._adopt(new)
            else:
                existing = self._by_peer(addr)
                if existing is not None:
                    existing.service()  # answer from the connection's own socket

    def _by_peer(self, addr: Address) -> AsyncConnection | None:
        return self._peers.get(addr)

    def _adopt(self, conn: Connection) -> None:
        try:
            sock = _udp_socket((self.host, 0))
        except OSError:
            conn.close(self._loop.time() if self._loop else 0.0)  # out of sockets: refuse
            return
        ac = AsyncConnection(conn, sock, self.loss)
        self.connections[id(ac)] = ac
        if conn.peer is not None:
            self._peers[conn.peer] = ac
        ac.service()
        task = asyncio.get_running_loop().create_task(self._run(ac))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _run(self, ac: AsyncConnection) -> None:
        try:
            await ac.until(lambda: ac.conn.is_established or ac.conn.is_closed)
            if ac.conn.is_established:
                await self.handler(ac)
                self.completed += 1
        except FsmTcpError as exc:
            self.errors.append(exc)
        finally:
            ac.release()
            self.listener.forget(ac.conn)
            self.connections.pop(id(ac), None)
            if ac.conn.peer is not None and self._peers.get(ac.conn.peer) is ac:
                del self._peers[ac.conn.peer]

    async def close(self) -> None:
        """Stop listening; cancel handlers still running and free every socket."""
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
        if self._sock is not None and self._loop is not None:
            self._loop.remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None


async def open_connection(
    address: Address,
    *,
    config: Config | None = None,
    bind: Address = ("127.0.0.1", 0),
    loss: float = 0.0,
    seed: int | None = None,
    tracer: Tracer | None = None,
) -> AsyncConnection:
    """Connect to a server (any PROTOCOL.md implementation) and return once established."""
    rng = random.Random(seed)
    conn = Connection(config, rng=rng, tracer=tracer, name="client")
    ac = AsyncConnection(conn, _udp_socket(bind), Loss(loss, rng))
    conn.connect(tuple(address), asyncio.get_running_loop().time())
    ac.service()
    try:
        await ac.until(lambda: conn.is_established or conn.is_closed)
    except FsmTcpError:
        ac.release()
        raise
    if not conn.is_established:
        ac.release()
        raise conn.error or ConnectionClosed("connect failed")
    return ac
