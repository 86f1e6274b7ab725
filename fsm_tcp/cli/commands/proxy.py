"""``fsm-tcp proxy``: a fault-injecting UDP proxy (user-space netem)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from ...argtypes import non_negative, port_number, probability
from ...errors import InvalidArgument
from ...proxy import FaultProxy, Faults
from ...schedule import parse_schedule
from ..base import examples, fill, host_port, resolve, say

HELP = "fault-injecting UDP proxy (user-space netem)"
DESCRIPTION = fill(
    "Forward UDP between clients and a server, dropping, duplicating, "
    "reordering and delaying datagrams each way; Ctrl-C prints what it did."
)
EPILOG = examples(
    [
        "fsm-tcp proxy --listen 9000 --to 127.0.0.1:8000 --loss 0.2",
        "fsm-tcp proxy --listen 9000 --to 127.0.0.1:8000 --loss 0.2 --dup 0.05 "
        "--reorder 0.05 --delay 5 --jitter 2",
    ]
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--listen",
        type=port_number,
        required=True,
        metavar="PORT",
        help="UDP port clients connect to (0: any free port, announced on stderr)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument(
        "--to", type=host_port, required=True, metavar="HOST:PORT", help="the server's address"
    )
    p.add_argument("--loss", type=probability, default=0.0, metavar="P", help="drop probability")
    p.add_argument(
        "--dup", type=probability, default=0.0, metavar="P", help="duplication probability"
    )
    p.add_argument(
        "--reorder",
        type=probability,
        default=0.0,
        metavar="P",
        help="probability a datagram is held back behind the next one",
    )
    p.add_argument("--delay", type=non_negative, default=0.0, metavar="MS", help="added delay (ms)")
    p.add_argument(
        "--jitter", type=non_negative, default=0.0, metavar="MS", help="random extra delay (ms)"
    )
    p.add_argument("--seed", type=int, default=None, metavar="N", help="seed of the faults")
    p.add_argument(
        "--schedule",
        metavar="RULES",
        help="scripted faults on named segments, e.g. 'drop:data:c2s:last,dup:ack-data:s2c:1' "
        "(ACTION:KIND[:DIR][:first|last|N]; see fsm_tcp/schedule.py)",
    )


def run(args: argparse.Namespace) -> int:
    faults = Faults(args.loss, args.dup, args.reorder, args.delay / 1000, args.jitter / 1000)
    target = (resolve(args.to[0]), args.to[1])
    schedule = parse_schedule(args.schedule) if args.schedule else None
    proxy = FaultProxy(
        (resolve(args.host), args.listen), target, faults, seed=args.seed, schedule=schedule
    )
    asyncio.run(_run_proxy(proxy))
    s = proxy.stats
    say(
        f"proxy stopped: {s.forwarded} forwarded, {s.dropped} dropped, "
        f"{s.duplicated} duplicated, {s.reordered} reordered, {s.sessions} session(s)"
    )
    return 0


async def _run_proxy(proxy: FaultProxy) -> None:
    try:
        address = await proxy.start()
    except OSError as exc:
        raise InvalidArgument(
            f"cannot listen on {proxy.listen_addr[0]}:{proxy.listen_addr[1]}: {exc.strerror}"
        ) from None
    say(f"proxy on {address[0]}:{address[1]} -> {proxy.target[0]}:{proxy.target[1]}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        proxy.close()
