"""Sizes and repetitions of every part of ``fsm-tcp bench``."""

from __future__ import annotations

from dataclasses import dataclass

#: The tree before the sender/receiver split (issue 16): stop-and-wait on one core must be at
#: least as fast in this tree as in that one.
BEFORE_SPLIT = "8681657"


@dataclass(frozen=True)
class Settings:
    """Sizes and repetitions of every part; the defaults are what ``fsm-tcp bench`` measures."""

    size: int = 1 << 20  # part 1: no loss, stop-and-wait
    loss_size: int = 64 << 10  # part 2: 20% loss, stop-and-wait
    loss_seeds: int = 5  # part 2: seeds with loss, each next to a run without
    sim_seconds: float = 3.0  # part 3 (a second per seed: shorter runs read 60-100% of it)
    course_size: int = 100_000  # part 5: the course's experiment
    sr_size: int = 16 << 20  # part 6: selective repeat vs aioquic vs raw UDP
    loss1_size: int = 4 << 20  # part 7: selective repeat at 1% loss
    kcp_size: int = 64 << 20  # part 8: selective repeat vs tuned KCP
    tree_size: int = 2 << 20  # part 9: stop-and-wait on one core, this tree vs another
    tree: str = BEFORE_SPLIT  # part 9: the other tree, any git revision
    window: int = 64  # segments (PROTOCOL.md 6: W = min(cwnd in whole MSS, window))
    sr_cc: str = "reno"  # SR goes beyond the course, so it gets RFC 5681's fast recovery
    runs: int = 3  # best of (no loss) or median over seeds (with loss), parts 5-9
