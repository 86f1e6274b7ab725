"""The engine against PROTOCOL.md, segment by segment, with a scripted peer."""

from __future__ import annotations

import gc
import itertools
import random
import weakref

import pytest

from fsm_tcp import machines as M
from fsm_tcp.engine import Closed, Config, Connection, Established, MessageReceived, MessageSent
from fsm_tcp.errors import (
    ConnectionClosed,
    ConnectionTimeout,
    InvalidArgument,
    MessageTooLarge,
    ProtocolViolation,
)
from fsm_tcp.listener import Listener

L = ("10.0.0.1", 8000)  # the listener
N = ("10.0.0.1", 8001)  # the server's connection socket
C = ("10.0.0.2", 5000)  # the client
CFG = Config(initial_rto=1.0, min_rto=1.0, max_rto=4.0, max_retries=3)


def out(conn: Connection) -> list[tuple[bytes, tuple[str, int]]]:
    return conn.datagrams_to_send()  # type: ignore[return-value]


def wire(conn: Connection) -> list[bytes]:
    return [d for d, _ in out(conn)]


def events(conn: Connection) -> list[object]:
    evs = []
    while (ev := conn.next_event()) is not None:
        evs.append(ev)
    return evs


def client(isn_seed: int = 1) -> tuple[Connection, int]:
    conn = Connection(CFG, rng=random.Random(isn_seed))
    conn.connect(L, 0.0)
    ((syn, dst),) = out(conn)
    assert dst == L and syn.startswith(b"1|||0|||0|||") and syn.endswith(b"|||")
    isn = int(syn.split(b"|||")[3])
    assert 0 <= isn <= 100  # PROTOCOL.md 2: the course's range
    return conn, isn


def established_client() -> tuple[Connection, int]:
    conn, x = client()
    conn.receive_datagram(b"1|||1|||0|||%d|||" % (x + 1), N, 0.1)
    assert wire(conn) == [b"0|||1|||0|||%d|||" % (x + 2)]
    events(conn)
    return conn, x + 2


def established_server(x: int = 40) -> Connection:
    lst = Listener(CFG, rng=random.Random(0))
    conn = lst.receive_datagram(b"1|||0|||0|||%d|||" % x, C, 0.0)
    assert conn is not None
    out(conn)
    conn.receive_datagram(b"0|||1|||0|||%d|||" % (x + 2), C, 0.1)
    events(conn)
    return conn


# ------------------------------------------------------------------------ handshake
def test_client_handshake_learns_the_connection_socket() -> None:
    conn, x = client()
    conn.receive_datagram(b"1|||1|||0|||%d|||" % (x + 1), N, 0.05)
    assert out(conn) == [(b"0|||1|||0|||%d|||" % (x + 2), N)]
    assert conn.life == M.ESTABLISHED and conn.peer == N and conn.seq == x + 2
    assert events(conn) == [Established(N)]


def test_strict_client_ignores_a_synack_with_the_wrong_seq() -> None:
    for strict in (Config(initial_rto=1.0, dialect="canonical"), Config(secure=True)):
        conn = Connection(strict, rng=random.Random(1))
        conn.connect(L, 0.0)
        x = int(wire(conn)[0].split(b"|||")[3])
        conn.receive_datagram(b"1|||1|||0|||%d|||" % (x + 7), N, 0.05)
        assert conn.life == M.SYN_SENT and out(conn) == []


def test_auto_client_takes_a_synack_in_the_servers_own_numbering() -> None:
    conn, x = client()
    conn.receive_datagram(b"1|||1|||0|||%d|||" % (x + 7), N, 0.05)
    assert conn.life == M.ESTABLISHED
    # the family that numbers its SYN-ACK so ACKs it with x+1 and starts data there
    assert wire(conn) == [b"0|||1|||0|||%d|||" % (x + 1)]
    assert next(f.variable for f in conn.dialect_findings) == "synack_seq"


def test_server_answers_from_its_connection_and_takes_the_ack_at_the_listener() -> None:
    lst = Listener(CFG)
    conn = lst.receive_datagram(b"1|||0|||0|||61|||", C, 0.0)
    assert conn is not None and out(conn) == [(b"1|||1|||0|||62|||", C)]
    # duplicate SYN: the SYN-ACK again, no second connection (PROTOCOL.md 2, tolerate)
    assert lst.receive_datagram(b"1|||0|||0|||61|||", C, 0.2) is None
    assert wire(conn) == [b"1|||1|||0|||62|||"] and len(lst) == 1
    # final ACK arriving at L instead of N, with a leading zero in SEQ
    assert lst.receive_datagram(b"0|||1|||0|||063|||", C, 0.3) is None
    assert conn.life == M.ESTABLISHED and conn.seq == 63


def test_duplicate_synack_after_established_is_re_acked() -> None:
    conn, s = established_client()
    conn.receive_datagram(b"1|||1|||0|||%d|||" % (s - 1), N, 0.5)
    # auto: to the connection socket, and to the listener, where some servers await it
    ack = b"0|||1|||0|||%d|||" % s
    assert out(conn) == [(ack, N), (ack, L)]
    assert conn.life == M.ESTABLISHED
    conn.receive_datagram(b"1|||1|||0|||%d|||" % (s - 1), N, 0.6)
    assert out(conn) == [(ack, N), (ack, L)]  # again: nothing came back, the copy may be lost
    conn.send(b"x", 0.7)
    assert len(wire(conn)) == 1  # the length segment
    conn.receive_datagram(b"0|||1|||0|||%d|||" % (s + 1), N, 0.8)  # the peer answers
    assert wire(conn) == [b"0|||0|||0|||%d|||x" % (s + 1)]
    # it answered once the ACK went to the listener too: the hint says that is where it
    # waits, and the handshake ACK goes there alone from now on (a hint, not a finding)
    assert conn.dialect_findings == []
    assert [h.variable for h in conn.dialect_hints] == ["handshake_ack_to"]
    conn.receive_datagram(b"1|||1|||0|||%d|||" % (s - 1), N, 0.9)
    assert out(conn) == [(ack, L)]


def test_strict_client_re_acks_a_duplicate_synack_to_the_connection_only() -> None:
    conn = Connection(Config(initial_rto=1.0, dialect="canonical"), rng=random.Random(1))
    conn.connect(L, 0.0)
    x = int(wire(conn)[0].split(b"|||")[3])
    conn.receive_datagram(b"1|||1|||0|||%d|||" % (x + 1), N, 0.1)
    out(conn)
    conn.receive_datagram(b"1|||1|||0|||%d|||" % (x + 1), N, 0.5)
    assert out(conn) == [(b"0|||1|||0|||%d|||" % (x + 2), N)]


def test_desync_a_data_at_x_plus_2_is_the_lost_handshake_ack() -> None:
    lst = Listener(CFG)
    conn = lst.receive_datagram(b"1|||0|||0|||10|||", C, 0.0)
    assert conn is not None
    out(conn)
    conn.receive_datagram(b"0|||0|||0|||12|||19", C, 0.2)
    assert conn.life == M.ESTABLISHED and conn.rx == M.RX_DATA
    assert wire(conn) == [b"0|||1|||0|||14|||"]


def test_syn_is_retransmitted_then_the_connect_times_out() -> None:
    conn, _ = client()
    t, sends = 0.0, 0
    while conn.get_timer() is not None:
        t = conn.get_timer() or t
        conn.handle_timer(t)
        sends += len(wire(conn))
    assert sends == CFG.max_retries  # each expiry but the last resends the SYN
    assert conn.life == M.CLOSED and isinstance(conn.error, ConnectionTimeout)
    assert t <= CFG.give_up_bound()
    assert isinstance(events(conn)[-1], Closed)


# ----------------------------------------------------------------------------- data
def test_send_is_a_length_segment_then_16_byte_chunks() -> None:
    conn, s = established_client()
    conn.send(b"Mensaje de largo 19", 1.0)
    assert wire(conn) == [b"0|||0|||0|||%d|||19" % s]
    conn.receive_datagram(b"0|||1|||0|||%d|||" % (s + 2), N, 1.1)
    assert wire(conn) == [b"0|||0|||0|||%d|||Mensaje de largo" % (s + 2)]
    conn.receive_datagram(b"0|||1|||0|||%d|||" % (s + 18), N, 1.2)
    assert wire(conn) == [b"0|||0|||0|||%d||| 19" % (s + 18)]
    conn.receive_datagram(b"0|||1|||0|||%d|||" % (s + 21), N, 1.3)
    assert wire(conn) == [] and events(conn) == [MessageSent(19)]
    assert conn.seq == s + 21 and conn.tx == M.TX_IDLE


def test_zero_length_message_is_a_length_segment_alone() -> None:
    conn, s = established_client()
    conn.send(b"", 1.0)
    assert wire(conn) == [b"0|||0|||0|||%d|||0" % s]
    conn.receive_datagram(b"0|||1|||0|||%d|||" % (s + 1), N, 1.1)
    assert events(conn) == [MessageSent(0)] and conn.tx == M.TX_IDLE


def test_stale_ack_is_ignored_and_timeout_retransmits_the_same_bytes() -> None:
    conn, s = established_client()
    conn.send(b"abc", 1.0)
    (length,) = wire(conn)
    conn.receive_datagram(b"0|||1|||0|||%d|||" % s, N, 1.1)  # old ACK: nothing moves
    assert wire(conn) == [] and conn.tx == M.TX_LENGTH
    deadline = conn.get_timer()
    assert deadline is not None
    conn.handle_timer(deadline)
    assert wire(conn) == [length] and conn.stats.retransmissions == 1


def test_receiver_acks_by_bytes_and_re_acks_duplicates_and_gaps() -> None:
    conn = established_server(40)
    conn.receive_datagram(b"0|||0|||0|||42|||5", C, 1.0)
    assert wire(conn) == [b"0|||1|||0|||43|||"]
    conn.receive_datagram(b"0|||0|||0|||42|||5", C, 1.1)  # duplicate length
    assert wire(conn) == [b"0|||1|||0|||43|||"]
    conn.receive_datagram(b"0|||0|||0|||45|||lo", C, 1.2)  # beyond expected: dropped
    assert wire(conn) == [b"0|||1|||0|||43|||"]
    conn.receive_datagram(b"0|||0|||0|||43|||he|||", C, 1.3)
    assert wire(conn) == [b"0|||1|||0|||48|||"]
    assert conn.receive(10) == b"he|||"
    assert events(conn) == [MessageReceived(5)]


def test_recv_never_returns_bytes_of_the_next_message() -> None:
    conn = established_server(0)
    for datagram in (
        b"0|||0|||0|||2|||3",
        b"0|||0|||0|||3|||abc",
        b"0|||0|||0|||6|||2",
        b"0|||0|||0|||7|||de",
    ):
        conn.receive_datagram(datagram, C, 1.0)
    assert conn.receive(100) == b"abc"
    assert conn.receive(1) == b"d"
    assert conn.receive(100) == b"e"
    assert conn.receive(100) is None


def test_message_larger_than_the_limit_is_refused() -> None:
    conn = established_server(0)
    conn.config = Config(max_message_size=10)
    conn.receive_datagram(b"0|||0|||0|||2|||11", C, 1.0)
    assert isinstance(conn.error, MessageTooLarge)
    assert conn.life == M.CLOSED
    with pytest.raises(MessageTooLarge, match="11-byte message"):
        conn.receive(5)


def test_peer_that_vanishes_mid_send_gives_a_timeout_within_the_bound() -> None:
    conn, _ = established_client()
    conn.send(b"x" * 40, 1.0)
    t = 1.0
    while (deadline := conn.get_timer()) is not None:
        t = deadline
        conn.handle_timer(t)
    assert isinstance(conn.error, ConnectionTimeout) and conn.life == M.CLOSED
    assert t - 1.0 <= CFG.give_up_bound()
    with pytest.raises(ConnectionTimeout):
        conn.receive(1)
    with pytest.raises(ConnectionClosed):
        conn.send(b"more", t)


def test_a_waiting_reader_is_bounded_too() -> None:
    conn = established_server(0)
    assert conn.receive(16) is None
    t = 1.0
    while (deadline := conn.get_timer()) is not None:
        t = deadline
        conn.handle_timer(t)
    assert isinstance(conn.error, ConnectionTimeout)
    # a reader outwaits any sender: twice the longest a sender keeps retransmitting
    assert CFG.give_up_bound() < t <= 2 * CFG.give_up_bound() + 0.1


def test_a_reader_waiting_between_messages_is_bounded_too() -> None:
    """recvfile and recv_message wait for the next message's length, not for its bytes:
    that wait once had no deadline, and a server whose sender vanished between two
    messages of a stream waited for ever."""
    conn = established_server(0)
    assert conn.next_message_length() is None
    conn.await_message()
    t = 1.0
    while (deadline := conn.get_timer()) is not None:
        t = deadline
        conn.handle_timer(t)
    assert isinstance(conn.error, ConnectionTimeout) and conn.at_eof
    assert CFG.give_up_bound() < t <= 2 * CFG.give_up_bound() + 0.1


def test_waiting_for_a_message_already_announced_arms_nothing() -> None:
    conn = established_server(0)
    conn.receive_datagram(b"0|||0|||0|||2|||5", C, 1.0)  # a 5-byte message's length
    before = conn.get_timer()
    conn.await_message()
    assert conn.next_message_length() == 5 and conn.get_timer() == before


# ------------------------------------------------------------------------- teardown
def test_close_is_fin_then_finack_then_three_last_acks_one_timeout_apart() -> None:
    conn, y = established_client()
    conn.close(2.0)
    assert wire(conn) == [b"0|||0|||1|||%d|||" % y] and conn.life == M.FIN_WAIT_1
    conn.receive_datagram(b"0|||1|||1|||%d|||" % (y + 1), N, 2.1)
    acks, times = wire(conn), [2.1]
    while (deadline := conn.get_timer()) is not None:
        conn.handle_timer(deadline)
        acks += wire(conn)
        times.append(deadline)
    assert acks == [b"0|||1|||0|||%d|||" % (y + 2)] * 3
    assert conn.life == M.CLOSED and conn.error is None
    gaps = [round(b - a, 6) for a, b in itertools.pairwise(times)]
    assert len(set(gaps)) == 1  # one (unchanged) timeout between sends


def test_close_without_answer_gives_up_after_three_timeouts() -> None:
    conn, y = established_client()
    conn.close(2.0)
    fins = wire(conn)
    while (deadline := conn.get_timer()) is not None:
        conn.handle_timer(deadline)
        fins += wire(conn)
    assert fins == [b"0|||0|||1|||%d|||" % y] * 3
    assert conn.life == M.CLOSED and conn.error is None
    assert "peer assumed gone" in events(conn)[-1].reason  # type: ignore[attr-defined]


def test_recv_close_answers_fin_with_finack_and_closes_on_the_last_ack() -> None:
    conn = established_server(40)
    conn.expect_close(1.0)
    conn.receive_datagram(b"0|||0|||1|||42|||", C, 1.5)
    assert wire(conn) == [b"0|||1|||1|||43|||"] and conn.life == M.LAST_ACK
    conn.receive_datagram(b"0|||0|||1|||42|||", C, 1.6)  # duplicate FIN: answered again
    assert wire(conn) == [b"0|||1|||1|||43|||"]
    conn.receive_datagram(b"0|||1|||0|||44|||", C, 1.7)
    assert conn.life == M.CLOSED and conn.error is None
    assert conn.receive(10) == b""


def test_recv_close_tolerates_a_last_ack_with_the_fin_flag() -> None:
    conn = established_server(40)
    conn.receive_datagram(b"0|||0|||1|||42|||", C, 1.5)
    out(conn)
    conn.receive_datagram(b"0|||1|||1|||44|||", C, 1.6)
    assert conn.life == M.CLOSED


def test_recv_close_closes_after_three_timeouts_without_the_last_ack() -> None:
    conn = established_server(40)
    conn.receive_datagram(b"0|||0|||1|||42|||", C, 1.5)
    t = 1.5
    while (deadline := conn.get_timer()) is not None:
        t = deadline
        conn.handle_timer(t)
    assert conn.life == M.CLOSED and conn.error is None
    assert t == pytest.approx(1.5 + 3 * conn.rto.rto)


def test_close_tolerates_a_four_segment_close() -> None:
    conn, y = established_client()
    conn.close(2.0)
    out(conn)
    conn.receive_datagram(b"0|||1|||0|||%d|||" % (y + 1), N, 2.1)
    assert conn.life == M.FIN_WAIT_2
    conn.receive_datagram(b"0|||0|||1|||%d|||" % (y + 1), N, 2.2)
    assert conn.life == M.TIME_WAIT
    assert wire(conn) == [b"0|||1|||0|||%d|||" % (y + 2)]


def test_desync_b_stale_data_after_the_last_message_is_re_acked() -> None:
    conn = established_server(40)
    conn.receive_datagram(b"0|||0|||0|||42|||2", C, 1.0)
    conn.receive_datagram(b"0|||0|||0|||43|||hi", C, 1.1)
    out(conn)
    conn.expect_close(1.2)
    conn.receive_datagram(b"0|||0|||0|||43|||hi", C, 1.3)  # its ACK was lost
    assert wire(conn) == [b"0|||1|||0|||45|||"] and conn.rx == M.RX_LENGTH
    conn.receive_datagram(b"0|||0|||1|||45|||", C, 1.4)
    assert wire(conn) == [b"0|||1|||1|||46|||"]
    assert conn.receive(10) == b"hi"


def test_fin_in_the_middle_of_a_message_is_a_protocol_violation() -> None:
    conn = established_server(40)
    conn.receive_datagram(b"0|||0|||0|||42|||5", C, 1.0)
    conn.receive_datagram(b"0|||0|||0|||43|||ab", C, 1.1)
    conn.receive_datagram(b"0|||0|||1|||45|||", C, 1.2)
    assert conn.life == M.LAST_ACK
    assert conn.receive(2) == b"ab"
    with pytest.raises(ProtocolViolation, match="3 bytes of a 5-byte message"):
        conn.receive(2)


# --------------------------------------------------------------------- robustness
def test_malformed_and_foreign_datagrams_change_nothing() -> None:
    conn = established_server(40)
    before = (conn.life, conn.tx, conn.rx, conn.seq)
    conn.receive_datagram(b"garbage", C, 1.0)
    conn.receive_datagram(b"0|||0|||0|||42|||7", ("6.6.6.6", 1), 1.0)
    assert (conn.life, conn.tx, conn.rx, conn.seq) == before
    assert conn.stats.malformed == 1 and conn.stats.foreign == 1 and out(conn) == []


def test_bad_arguments_raise_typed_errors() -> None:
    conn = established_server(40)
    with pytest.raises(InvalidArgument):
        conn.receive(0)
    with pytest.raises(InvalidArgument):
        conn.send("text", 1.0)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        Config(mss=0)
    with pytest.raises(ConnectionClosed):
        conn.connect(L, 1.0)


def test_secure_mode_uses_32_bit_initial_sequence_numbers() -> None:
    isns = set()
    for seed in range(20):
        conn = Connection(Config(secure=True), rng=random.Random(seed))
        conn.connect(L, 0.0)
        isns.add(int(wire(conn)[0].split(b"|||")[3]))
    assert max(isns) > 100 and all(i < 2**32 for i in isns)


def test_an_express_answer_is_not_queued_again_and_a_false_claim_is_refused() -> None:
    server = established_server(40)  # expects SEQ 42 on
    server.receive(1000)  # the application waits for data
    server.receive_datagram(b"0|||0|||0|||42|||80", C, 0.2)  # length segment
    server.receive_datagram(b"0|||0|||0|||44|||" + bytes(16), C, 0.3)  # first chunk
    # auto promises nothing until the sender's next chunk confirms how it numbers data
    assert server.express is None
    server.receive_datagram(b"0|||0|||0|||60|||" + bytes(16), C, 0.35)
    assert wire(server) == [b"0|||1|||0|||44|||", b"0|||1|||0|||60|||", b"0|||1|||0|||76|||"]
    # steady state: the next full chunk is promised its ACK
    assert server.express == (b"0|||0|||0|||76|||", 33, b"0|||1|||0|||92|||", C)
    sent_before = server.stats.segments_sent
    chunk = b"0|||0|||0|||76|||" + b"x" * 16
    assert server.express_answer(chunk, C) == b"0|||1|||0|||92|||"  # a driver asks first
    server.receive_datagram(chunk, C, 0.4, answered=True)
    assert wire(server) == []  # the driver has sent it
    assert server.stats.segments_sent == sent_before + 1
    assert server.express is not None and server.express[2] == b"0|||1|||0|||108|||"
    short = b"0|||0|||0|||92|||" + b"y" * 15
    assert server.express_answer(short, C) is None
    with pytest.raises(ProtocolViolation, match="express"):
        server.receive_datagram(short, C, 0.5, answered=True)
    # the last chunk fires a trigger: no promise for it
    server.receive_datagram(b"0|||0|||0|||92|||" + b"y" * 16, C, 0.6)
    assert server.express is None


def test_a_burst_is_acked_every_second_segment_and_anything_out_of_order_at_once() -> None:
    conn = established_server(40)  # the peer's next SEQ: 42
    conn.receive_datagram(b"0|||0|||0|||42|||64", C, 1.0, more=True)  # a 64-byte message
    assert out(conn) == [(b"0|||1|||0|||44|||", C)]  # the length: flushed with the output
    conn.receive_datagram(b"0|||0|||0|||44|||" + b"a" * 16, C, 1.0, more=True)
    assert not conn.outbox.out  # in order, more queued: its ACK may wait for the next one's
    conn.receive_datagram(b"0|||0|||0|||60|||" + b"b" * 16, C, 1.0, more=True)
    assert conn.outbox.out == [(b"0|||1|||0|||76|||", C)]  # the second: one ACK for both
    conn.receive_datagram(b"0|||0|||0|||60|||" + b"b" * 16, C, 1.0, more=True)  # a repeat
    assert out(conn) == [(b"0|||1|||0|||76|||", C), (b"0|||1|||0|||76|||", C)]  # at once
    conn.receive_datagram(b"0|||0|||0|||92|||" + b"d" * 16, C, 1.0, more=True)  # ahead
    assert out(conn) == [(b"0|||1|||0|||76|||92-108", C)]  # at once, with a SACK block


def test_a_dropped_connection_is_freed_without_the_cycle_collector() -> None:
    """A listener under a SYN flood drops half-open connections by the thousand: each must
    go when its last reference does (its parts hold it weakly), not wait for gc."""
    gc.disable()
    try:
        conn = established_server(40)
        conn.receive_datagram(b"0|||0|||0|||42|||64", C, 1.0)  # a message under way
        ref = weakref.ref(conn)
        del conn
        assert ref() is None
    finally:
        gc.enable()
