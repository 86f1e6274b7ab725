"""Under attack and abuse: garbage, off-path injection, floods and limits (issue 5)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import tracemalloc
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from netutil import spawn
from strategies import buff_sizes, messages, schedules

from fsm_tcp import SocketTCP
from fsm_tcp.aio import AsyncConnection, AsyncServer, open_connection
from fsm_tcp.engine import Config, Connection
from fsm_tcp.errors import ConnectionTimeout, MalformedSegment
from fsm_tcp.listener import Listener
from fsm_tcp.segment import encode, parse
from fsm_tcp.sim import CLIENT_ADDR, FIRST_CONNECTION, SERVER_ADDR, Fault, run_lifecycle

CFG = Config(max_retries=12)
ATTACKER = ("attacker", 6666)


def malformed(data: bytes) -> bool:
    try:
        parse(data)
    except MalformedSegment:
        return True
    return False


_fields = st.sampled_from([b"0", b"1", b"2", b"", b"x", b"-1", b"01", b"1" * 25, b"+3", b" 4"])
near_misses = st.one_of(
    st.lists(_fields, min_size=0, max_size=7).map(lambda fs: b"|||".join(fs)),
    st.tuples(_fields, _fields, _fields, _fields, st.binary(max_size=20)).map(
        lambda t: b"|||".join(t)
    ),
).filter(malformed)
garbage = st.one_of(st.binary(max_size=64).filter(malformed), near_misses)
times = st.floats(min_value=0.0, max_value=0.3)


@given(
    messages,
    schedules,
    buff_sizes,
    st.lists(st.tuples(times, garbage), max_size=25),
    st.lists(st.tuples(times, st.binary(max_size=40), st.integers(0, 300)), max_size=15),
)
def test_garbage_and_off_path_segments_change_nothing(
    sent: list[bytes],
    schedule: list[Fault],
    sizes: list[int],
    spoofed_garbage: list[tuple[float, bytes]],
    off_path: list[tuple[float, bytes, int]],
) -> None:
    """Malformed datagrams, even from the peer's own address, and well-formed segments at
    plausible SEQs from any other address: all dropped and counted, the data exact."""
    noise = [(t, CLIENT_ADDR, FIRST_CONNECTION, d) for t, d in spoofed_garbage]
    noise += [(t, ATTACKER, SERVER_ADDR, d) for t, d in spoofed_garbage]  # at the listener
    noise += [
        (t, ATTACKER, FIRST_CONNECTION, encode(False, False, False, seq, d))
        for t, d, seq in off_path
    ]
    out = run_lifecycle(sent, schedule, buff_sizes=sizes, config=CFG, noise=noise)
    assert out.violations == [] and out.received == sent[: len(out.received)]
    if out.client_error is None:
        assert out.complete
    if out.server is not None:
        # every injected datagram that reached the connection was dropped and counted
        got = out.noise_delivered.get(FIRST_CONNECTION, 0)
        assert out.server.stats.malformed + out.server.stats.foreign == got


def _spoofed_run(secure: bool, guesses: int) -> tuple[Any, int]:
    rng = random.Random(5)
    seqs = [rng.getrandbits(32) for _ in range(guesses)]
    noise = [
        (0.002 + i * 0.0001, CLIENT_ADDR, FIRST_CONNECTION, encode(False, False, False, s, b"evil"))
        for i, s in enumerate(seqs)
    ]
    out = run_lifecycle([b"a" * 100, b"b" * 100], config=Config(secure=secure), noise=noise)
    return out, len(noise)


def test_secure_mode_drops_blind_guesses_silently() -> None:
    out, _ = _spoofed_run(True, 300)
    assert out.complete and out.server is not None
    stats = out.server.stats
    got = out.noise_delivered[FIRST_CONNECTION]
    assert got > 250 and stats.out_of_window + stats.ignored >= got
    quiet, _ = _spoofed_run(True, 0)
    assert quiet.server is not None
    assert stats.segments_sent == quiet.server.stats.segments_sent  # not one answer more
    plain, _ = _spoofed_run(False, 300)
    assert plain.complete and plain.server is not None
    # the course-compatible mode re-ACKs guesses; secure mode sends nothing for them
    assert plain.server.stats.segments_sent - stats.segments_sent > 250


def test_flood_of_10000_syns_keeps_half_open_bounded_and_a_client_gets_through() -> None:
    cfg = Config()
    lst = Listener(cfg, rng=random.Random(1), max_half_open=256)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for port in range(10_000):
        lst.receive_datagram(b"1|||0|||0|||7|||", ("10.9.9.9", port), 0.001 * port)
        lst.take_evicted()
    held = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    assert lst.half_open() <= 256 and lst.stats.half_open_dropped >= 10_000 - 256
    assert held < 256 * 64 * 1024  # bounded by the half-open limit, not by the flood
    # a legitimate client, during the flood, completes its handshake
    client = Connection(cfg, rng=random.Random(2))
    client.connect(("server", 1), 10.0)
    ((syn, _),) = client.datagrams_to_send()
    conn = lst.receive_datagram(syn, ("10.0.0.2", 5000), 10.0)
    assert conn is not None
    for data, _ in conn.datagrams_to_send():
        client.receive_datagram(data, ("server", 2), 10.001)
    for data, _ in client.datagrams_to_send():
        lst.receive_datagram(data, ("10.0.0.2", 5000), 10.002)
    assert client.is_established and conn.is_established


def test_blocking_server_past_a_flood_beyond_fd_setsize_still_accepts() -> None:
    # 1,100 half-open handshakes give the listener over a thousand child sockets, whose
    # descriptors pass select()'s FD_SETSIZE: accept() must keep waiting on all of them.
    server = SocketTCP()
    server.bind(("127.0.0.1", 0))
    address = server.getsockname()
    flood: list[socket.socket] = []
    client = SocketTCP()
    try:
        acceptor = spawn(server.accept)
        for _ in range(1_100):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            flood.append(sock)
            sock.bind(("127.0.0.1", 0))
            sock.sendto(b"1|||0|||0|||7|||", address)
        assert max(sock.fileno() for sock in flood) >= 1024
        client.connect(address)
        child, _ = acceptor.outcome(30)
        with child:
            reader = spawn(child.recv_message)
            client.send(b"through the flood")
            assert reader.outcome(30) == b"through the flood"
            client.close()
    finally:
        for sock in flood:
            sock.close()
        client.close()
        server.close()


def test_a_receiver_that_never_reads_bounds_both_ends() -> None:
    cfg = Config(receive_buffer=4096, max_retries=6)
    peer_a, peer_b = ("a", 1), ("b", 1)
    sender = Connection(cfg, rng=random.Random(1))
    lst = Listener(cfg)
    sender.connect(peer_b, 0.0)
    ((syn, _),) = sender.datagrams_to_send()
    receiver = lst.receive_datagram(syn, peer_a, 0.0)
    assert receiver is not None
    sender.send(b"z" * 100_000, 0.0)
    now = 0.0
    for _ in range(200_000):
        for data, _ in receiver.datagrams_to_send():
            sender.receive_datagram(data, peer_b, now)
        for data, _ in sender.datagrams_to_send():
            receiver.receive_datagram(data, peer_a, now)
        assert receiver.unread <= cfg.receive_buffer
        deadlines = [t for t in (sender.get_timer(), receiver.get_timer()) if t is not None]
        if sender.is_closed or not deadlines:
            break
        now = max(now + 0.0001, min(deadlines)) if not receiver.has_output else now
        sender.handle_timer(now)
        receiver.handle_timer(now)
    assert isinstance(sender.error, ConnectionTimeout)
    assert receiver.stats.window_full > 0 and receiver.unread == cfg.receive_buffer


# ----------------------------------------------------------------- a running server
def test_a_running_server_survives_garbage_and_a_syn_flood() -> None:
    async def scenario() -> None:
        got: list[bytes] = []

        async def handler(conn: AsyncConnection) -> None:
            message = await conn.recv_message()
            got.append(message or b"")
            await conn.recv_close()

        server = AsyncServer(handler, max_half_open=128)
        address = await server.start()
        rng = random.Random(3)
        junk = [rng.randbytes(rng.randrange(0, 200)) for _ in range(500)]
        junk += [b"1|||1|||1|||1|||", b"0|||0|||0|||-1|||", b"9" * 70_000]
        flood = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        flood.setblocking(False)
        for i, data in enumerate(junk):
            with contextlib.suppress(BlockingIOError, OSError):
                flood.sendto(data[:65_000], address)
            if i % 20 == 0:
                await asyncio.sleep(0.001)  # paced, or the kernel drops them before we count
        flooders = []
        for _ in range(2000):  # SYNs from distinct source ports
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            s.sendto(b"1|||0|||0|||9|||", address)
            flooders.append(s)
            if len(flooders) % 20 == 0:
                await asyncio.sleep(0.001)
        message = rng.randbytes(20_000)
        conn = await open_connection(address)
        ours = conn.sock.getsockname()
        mine = next(ac for ac in server.connections.values() if ac.conn.peer == ours)
        for data in junk[:200]:  # at the established connection's own port, mid-transfer
            with contextlib.suppress(BlockingIOError, OSError):
                flood.sendto(data[:65_000], mine.sock.getsockname())
        await conn.send(message)
        await conn.close()
        for s in flooders:
            s.close()
        flood.close()
        for _ in range(500):
            if got:
                break
            await asyncio.sleep(0.01)
        assert got == [message]
        assert mine.conn.stats.foreign > 150  # not from its peer: never touched it
        assert server.listener.stats.malformed + server.listener.stats.stray >= 400
        stats = server.listener.stats
        assert len(server.connections) <= 128 + 1
        assert stats.accepted > 1500  # most SYNs reached the listener ...
        assert stats.half_open_dropped >= stats.accepted - 128 - 1  # ... and were bounded
        await server.close()

    asyncio.run(asyncio.wait_for(scenario(), 120))


def test_the_simulator_reports_a_message_nobody_sent() -> None:
    """Its reader stops at the last message sent, so a message beyond them is checked apart:
    a length spoofed from the client's own address, at the number the client's FIN will
    take (the course-compatible mode takes what comes from the peer at the right number)."""
    sent = [b"a"]
    first = run_lifecycle(sent, config=CFG, record=True)
    assert first.complete and first.violations == [] and first.net is not None
    syn = next(r for r in first.net.log if r["data"].startswith(b"1|||0|||0|||"))
    x = int(syn["data"].split(b"|||")[3])
    # x+2: the length "1", x+3: the byte, x+4: where a next length (or the FIN) goes;
    # in between the byte (arrives at 5 ms, 1 ms a hop) and the FIN (7 ms)
    spoof = [(0.0055, CLIENT_ADDR, FIRST_CONNECTION, b"0|||0|||0|||%d|||0" % (x + 4))]
    out = run_lifecycle(sent, config=CFG, noise=spoof)
    assert out.complete
    assert out.violations == ["a message nobody sent (0 bytes) was delivered"]
