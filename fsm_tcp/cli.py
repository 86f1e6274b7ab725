"""The ``fsm-tcp`` command: serve, send, demo, bench, proxy.

Every failure the user can cause or meet (bad option, port in use, unreadable file,
unreachable or vanished peer) ends with one line on stderr and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import random
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, BinaryIO, NoReturn, TextIO

from .engine import Address, Tracer
from .errors import FsmTcpError, InvalidArgument
from .socket_tcp import SocketTCP
from .trace import Console, TraceWriter

PROG = "fsm-tcp"


class UsageError(Exception):
    """A bad command line: reported in one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _number(
    convert: Callable[[str], float], what: str, ok: Callable[[float], bool], bound: str
) -> Callable[[str], Any]:
    """An argparse type: convert, then check a bound; both failures say what was wrong."""

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {what}: {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"{bound}, got {text}")
        return value

    return parse


probability = _number(
    float, "a number", lambda v: 0.0 <= v <= 1.0, "must be a probability in [0, 1]"
)
port_number = _number(int, "a port number", lambda v: 0 <= v <= 65535, "port must be 0..65535")
positive_int = _number(int, "a whole number", lambda v: v >= 0, "must be >= 0")
non_negative = _number(float, "a number", lambda v: v >= 0, "must be >= 0")


def host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host, port_number(port)


def resolve(host: str) -> str:
    try:
        return socket.gethostbyname(host)
    except OSError:
        raise InvalidArgument(f"cannot resolve host {host!r}") from None


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--loss",
        type=probability,
        default=0.0,
        help="probability each datagram is lost, each direction",
    )
    p.add_argument("--seed", type=int, default=None, help="seed of the loss simulation")
    p.add_argument(
        "--debug",
        action="store_true",
        help="print every datagram sent, received or lost, on stderr",
    )
    p.add_argument("--trace", metavar="FILE", help="write one JSON object per event to FILE")
    p.add_argument(
        "--initial-rto",
        type=non_negative,
        default=None,
        metavar="S",
        help="retransmission timeout before the first RTT sample (seconds)",
    )
    p.add_argument(
        "--max-retries",
        type=positive_int,
        default=None,
        metavar="N",
        help="retransmissions of one segment before giving up",
    )
    p.add_argument(
        "--busy-poll",
        type=non_negative,
        default=None,
        metavar="S",
        help="seconds each wait may spin before it sleeps (default: 0.001 with 2+ CPUs, "
        "else 0; 0 turns it off)",
    )
    p.add_argument(
        "--secure",
        action="store_true",
        help="random 32-bit initial SEQ; out-of-window segments dropped silently "
        "(the default stays course-compatible)",
    )


def _socket(args: argparse.Namespace, sinks: _Sinks, name: str) -> SocketTCP:
    """The SocketTCP that serve and send build from the common options."""
    return SocketTCP(
        loss_rate=args.loss,
        seed=args.seed,
        debug=args.debug,
        tracer=sinks.tracer(),
        name=name,
        busy_poll=args.busy_poll,
        **_timers(args),
    )


def _timers(args: argparse.Namespace) -> dict[str, Any]:
    """The Config options serve and send take from the command line."""
    timers: dict[str, Any] = {"secure": args.secure}
    if args.initial_rto is not None:
        if args.initial_rto <= 0:
            raise UsageError("--initial-rto must be > 0")
        timers["initial_rto"] = args.initial_rto
    if args.max_retries is not None:
        timers["max_retries"] = args.max_retries
    return timers


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Reliable transport over UDP, declared as state machines (PROTOCOL.md).",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("serve", help="accept connections; write every message received")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=port_number, default=8000)
    p.add_argument("--output", default="-", help="file to write messages to (default stdout)")
    p.add_argument("--once", action="store_true", help="exit after the first connection")
    _common(p)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("send", help="send a file (or stdin) as one message, then close")
    p.add_argument("host")
    p.add_argument("port", type=port_number)
    p.add_argument("file", nargs="?", default="-")
    _common(p)
    p.set_defaults(func=cmd_send)

    p = sub.add_parser("demo", help="server and client on loopback under loss, narrated")
    p.add_argument("--loss", type=probability, default=0.2)
    p.add_argument("--size", type=positive_int, default=1024, help="message size in bytes")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--quiet", action="store_true", help="only the summary")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("bench", help="goodput, loss cost and simulator speed, with ratios")
    p.add_argument("--size", type=positive_int, default=1 << 20, help="no-loss transfer size")
    p.add_argument("--loss-size", type=positive_int, default=64 << 10)
    p.add_argument("--sim-seconds", type=non_negative, default=1.0)
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("proxy", help="fault-injecting UDP proxy (user-space netem)")
    p.add_argument("--listen", type=port_number, required=True, metavar="PORT")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--to", type=host_port, required=True, metavar="HOST:PORT")
    p.add_argument("--loss", type=probability, default=0.0)
    p.add_argument("--dup", type=probability, default=0.0)
    p.add_argument("--reorder", type=probability, default=0.0)
    p.add_argument("--delay", type=non_negative, default=0.0, metavar="MS")
    p.add_argument("--jitter", type=non_negative, default=0.0, metavar="MS")
    p.add_argument("--seed", type=int, default=None)
    p.set_defaults(func=cmd_proxy)

    p = sub.add_parser("diagram", help="draw every state machine from its table")
    p.add_argument("--format", choices=["mermaid", "svg", "png", "dot"], default="mermaid")
    p.add_argument("--out", default="diagrams", metavar="DIR")
    p.set_defaults(func=cmd_diagram)

    p = sub.add_parser("trace", help="a --trace log as a message sequence chart")
    p.add_argument("file", help="JSON-lines trace written by --trace")
    p.add_argument("--format", choices=["mermaid", "svg"], default="mermaid")
    p.add_argument("--out", default="-", metavar="FILE", help="default: stdout")
    p.set_defaults(func=cmd_trace)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        result: int = args.func(args)
        return result
    except UsageError as exc:
        return _fail(str(exc), 2)
    except FsmTcpError as exc:
        return _fail(str(exc), 1)
    except OSError as exc:
        return _fail(_os_message(exc), 1)
    except KeyboardInterrupt:
        return 130


def say(message: str) -> None:
    """One line on stderr, prefixed with the program name, flushed (tests read it live)."""
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def _fail(message: str, code: int) -> int:
    say(f"error: {message}")
    return code


def _os_message(exc: OSError) -> str:
    where = f" {exc.filename}" if exc.filename else ""
    return f"{exc.strerror or exc}{':' if where else ''}{where}"


# ---------------------------------------------------------------------- tracing setup
class _Sinks:
    """The tracer a command hands to its sockets: trace file and/or console narration."""

    def __init__(self, trace: str | None, console: TextIO | None) -> None:
        self._file: TextIO | None = None
        self.tracers: list[Tracer] = []
        if trace:
            try:
                self._file = open(trace, "w")  # noqa: SIM115 - closed in close()
            except OSError as exc:
                raise InvalidArgument(f"cannot write trace file {trace}: {exc.strerror}") from None
            self.tracers.append(TraceWriter(self._file))
        if console is not None:
            self.tracers.append(Console(console))

    def tracer(self) -> Tracer | None:
        if not self.tracers:
            return None
        if len(self.tracers) == 1:
            return self.tracers[0]
        tracers = list(self.tracers)

        def fan_out(record: dict[str, Any]) -> None:
            for t in tracers:
                t(record)

        return fan_out

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


# ---------------------------------------------------------------------- serve / send
def _open_output(path: str) -> BinaryIO:
    if path == "-":
        return sys.stdout.buffer
    try:
        return open(path, "wb")
    except OSError as exc:
        raise InvalidArgument(f"cannot write {path}: {exc.strerror}") from None


def cmd_serve(args: argparse.Namespace) -> int:
    sinks = _Sinks(args.trace, None)
    out = _open_output(args.output)
    server = _socket(args, sinks, "server")
    try:
        host = resolve(args.host)
        try:
            server.bind((host, args.port))
        except OSError as exc:
            raise InvalidArgument(f"cannot listen on {host}:{args.port}: {exc.strerror}") from None
        bound = server.getsockname()
        say(f"listening on {bound[0]}:{bound[1]}")
        writer = _MessageWriter(out)
        if args.once:
            return _serve_connection(*server.accept(), writer)
        while True:  # each connection in a thread of its own: a long transfer blocks no one
            conn, peer = server.accept()
            worker = threading.Thread(
                target=_serve_connection, args=(conn, peer, writer), daemon=True
            )
            worker.start()
    finally:
        server.close()
        sinks.close()
        if out is not sys.stdout.buffer:
            out.close()


class _MessageWriter:
    """Whole messages to one output, from any number of connection threads."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self._lock = threading.Lock()

    def write(self, message: bytes) -> None:
        with self._lock:
            self.out.write(message)
            self.out.flush()


def _serve_connection(conn: SocketTCP, peer: Address, writer: _MessageWriter) -> int:
    count = total = 0
    try:
        while (message := conn.recv_message()) is not None:
            writer.write(message)
            count += 1
            total += len(message)
        conn.recv_close()
    except FsmTcpError as exc:
        say(f"{peer[0]}:{peer[1]}: {exc}")
        return 1
    finally:
        conn.close()
    say(f"{peer[0]}:{peer[1]}: {count} message(s), {total} bytes")
    return 0


def _read_input(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise InvalidArgument(f"cannot read {path}: {exc.strerror}") from None


class ProgressBar:
    """A throttled progress bar on a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self._last < 0.1 and done < total:
            return
        self._last = now
        width = 30
        filled = width * done // total if total else width
        pct = 100 * done // total if total else 100
        self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {pct:3d}% {done}/{total}")
        self.stream.flush()

    def finish(self) -> None:
        self.stream.write("\n")


def cmd_send(args: argparse.Namespace) -> int:
    data = _read_input(args.file)
    host = resolve(args.host)
    sinks = _Sinks(args.trace, None)
    sock = _socket(args, sinks, "client")
    bar = ProgressBar(sys.stderr) if sys.stderr.isatty() else None
    start = time.monotonic()
    try:
        sock.connect((host, args.port))
        sock.send(data, progress=bar)
        if bar is not None:
            bar(len(data), len(data))
            bar.finish()
        sock.close()
    finally:
        sock.close()
        sinks.close()
    conn = sock.conn
    retx = conn.stats.retransmissions if conn else 0
    say(
        f"sent {len(data)} bytes in {time.monotonic() - start:.3f} s, all "
        f"acknowledged ({retx} retransmissions)"
    )
    return 0


# ---------------------------------------------------------------------- demo
def cmd_demo(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    message = rng.randbytes(args.size)
    console = None if args.quiet else Console(sys.stdout)
    print(
        f"fsm-tcp demo: {args.size} random bytes over 127.0.0.1, "
        f"{args.loss:.0%} loss each way (seed {args.seed})\n",
        flush=True,
    )
    server = SocketTCP(loss_rate=args.loss, seed=args.seed, tracer=console, name="server")
    server.bind(("127.0.0.1", 0))
    received: dict[str, Any] = {}

    def serve() -> None:
        conn, _ = server.accept()
        received["message"] = conn.recv_message()
        conn.recv_close()
        received["conn"] = conn.conn

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client = SocketTCP(loss_rate=args.loss, seed=args.seed + 1, tracer=console, name="client")
    start = time.monotonic()
    try:
        client.connect(server.getsockname())
        client.send(message)
        client.close()
        thread.join(120)
    finally:
        client.close()
        server.close()
    elapsed = time.monotonic() - start
    return _demo_summary(message, received, client, server, elapsed)


def _demo_summary(
    message: bytes, received: dict[str, Any], client: SocketTCP, server: SocketTCP, elapsed: float
) -> int:
    got = received.get("message")
    cs, ss = client.conn.stats if client.conn else None, received.get("conn")
    ok = got == message
    digest = hashlib.sha256(message).hexdigest()[:16]
    lines = [
        "",
        f"bytes:           {len(message)} sent, {len(got or b'')} received",
        f"verified:        {f'byte-exact (sha256 {digest}...)' if ok else 'MISMATCH'}",
        f"segments:        {cs.segments_sent if cs else 0} by the client, "
        f"{ss.stats.segments_sent if ss else 0} by the server",
        f"retransmissions: {cs.retransmissions if cs else 0} by the client, "
        f"{ss.stats.retransmissions if ss else 0} by the server",
        f"duplicates:      {ss.stats.duplicates_received if ss else 0} received by the server, "
        f"{cs.duplicates_received if cs else 0} by the client",
        f"lost (sim):      {client.udp.lost_sends + client.udp.lost_receives} at the client",
        f"time:            {elapsed:.3f} s",
    ]
    print("\n".join(lines))
    return 0 if ok else 1


# ---------------------------------------------------------------------- bench / proxy
def cmd_bench(args: argparse.Namespace) -> int:
    from .bench import run_all

    run_all(args.size, args.loss_size, args.sim_seconds, sys.stdout)
    return 0


def cmd_proxy(args: argparse.Namespace) -> int:
    from .proxy import FaultProxy, Faults

    faults = Faults(args.loss, args.dup, args.reorder, args.delay / 1000, args.jitter / 1000)
    target = (resolve(args.to[0]), args.to[1])
    proxy = FaultProxy((resolve(args.host), args.listen), target, faults, seed=args.seed)
    asyncio.run(_run_proxy(proxy))
    s = proxy.stats
    say(
        f"proxy stopped: {s.forwarded} forwarded, {s.dropped} dropped, "
        f"{s.duplicated} duplicated, {s.reordered} reordered, {s.sessions} session(s)"
    )
    return 0


def cmd_diagram(args: argparse.Namespace) -> int:
    from .render import write_diagrams

    try:
        paths = write_diagrams(Path(args.out), args.format)
    except OSError as exc:
        raise InvalidArgument(f"cannot write diagrams to {args.out}: {exc.strerror}") from None
    for path in paths:
        print(path)
    return 0


def cmd_trace(args: argparse.Namespace) -> int:
    from .render import read_trace, sequence_chart

    path = Path(args.file)
    chart = sequence_chart(read_trace(path), args.format, title=path.name)
    if args.out == "-":
        sys.stdout.write(chart)
    else:
        try:
            Path(args.out).write_text(chart)
        except OSError as exc:
            raise InvalidArgument(f"cannot write {args.out}: {exc.strerror}") from None
    return 0


async def _run_proxy(proxy: Any) -> None:
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
