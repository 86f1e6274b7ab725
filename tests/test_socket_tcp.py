"""SocketTCP over real UDP on 127.0.0.1: the course's own test program, unchanged, in threads
and across processes (where both ends busy-poll), and the driver's wait."""

from __future__ import annotations

import errno
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from netutil import spawn

from fsm_tcp import SocketTCP, SocketUDP, socket_tcp
from fsm_tcp.engine import Closed
from fsm_tcp.errors import ConnectionClosed, ConnectionTimeout, InvalidArgument, MalformedSegment
from fsm_tcp.socket_tcp import default_busy_poll

FAST = {"initial_rto": 0.05, "max_retries": 20}


def course_server(server: SocketTCP, read: list[bytes] | None = None) -> tuple[bytes, bytes, bytes]:
    # the course's server5/server8 test, unchanged but for returning what it read (and
    # putting each read in ``read`` as it comes)
    read = [] if read is None else read
    connection, _address = server.accept()
    buff_size = 16
    full_message = connection.recv(buff_size)
    first = full_message
    read.append(first)
    buff_size = 19
    full_message = connection.recv(buff_size)
    second = full_message
    read.append(second)
    buff_size = 14
    message_part_1 = connection.recv(buff_size)
    message_part_2 = connection.recv(buff_size)
    read.append(message_part_1 + message_part_2)
    connection.recv_close()
    return first, second, message_part_1 + message_part_2


def course_client(client: SocketTCP, address: tuple[str, int]) -> None:
    client.connect(address)
    client.send("Mensje de len=16".encode())
    client.send("Mensaje de largo 19".encode())
    client.send("Mensaje de largo 19".encode())
    client.close()


def run_course_test(loss: float, seed: int) -> None:
    server = SocketTCP(loss_rate=loss, seed=seed, **FAST)
    server.bind(("127.0.0.1", 0))
    read: list[bytes] = []
    worker = spawn(lambda: course_server(server, read))
    client = SocketTCP(loss_rate=loss, seed=seed + 1000, **FAST)
    try:
        course_client(client, server.getsockname())
        assert client.conn is not None
        reasons = [e.reason for e in iter(client.conn.next_event, None) if isinstance(e, Closed)]
        if reasons == ["no answer to FIN; peer assumed gone"]:
            # PROTOCOL.md 4: close() gives up after 3 FINs go unanswered; when all three
            # are lost (0.8% at 20% loss) recv_close() outwaits any sender (minutes), so
            # only the data is checked
            worker.join(2)
        else:
            worker.outcome(60)
    finally:
        server.close()
        client.close()
    assert read == [b"Mensje de len=16", b"Mensaje de largo 19", b"Mensaje de largo 19"]


def test_course_program_without_loss() -> None:
    run_course_test(0.0, 1)


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_course_program_with_20_percent_loss_both_ends(seed: int) -> None:
    run_course_test(0.2, seed)


def test_accept_returns_a_socket_on_a_new_port() -> None:
    server = SocketTCP()
    server.bind(("127.0.0.1", 0))
    worker = spawn(server.accept)
    client = SocketTCP()
    client.connect(server.getsockname())
    child, address = worker.outcome()
    try:
        assert child.getsockname() != server.getsockname()
        assert address[1] == client.getsockname()[1]  # the client is unbound: 0.0.0.0:port
        assert client.conn is not None and client.conn.peer == child.getsockname()
        reader = spawn(lambda: child.recv(100))  # a blocking socket works only inside calls
        client.send(b"\x00|||\xff")  # bytes, never text
        assert reader.outcome() == b"\x00|||\xff"
    finally:
        closer = spawn(child.recv_close)
        client.close()
        closer.outcome()
        server.close()


def test_recv_message_and_data_both_ways() -> None:
    server = SocketTCP()
    server.bind(("127.0.0.1", 0))

    def serve() -> list[bytes | None]:
        conn, _ = server.accept()
        with conn:
            request = conn.recv_message()
            conn.send(b"echo:" + (request or b""))
            return [request, conn.recv_message(), conn.recv_message()]

    worker = spawn(serve)
    client = SocketTCP()
    client.connect(server.getsockname())
    client.send(b"x" * 1000)
    assert client.recv(2000) == b"echo:" + b"x" * 1000
    client.send(b"")
    client.close()
    assert worker.outcome() == [b"x" * 1000, b"", None]
    server.close()


def test_connect_to_nobody_times_out_with_a_typed_error() -> None:
    silent = SocketUDP()
    silent.bind(("127.0.0.1", 0))
    client = SocketTCP(initial_rto=0.01, max_rto=0.05, max_retries=3)
    try:
        with pytest.raises(ConnectionTimeout, match="handshake"):
            client.connect(silent.getsockname())
    finally:
        silent.close()
        client.close()


def test_misuse_raises_typed_errors() -> None:
    with pytest.raises(InvalidArgument, match="unknown SocketTCP option"):
        SocketTCP(lossrate=0.1)
    with pytest.raises(InvalidArgument, match="probability"):
        SocketTCP(loss_rate=1.5)
    with SocketTCP() as unconnected, pytest.raises(ConnectionClosed, match="not connected"):
        unconnected.recv(10)


def test_course_helpers_parse_and_create_segments() -> None:
    fields = SocketTCP.parse_segment(b"0|||1|||0|||98|||\xff|||")
    assert fields == {"SYN": 0, "ACK": 1, "FIN": 0, "SEQ": 98, "DATA": b"\xff|||"}
    assert SocketTCP.create_segment(fields) == b"0|||1|||0|||98|||\xff|||"
    seed_form = {"headers": {"SYN": 1, "ACK": 0, "FIN": 0, "seq": 5}, "body": ""}
    assert SocketTCP.create_segment(seed_form) == b"1|||0|||0|||5|||"
    with pytest.raises(MalformedSegment):
        SocketTCP.create_segment({"SYN": 1})
    with pytest.raises(MalformedSegment):
        SocketTCP.parse_segment(b"nope")


# ---------------------------------------------------------------------- busy-polling
def _peer(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("course_peer.py")), *args],
        stdout=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize(("loss", "seed"), [(0.0, 1), (0.2, 2), (0.2, 3)])
def test_course_program_across_processes_busy_polls_on_both_ends(loss: float, seed: int) -> None:
    server = _peer("server", str(loss), str(seed))
    client: subprocess.Popen[str] | None = None
    try:
        assert server.stdout is not None
        port = server.stdout.readline().strip()
        client = _peer("client", port, str(loss), str(seed + 1000))
        client_out, _ = client.communicate(timeout=60)
        server_out, _ = server.communicate(timeout=60)
    finally:
        for proc in (server, client):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    assert server.returncode == 0 and client.returncode == 0
    read, server_spins = server_out.splitlines()
    assert [bytes.fromhex(part) for part in read.split()] == [
        b"Mensje de len=16",
        b"Mensaje de largo 19",
        b"Mensaje de largo 19",
    ]
    # alone in their processes with 2+ CPUs, the ends take answers while spinning; with
    # the other test worker busy on the second CPU one end may catch none, so the claim is
    # for the pair (CI once saw a server with no hit at all)
    expect_spins = default_busy_poll() > 0
    lines = (server_spins, client_out.splitlines()[-1])
    assert all(line.startswith("spin_hits ") for line in lines), lines
    hits = [int(line.split()[1]) for line in lines]
    assert (sum(hits) > 0) == expect_spins, hits


def _udp_pair() -> tuple[SocketUDP, SocketUDP]:
    a, b = SocketUDP(), SocketUDP()
    a.bind(("127.0.0.1", 0))
    b.bind(("127.0.0.1", 0))
    return a, b


def test_a_spinning_wait_takes_a_waiting_datagram_without_sleeping(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, b = _udp_pair()
    try:
        a.sendto(b"0|||1|||0|||16|||", b.getsockname())
        time.sleep(0.01)  # delivered on loopback
        monkeypatch.setattr(b, "_sleep", lambda _t: pytest.fail("slept although spinning"))
        got = b.recv_wait(1.0, spin=0.5)
        assert got is not None and got[0] == b"0|||1|||0|||16|||" and b.spin_hits == 1
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize(("timeout", "spin"), [(0.05, 0.01), (0.005, 0.5)])
def test_a_spinning_wait_keeps_its_timeout(
    monkeypatch: pytest.MonkeyPatch, timeout: float, spin: float
) -> None:
    a, b = _udp_pair()
    sleeps: list[float | None] = []
    sleep = b._sleep

    def recorded(t: float | None) -> bool:
        sleeps.append(t)
        return sleep(t)

    monkeypatch.setattr(b, "_sleep", recorded)
    try:
        start = time.monotonic()
        assert b.recv_wait(timeout, spin=spin) is None
        elapsed = time.monotonic() - start
        assert timeout <= elapsed < timeout + 0.5
        # spin first, then sleep what is left of the timeout (nothing, if the spin was longer)
        (left,) = sleeps
        assert left is not None and left <= max(0.0, timeout - spin) + 1e-3
    finally:
        a.close()
        b.close()


def test_recvfrom_after_a_driver_wait_blocks_as_settimeout_says() -> None:
    a, b = _udp_pair()
    try:
        b.settimeout(0.05)
        assert b.recv_wait(0.001, spin=0.001) is None  # leaves the socket non-blocking
        start = time.monotonic()
        with pytest.raises(TimeoutError):
            b.recvfrom()
        assert time.monotonic() - start >= 0.04
        a.sendto(b"x", b.getsockname())
        assert b.recvfrom() == (b"x", a.getsockname())
    finally:
        a.close()
        b.close()


def test_busy_poll_is_bounded_and_off_with_one_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    for bad in (-0.1, 1.5):
        with pytest.raises(InvalidArgument, match="busy_poll"):
            SocketTCP(busy_poll=bad)
    with SocketTCP(busy_poll=0.0) as sock:
        assert sock.busy_poll == 0.0
    monkeypatch.setattr(socket_tcp, "_cpus", lambda: 1)
    with SocketTCP() as sock:
        assert sock.busy_poll == 0.0
    monkeypatch.setattr(socket_tcp, "_cpus", lambda: 2)
    with SocketTCP() as sock:
        assert sock.busy_poll == socket_tcp.BUSY_POLL


def test_a_spinning_wait_without_a_timeout_sleeps_until_a_datagram_comes() -> None:
    a, b = _udp_pair()
    try:
        late = spawn(lambda: (time.sleep(0.05), a.sendto(b"late", b.getsockname())))
        got = b.recv_wait(None, spin=0.001)  # spins 1 ms, then sleeps without a limit
        late.outcome()
        assert got == (b"late", a.getsockname()) and b.spin_hits == 0
    finally:
        a.close()
        b.close()


def _received(sock: SocketUDP, count: int) -> list[bytes]:
    sock.settimeout(5)
    got = []
    for _ in range(count):
        packet = sock.recvfrom()
        assert packet is not None
        got.append(packet[0])
    return got


@pytest.mark.parametrize("gso", [True, False])
def test_send_all_delivers_every_datagram_in_order_with_or_without_segmentation(
    gso: bool,
) -> None:
    a, b = _udp_pair()
    c = SocketUDP()
    c.bind(("127.0.0.1", 0))
    try:
        a.gso = gso and a.gso  # where the system has no UDP_SEGMENT, both are the fallback
        to_b, to_c = b.getsockname(), c.getsockname()
        # a run of 70 equal datagrams (more than one segmented send takes), a shorter last
        # one, a change of size, another address, and a lone datagram
        run = [b"%04d" % i + b"x" * 996 for i in range(70)] + [b"short"]
        other = [b"y" * 300, b"z" * 300]
        a.send_all([(d, to_b) for d in run] + [(d, to_c) for d in other] + [(b"end", to_b)])
        assert _received(b, len(run) + 1) == [*run, b"end"]
        assert _received(c, 2) == other
        assert a.sent == len(run) + len(other) + 1
        assert (a.gso_sends > 0) == a.gso  # segmented sends where the kernel takes them
    finally:
        for sock in (a, b, c):
            sock.close()


def test_send_all_with_faults_sends_one_by_one() -> None:
    a, b = _udp_pair()
    try:
        a.dup_rate = 1.0  # every datagram twice: only sendto knows how
        a.send_all([(b"one", b.getsockname()), (b"two", b.getsockname())])
        assert _received(b, 4) == [b"one", b"one", b"two", b"two"]
        assert a.gso_sends == 0
    finally:
        a.close()
        b.close()


def test_send_all_falls_back_to_plain_sends_where_the_kernel_refuses_segmentation() -> None:
    class NoGso(socket.socket):
        def sendmsg(self, *args: object, **kw: object) -> int:
            raise OSError(errno.EINVAL, "no UDP_SEGMENT here")

    a = SocketUDP(sock=NoGso(socket.AF_INET, socket.SOCK_DGRAM))
    b = SocketUDP()
    a.bind(("127.0.0.1", 0))
    b.bind(("127.0.0.1", 0))
    try:
        a.gso = True
        sent = [b"%03d" % i for i in range(5)]
        a.send_all([(d, b.getsockname()) for d in sent])
        assert _received(b, 5) == sent
        assert not a.gso and a.gso_sends == 0  # off after the first refusal
    finally:
        a.close()
        b.close()
