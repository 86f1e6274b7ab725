"""Each part's measurements, recorded as figures (figures.py); nothing here prints."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import anchor_kcp, anchor_quic, baselines, tree
from .figures import Section
from .inprocess import memory_per_connection, sim_lifecycles
from .peers import attempt, interleaved, median, payload
from .settings import Settings
from .transfer import BIG_MSS, COURSE_MSS, Transfer, through_cli, transfer


def sr_options(s: Settings) -> dict[str, Any]:
    return {"mss": BIG_MSS, "window": s.window, "cc": s.sr_cc}


def seconds_of(t: Transfer) -> float:
    return t.seconds


def goodput(s: Settings, out: Section) -> None:
    """Part 1: 1 MiB stop-and-wait against a plain UDP pair, taking turns, best of 3."""
    message = payload(s.size)
    measures: dict[str, Callable[[int], float]] = {
        "baseline": lambda _: baselines.stop_and_wait(message),
        "fsm": lambda _: transfer(message).seconds,
        "fsm_sleeping": lambda _: transfer(message, {"busy_poll": 0.0}).seconds,
        "baseline_spinning": lambda _: baselines.stop_and_wait(message, spin=True),
    }
    best = {k: min(v) for k, v in interleaved(measures, 3, out.failures).items()}
    for key, seconds in best.items():
        out.add(f"{key}_goodput", s.size / seconds, "B/s")
    ratios = (
        ("goodput_ratio", "baseline", "fsm"),
        ("goodput_ratio_without_busy_poll", "baseline", "fsm_sleeping"),
        ("goodput_ratio_to_busy_polling_baseline", "baseline_spinning", "fsm"),
    )
    for key, theirs, ours in ratios:
        if theirs in best and ours in best:
            out.add(key, best[theirs] / best[ours], "")


def loss(s: Settings, out: Section) -> None:
    """Part 2: 20% loss each way against no loss. Each seed's lossy run follows a run without
    loss, and the medians of both sides are compared: best-of on one side and median on the
    other, measured minutes apart, made a slow spell count on one side only."""
    message = payload(s.loss_size, 9)
    measures = {
        "clean": lambda seed: transfer(message, seed=seed).seconds,
        "lossy": lambda seed: transfer(message, loss=0.2, seed=seed).seconds,
    }
    got = interleaved(measures, s.loss_seeds, out.failures)
    if len(got) < len(measures):
        return  # said why
    clean, lossy = (median(got[k], float) for k in ("clean", "lossy"))
    out.add("loss_seconds", lossy, "s")
    out.add("clean_seconds", clean, "s")
    out.add("loss_ratio", lossy / clean, "x")


def sim(s: Settings, out: Section) -> None:
    """Part 3: simulated lifecycles per second, median of 3 seeds."""
    rates = [sim_lifecycles(s.sim_seconds / 3 or 0.1, seed=seed).per_second for seed in range(3)]
    out.add("sim_per_second", median(rates, float), "/s")


def memory(s: Settings, out: Section) -> None:
    """Part 4: Python heap per open, idle asyncio connection."""
    out.add("bytes_per_connection", memory_per_connection(), "B")


def course(s: Settings, out: Section) -> None:
    """Part 5: the course's experiment, Go-Back-N + Tahoe against stop-and-wait."""
    message = payload(s.course_size, 11)
    options = {"mss": COURSE_MSS, "window": s.window, "cc": "tahoe"}
    measures = {
        "saw": lambda seed: transfer(message, {"mss": COURSE_MSS}, loss=0.2, seed=seed),
        "gbn": lambda seed: transfer(message, options, "go_back_n", loss=0.2, seed=seed),
    }
    got = {k: median(v, seconds_of) for k, v in interleaved(measures, s.runs, out.failures).items()}
    for key, t in got.items():
        out.add(f"course_{key}_seconds", t.seconds, "s")
        out.add(f"course_{key}_segments", t.segments, "segments")
        out.add(f"course_{key}_retransmissions", t.retransmissions, "segments")
    if len(got) == len(measures):
        out.add("course_speedup", got["saw"].seconds / got["gbn"].seconds, "")


def selective_repeat(s: Settings, message: bytes) -> Callable[[int], float]:
    """fsm_tcp's selective repeat moving ``message``, as every throughput part measures it."""
    return lambda _: transfer(message, sr_options(s), "selective_repeat").seconds


def throughput(s: Settings, out: Section) -> None:
    """Part 6: selective repeat, aioquic and raw UDP's ceiling, taking turns, best of each."""
    message = payload(s.sr_size, 13)
    received: list[float] = []  # the fraction of raw datagrams that arrived, per run

    def blast(_seed: int) -> float:
        rate, fraction = baselines.raw_udp_rate(s.sr_size)
        received.append(fraction)
        return s.sr_size / rate  # as seconds, like the others

    measures = {"sr": selective_repeat(s, message)}
    if anchor_quic.version() is not None:
        measures["aioquic"] = lambda _: anchor_quic.transfer(message)
    measures["raw_udp"] = blast
    goodputs(s.sr_size, interleaved(measures, s.runs, out.failures), out)
    if "raw_udp_goodput" in out.figures:
        out.add("raw_udp_received", min(received), "")
    ratios(out, ("ratio_to_aioquic", "aioquic"), ("ratio_to_raw_udp", "raw_udp"))


def goodputs(size: int, times: dict[str, list[float]], out: Section) -> None:
    for key, seconds in times.items():
        out.add(f"{key}_goodput", size / min(seconds), "B/s")


def ratios(out: Section, *pairs: tuple[str, str], ours: str = "sr") -> None:
    """fsm_tcp's selective repeat goodput (``ours``) to each anchor's measured."""
    for key, anchor in pairs:
        if out.has(f"{ours}_goodput", f"{anchor}_goodput"):
            out.add(key, out.value(f"{ours}_goodput") / out.value(f"{anchor}_goodput"), "")


def loss1(s: Settings, out: Section) -> None:
    """Part 7: selective repeat at 1% loss each way, as a fraction of its no-loss goodput."""
    message = payload(s.loss1_size, 17)
    measures = {
        "clean": lambda seed: transfer(message, sr_options(s), "selective_repeat", 0.0, seed),
        "lossy": lambda seed: transfer(message, sr_options(s), "selective_repeat", 0.01, seed),
    }
    got = interleaved(measures, s.runs, out.failures)
    if len(got) < len(measures):
        return  # said why
    clean = min(t.seconds for t in got["clean"])
    lossy = median(got["lossy"], seconds_of).seconds
    out.add("loss1_goodput", s.loss1_size / lossy, "B/s")
    out.add("loss1_clean_goodput", s.loss1_size / clean, "B/s")
    out.add("loss1_fraction", clean / lossy, "")


def kcp(s: Settings, out: Section) -> None:
    """Part 8: selective repeat against tuned KCP, taking turns, best of each: through the
    command line (``fsm-tcp send`` a file to ``fsm-tcp serve``), as issue 18 sets the goal,
    and the library's one message, as the other throughput parts measure it."""
    message = payload(s.kcp_size, 29)
    measures = {
        "cli": lambda _: through_cli(message, sr_options(s), "selective_repeat"),
        "sr": selective_repeat(s, message),
    }
    if anchor_kcp.version() is not None:
        measures["kcp"] = lambda _: anchor_kcp.transfer(message)
        measures["kcp_eager"] = lambda _: anchor_kcp.transfer(message, eager=True)
    goodputs(s.kcp_size, interleaved(measures, s.runs, out.failures), out)
    ratios(out, ("ratio_to_kcp_library", "kcp"), ("ratio_to_kcp_eager", "kcp_eager"))
    ratios(out, ("ratio_to_kcp", "kcp"), ours="cli")


def other_tree(s: Settings, out: Section) -> None:
    """Part 9: stop-and-wait on one core, this tree against ``s.tree``, taking turns."""
    label = f"tree {s.tree}"
    name = attempt(out.failures, label, lambda: tree.short_name(s.tree))
    if name is None:
        return
    cpu = tree.one_cpu()
    with tree.checked_out(s.tree) as other:
        measures = {
            "this": lambda _: tree.stop_and_wait_on_one_core(tree.HERE, s.tree_size, cpu),
            "other": lambda _: tree.stop_and_wait_on_one_core(other, s.tree_size, cpu),
        }
        best = {k: min(v) for k, v in interleaved(measures, s.runs, out.failures).items()}
    for key, seconds in best.items():
        out.add(f"tree_{key}_goodput", s.tree_size / seconds, "B/s")
    if len(best) == len(measures):
        out.add("tree_ratio", best["other"] / best["this"], "")
