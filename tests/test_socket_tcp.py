"""SocketTCP over real UDP on 127.0.0.1: the course's own test program, unchanged."""

from __future__ import annotations

import pytest
from netutil import spawn

from fsm_tcp import SocketTCP, SocketUDP
from fsm_tcp.errors import ConnectionClosed, ConnectionTimeout, InvalidArgument, MalformedSegment

FAST = {"initial_rto": 0.05, "max_retries": 20}


def course_server(server: SocketTCP) -> tuple[bytes, bytes, bytes]:
    # the course's server5/server8 test, unchanged but for returning what it read
    connection, _address = server.accept()
    buff_size = 16
    full_message = connection.recv(buff_size)
    first = full_message
    buff_size = 19
    full_message = connection.recv(buff_size)
    second = full_message
    buff_size = 14
    message_part_1 = connection.recv(buff_size)
    message_part_2 = connection.recv(buff_size)
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
    worker = spawn(lambda: course_server(server))
    client = SocketTCP(loss_rate=loss, seed=seed + 1000, **FAST)
    try:
        course_client(client, server.getsockname())
        first, second, third = worker.outcome(60)
    finally:
        server.close()
        client.close()
    assert first == b"Mensje de len=16"
    assert second == b"Mensaje de largo 19"
    assert third == b"Mensaje de largo 19"


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
        request = conn.recv_message()
        conn.send(b"echo:" + (request or b""))
        got = [request, conn.recv_message(), conn.recv_message()]
        return got

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
    with pytest.raises(ConnectionClosed, match="not connected"):
        SocketTCP().recv(10)


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
