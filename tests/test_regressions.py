"""Exact fault schedules: the report's two desync cases, classic losses, and every schedule
hypothesis ever found failing (each kept here, named, forever)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from fsm_tcp import dialects as D
from fsm_tcp import machines as M
from fsm_tcp import scenarios
from fsm_tcp.engine import Config
from fsm_tcp.listener import Listener
from fsm_tcp.sim import Outcome, run_lifecycle

CFG = scenarios.CONFIG
OK, LOST = scenarios.OK, scenarios.LOST
MESSAGES = list(scenarios.MESSAGES)


def run(
    schedule: list[scenarios.Fault], messages: list[bytes] = MESSAGES
) -> tuple[Outcome, list[Any]]:
    out, log = scenarios.Scenario("test", "", tuple(schedule), tuple(messages)).run()
    assert out.complete and out.violations == []
    assert out.client_error is None and out.server_error is None
    assert out.client_closed and out.server_closed
    return out, log


def fired(log: list[dict[str, Any]], conn: str, trigger: str, src: str, dst: str) -> bool:
    return any(
        r["kind"] == "transition"
        and r["conn"] == conn
        and r["trigger"] == trigger
        and r["src"] == src
        and r["dst"] == dst
        for r in log
    )


def test_desync_a_last_handshake_ack_lost_while_the_client_starts_sending() -> None:
    out, log = run(list(scenarios.BY_NAME["desync_a"].schedule))
    assert fired(log, "server#1", "rcv_data", M.SYN_RCVD, M.ESTABLISHED)
    assert out.server is not None and out.server.stats.retransmissions == 0


def test_desync_b_ack_of_the_last_data_segment_lost_while_the_receiver_closes() -> None:
    out, log = run(list(scenarios.BY_NAME["desync_b"].schedule))
    assert out.net is not None
    lost = [e for e in out.net.log if e["fault"] == "drop"]
    assert lost[0]["data"] == b"0|||1|||0|||%d|||" % (out.server.seq if out.server else -1)
    assert fired(log, "server#1", "rx_duplicate", M.RX_LENGTH, M.RX_LENGTH)


def test_first_syn_lost() -> None:
    out, _ = run(list(scenarios.BY_NAME["lost_syn"].schedule))
    assert out.client is not None and out.client.stats.retransmissions >= 1


def test_synack_lost() -> None:
    _, log = run([OK, LOST])
    assert fired(log, "server#1", "rcv_syn", M.SYN_RCVD, M.SYN_RCVD) or fired(
        log, "server#1", "timeout", M.SYN_RCVD, M.SYN_RCVD
    )


def _fin_phase_start(messages: list[bytes]) -> int:
    out, _ = run([], messages)
    assert out.net is not None
    return next(i for i, e in enumerate(out.net.log) if e["data"].startswith(b"0|||0|||1|||"))


@pytest.mark.parametrize("which", ["FIN", "FIN+ACK", "ACK#1"])
def test_every_fin_phase_segment_lost_once(which: str) -> None:
    start = _fin_phase_start(MESSAGES)
    offset = {"FIN": 0, "FIN+ACK": 1, "ACK#1": 2}[which]
    out = run([OK] * (start + offset) + [LOST])[0]
    assert out.net is not None
    dropped = [e["data"] for e in out.net.log if e["fault"] == "drop"]
    prefix = {"FIN": b"0|||0|||1|||", "FIN+ACK": b"0|||1|||1|||", "ACK#1": b"0|||1|||0|||"}
    assert len(dropped) == 1 and dropped[0].startswith(prefix[which])


# ------------------------------------------------ schedules hypothesis found failing
def test_found_dup_synack_while_closing_is_re_acked() -> None:
    """Found by test_liveness_few_faults...: empty conversation, ACK and FINs lost.

    The server, still in SYN_RCVD, repeats its SYN-ACK while the client is in FIN_WAIT_1;
    the client must re-ACK it there too, or the server times out its handshake.
    """
    schedule = [LOST, OK, OK, LOST, LOST, OK, LOST, OK, LOST]
    out = run_lifecycle([], schedule, buff_sizes=[1], config=CFG)
    assert out.client_error is None and out.server_error is None
    assert out.client_closed and out.server_closed


def test_found_soak_working_ack_of_a_first_chunk_comes_back_between_other_rules() -> None:
    """Found by test_soak (30% loss, auto at both ends): three ACKs of a first chunk lost,
    so the receiver tried the other ACK rules, one per repeat, and came back to the working
    one once per cycle of seven: five answers at the right number in all, and with them
    lost the sender timed out (here, with 12 retries, four are enough).

    Datagrams: 1 SYN, 2 SYN-ACK, 3 ACK, 4 length "64", 5 its ACK, 6 the first chunk; then
    each answer to a copy of it and the next copy, the answers at the working number lost
    where the rotation gave them before (answers 0, 1, 2 and 9).
    """
    schedule = [OK] * 6
    for answer in range(12):
        schedule += [LOST if answer in (0, 1, 2, 9) else OK, OK]
    out, _ = run(schedule, [bytes(range(64))])
    assert out.net is not None
    dropped = {e["data"] for e in out.net.log if e["fault"] == "drop"}
    assert len(dropped) == 1  # only the ACK at the working number, four times ...
    assert any(e["data"] in dropped and e["fault"] == "deliver" for e in out.net.log)
    # ... and the conversation went on in PROTOCOL.md's numbering, nothing else adopted
    assert out.server is not None and not out.server.dialect_findings


def test_found_soak_a_chunk_ahead_of_a_refused_first_chunk_is_held_not_taken_first() -> None:
    """Found by the 1 GiB stream through the fault proxy (fsm_tcp at both ends, selective
    repeat): the first chunk of a message came while the receive buffer was full and was
    refused; the application then read, and the second chunk came twice. auto took its
    second copy for the first chunk of a sender numbering data by its end (a rule the
    sender had shown it does not use), so the message lost its first chunk and the stream
    stalled a few messages later on a length taken for data. It is held (SACKed) now."""
    peer = ("client", 5000)
    lst = Listener(Config(receive_buffer=10, mss=5), rng=random.Random(0))
    conn = lst.receive_datagram(b"1|||0|||0|||40|||", peer, 0.0)
    assert conn is not None
    conn.receive_datagram(b"0|||1|||0|||42|||", peer, 0.1)

    def data(seq: int, payload: bytes, now: float) -> list[bytes]:
        conn.receive_datagram(b"0|||0|||0|||%d|||%s" % (seq, payload), peer, now)
        return [d for d, _addr in conn.datagrams_to_send()]

    data(42, b"10", 0.1)
    data(44, b"vwxyz", 0.2)
    data(49, b"VWXYZ", 0.3)  # the sender's numbering is shown: bytes from the start
    data(54, b"10", 0.4)
    assert data(56, b"abcde", 0.5) == [b"0|||1|||0|||56|||"]  # 10 unread: refused
    assert conn.receive(100) == b"vwxyzVWXYZ"
    for now in (0.6, 0.9):
        assert data(61, b"fghij", now) == [b"0|||1|||0|||56|||61-66"]  # held, still 56
    assert data(56, b"abcde", 1.0) == [b"0|||1|||0|||66|||"]
    assert conn.receive(100) == b"abcdefghij"


def test_found_a_segment_refused_at_the_next_number_is_answered_not_held() -> None:
    """Found by the full suite taking 120 s on an xfail: where the next length goes came a
    chunk (not digits), refused as a length; it was held for selective repeat at the very
    number in-order processing had just refused it at, and the drain took it, refused and
    held it again, for ever. A fixed (canonical) dialect, so no learning is involved."""
    peer = ("client", 5000)
    canonical = D.Dialect(name="canonical, fixed")
    lst = Listener(Config(dialect=canonical), rng=random.Random(0))
    conn = lst.receive_datagram(b"1|||0|||0|||40|||", peer, 0.0)
    assert conn is not None
    conn.receive_datagram(b"0|||1|||0|||42|||", peer, 0.1)
    conn.datagrams_to_send()  # the SYN-ACK
    conn.receive_datagram(b"0|||0|||0|||42|||1", peer, 0.2)
    conn.receive_datagram(b"0|||0|||0|||43|||x", peer, 0.3)
    assert [d for d, _addr in conn.datagrams_to_send()] == [
        b"0|||1|||0|||43|||",
        b"0|||1|||0|||44|||",
    ]
    conn.receive_datagram(b"0|||0|||0|||44|||y", peer, 0.4)  # no length: refused, re-ACKed
    assert [d for d, _addr in conn.datagrams_to_send()] == [b"0|||1|||0|||44|||"]
    assert conn.receive(10) == b"x" and conn.next_message_length() is None


def test_found_bench_a_recv_done_mid_burst_leaves_the_rest_of_the_burst_room() -> None:
    """Found measuring issue 18's KCP goal: `fsm-tcp serve` reads a stream in pieces
    (recv of 1 MiB); the segment that completed a piece came in a burst, and the rest of
    the burst met a buffer "full" at max(receive_buffer, what the reader waits for): about
    1,200 segments refused and resent per 64 MiB on a loopback that lost none. The buffer
    is room beyond what the reader waits for."""
    peer = ("client", 5000)
    lst = Listener(Config(receive_buffer=10, mss=5), rng=random.Random(0))
    conn = lst.receive_datagram(b"1|||0|||0|||40|||", peer, 0.0)
    assert conn is not None
    conn.receive_datagram(b"0|||1|||0|||42|||", peer, 0.1)
    conn.receive_datagram(b"0|||0|||0|||42|||20", peer, 0.2)
    assert conn.receive(10) is None  # the reader waits for 10 bytes
    for seq, payload in ((44, b"aaaaa"), (49, b"bbbbb"), (54, b"ccccc"), (59, b"ddddd")):
        conn.receive_datagram(b"0|||0|||0|||%d|||%s" % (seq, payload), peer, 0.3, more=True)
    conn.datagrams_to_send()
    assert conn.stats.window_full == 0 and conn.stats.out_of_window == 0
    assert conn.receive(10) == b"aaaaabbbbb"
    assert conn.receive(10) == b"cccccddddd"
