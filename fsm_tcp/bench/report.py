"""How ``fsm-tcp bench`` prints each part: a heading said before measuring (for the parts
that take a while), then the part's figures, from the figures alone (figures.py)."""

from __future__ import annotations

from collections.abc import Callable

from . import anchor_kcp, anchor_quic, tree
from .figures import Figure, Section
from .settings import Settings
from .transfer import BIG_MSS, COURSE_MSS

Lines = list[str]


def kb(f: Figure) -> str:
    return f"{f.value / 1e3:.0f} kB/s"


def mb(f: Figure) -> str:
    return f"{f.value / 1e6:.1f} MB/s"


def goal(f: Figure, how: str = "") -> str:
    """The goal as the table writes it: "(goal >= 0.70)", or "(goal < 10x; how)"."""
    return f"({f.goal}{'; ' + how if how else ''})"


def failed(section: Section, labels: dict[str, str]) -> Lines:
    """One line for each measurement that failed, named as the table names it."""
    return [f"   {labels.get(key, key)}: FAILED ({why})" for key, why in section.failures.items()]


def labelled(section: Section, labels: dict[str, str], show: Callable[[Figure], str]) -> Lines:
    """ "   label: figure" for each of ``labels``' figures that was measured."""
    return [
        f"   {label}: {show(section[key])}"
        for key, label in labels.items()
        if key in section.figures
    ]


# ------------------------------------------------------------------ 1-4: stop-and-wait, engine
def goodput(s: Settings, r: Section) -> Lines:
    lines = failed(r, {"fsm": "fsm_tcp", "fsm_sleeping": "fsm_tcp with busy_poll=0",
                       "baseline": "plain stop-and-wait",
                       "baseline_spinning": "the baseline busy-polling"})  # fmt: skip
    if r.has("goodput_ratio"):
        ratio = r["goodput_ratio"]
        lines.append(
            f"1. {s.size} B, no loss, 16-byte segments: fsm_tcp {kb(r['fsm_goodput'])}, plain "
            f"stop-and-wait {kb(r['baseline_goodput'])} -> ratio {ratio.value:.2f} {goal(ratio)}"
        )
    if r.has("goodput_ratio_without_busy_poll"):
        lines.append(
            "   fsm_tcp with busy_poll=0 (sleeps in select() as the baseline sleeps): "
            f"{kb(r['fsm_sleeping_goodput'])} -> ratio "
            f"{r.value('goodput_ratio_without_busy_poll'):.2f}"
        )
    if r.has("goodput_ratio_to_busy_polling_baseline"):
        lines.append(
            f"   the baseline busy-polling too: {kb(r['baseline_spinning_goodput'])}; fsm_tcp's "
            f"ratio to it {r.value('goodput_ratio_to_busy_polling_baseline'):.2f}"
        )
    return lines


def loss(s: Settings, r: Section) -> Lines:
    lines = failed(r, {"clean": "without loss", "lossy": "at 20% loss"})
    if r.has("loss_ratio"):
        ratio = r["loss_ratio"]
        how = f"medians of {s.loss_seeds} seeds, with and without loss taking turns"
        lines.append(
            f"2. {s.loss_size} B at 20% loss each way: {r.value('loss_seconds'):.3f} s vs "
            f"{r.value('clean_seconds'):.3f} s without loss -> {ratio.value:.1f}x "
            f"{goal(ratio, how)}"
        )
    return lines


def sim(s: Settings, r: Section) -> Lines:
    f = r["sim_per_second"]
    return [
        f"3. simulator: {f.value:.0f} lifecycles/s (handshake, 1 KiB, teardown, 20% loss each "
        f"way; median of 3) {goal(f)}"
    ]


def memory(s: Settings, r: Section) -> Lines:
    return [
        f"4. memory: {r.value('bytes_per_connection') / 1024:.1f} KiB of Python heap per open "
        "connection (asyncio driver, idle, tracemalloc)"
    ]


# ------------------------------------------------------------------ 5-7: the windowed modes
SAW, GBN = "stop-and-wait", "Go-Back-N + Tahoe"


def course_heading(s: Settings) -> str:
    return (
        f"5. the course's experiment: {s.course_size} B, MSS {COURSE_MSS}, 20% loss each way, "
        f"median of {s.runs} seed(s)"
    )


def course(s: Settings, r: Section) -> Lines:
    labels = {"saw": f"{SAW}:      ", "gbn": f"{GBN} (window {s.window}):"}
    lines = failed(r, {"saw": SAW, "gbn": GBN})
    for key, label in labels.items():
        if r.has(f"course_{key}_seconds"):
            lines.append(
                f"   {label} {r.value(f'course_{key}_seconds'):.3f} s, "
                f"{r.value(f'course_{key}_segments'):.0f} segments sent "
                f"({r.value(f'course_{key}_retransmissions'):.0f} retransmissions)"
            )
    if r.has("course_speedup"):
        lines.append(f"   -> Go-Back-N is {r.value('course_speedup'):.1f}x as fast")
    return lines


def throughput_heading(s: Settings, size: int) -> str:
    return (
        f"{size} B, no loss, {BIG_MSS}-byte segments, receiver in its own process, best of {s.runs}"
    )


def sr_label(s: Settings) -> str:
    return f"fsm_tcp selective repeat ({s.sr_cc}, window {s.window})"


def ratio_line(r: Section, *names: tuple[str, str]) -> Lines:
    """ "   -> fsm_tcp/anchor 1.23 (goal >= 1.5), ..." for each ratio measured."""
    said = [
        f"fsm_tcp/{name} {r.value(key):.2f}" + (f" {goal(r[key])}" if r[key].goal else "")
        for key, name in names
        if r.has(key)
    ]
    return ["   -> " + ", ".join(said)] if said else []


def throughput(s: Settings, r: Section) -> Lines:
    version = anchor_quic.version()
    labels = {
        "sr": sr_label(s),
        "aioquic": f"aioquic {version} (QUIC, TLS 1.3, one stream)",
        "raw_udp": f"raw UDP, a sendto() loop of {BIG_MSS}-byte datagrams (the ceiling)",
    }
    lines = failed(r, labels)
    if version is None:
        lines.append(
            "   aioquic: not installed; `pip install aioquic` (or the 'bench' extra) to "
            "compare with QUIC"
        )
    lines += labelled(r, {f"{k}_goodput": v for k, v in labels.items() if k != "raw_udp"}, mb)
    if r.has("raw_udp_goodput"):
        lines.append(
            f"   {labels['raw_udp']}: {mb(r['raw_udp_goodput'])} sent, at least "
            f"{r.value('raw_udp_received'):.0%} of them received"
        )
    return lines + ratio_line(r, ("ratio_to_aioquic", "aioquic"), ("ratio_to_raw_udp", "raw"))


def loss1_heading(s: Settings) -> str:
    return (
        f"7. {s.loss1_size} B, selective repeat ({s.sr_cc}, window {s.window}), 1% loss each "
        f"way vs none, {s.runs} run(s) each"
    )


def loss1(s: Settings, r: Section) -> Lines:
    lines = failed(r, {"clean": "without loss", "lossy": "at 1% loss"})
    if r.has("loss1_fraction"):
        fraction = r["loss1_fraction"]
        lines.append(
            f"   {mb(r['loss1_goodput'])} vs {mb(r['loss1_clean_goodput'])} without loss -> "
            f"{fraction.value:.2f} of the no-loss goodput "
            f"{goal(fraction, 'median of seeds with loss, best run without')}"
        )
    return lines


# ------------------------------------------------------------------ 8-9: anchors of issues 16, 18
def kcp(s: Settings, r: Section) -> Lines:
    version = anchor_kcp.version()
    tuned = (
        f"nodelay, {anchor_kcp.INTERVAL_MS} ms interval, no congestion window, windows of "
        f"{anchor_kcp.WINDOW}"
    )
    labels = {
        "cli": f"{sr_label(s)}: `fsm-tcp send` a file to `fsm-tcp serve`",
        "sr": f"{sr_label(s)}: the library, one message",
        "kcp": f"KCP {version} (its C core; {tuned}), on its clock",
        "kcp_eager": f"KCP {version} flushing at once after each batch (like for like)",
    }
    lines = failed(r, labels)
    if version is None:
        lines.append(
            "   KCP: not installed; `pip install kcp` (builds KCP's C core, so it needs a C "
            "compiler) to compare with KCP"
        )
    lines += labelled(r, {f"{k}_goodput": v for k, v in labels.items()}, mb)
    return lines + ratio_line(
        r,
        ("ratio_to_kcp", "KCP (command line)"),
        ("ratio_to_kcp_library", "KCP (library)"),
        ("ratio_to_kcp_eager", "eager KCP"),
    )


def tree_heading(s: Settings) -> str:
    return (
        f"9. stop-and-wait on one core: {s.tree_size} B, 16-byte segments, both ends on CPU "
        f"{tree.one_cpu()}, this tree vs {s.tree}, best of {s.runs}"
    )


def other_tree(s: Settings, r: Section) -> Lines:
    labels = {"this": "this tree", "other": s.tree}
    lines = failed(r, {**labels, "tree": f"tree {s.tree}"})
    lines += labelled(r, {f"tree_{k}_goodput": v for k, v in labels.items()}, kb)
    if r.has("tree_ratio"):
        ratio = r["tree_ratio"]
        lines.append(f"   -> this tree's goodput to {s.tree}'s: {ratio.value:.2f} {goal(ratio)}")
    return lines
