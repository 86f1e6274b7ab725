"""The ``fsm-tcp`` command: serve, send, demo, bench, proxy, diagram, trace.

Every failure the user can cause or meet (bad option, port in use, unreadable file,
unreachable or vanished peer) ends with one line on stderr and a non-zero exit code.

Ending early follows the shell's conventions:

* Ctrl-C (SIGINT) exits 130 (128 + SIGINT) after one line saying what was abandoned.
* When the reader of standard output goes away (``fsm-tcp demo | head -3``) the command stops
  at once, silently, with 141 (128 + SIGPIPE): the status the shell shows for a C program
  such as ``yes | head -1``, so ``set -o pipefail`` scripts can tell it from a failure (1).
  Standard output is pointed at /dev/null first, as Python's documentation of SIGPIPE
  advises, so the interpreter's last flush cannot fail a second time.

Adding a subcommand from another module: write ``def add_x(sub: Subcommands) -> None`` that
calls :func:`add_command` and adds its arguments (reusing :func:`add_network_options` and
:func:`add_report_options` where they fit), and list it in :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import hashlib
import json
import os
import random
import signal
import socket
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NoReturn, TextIO

from . import dialects
from .argtypes import non_negative, port_number, positive_int, probability
from .engine import Address, Connection, Tracer
from .errors import FsmTcpError, InvalidArgument
from .socket_tcp import SocketTCP
from .trace import Console, TraceWriter

if TYPE_CHECKING:
    from rich.progress import Progress

PROG = "fsm-tcp"
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_PIPE_CLOSED = 141  # 128 + SIGPIPE


class UsageError(Exception):
    """A bad command line: reported in one line, exit code 2."""


class PipeClosed(Exception):
    """The reader of standard output went away; raised in the main thread."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


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


# ---------------------------------------------------------------------- the parser
if TYPE_CHECKING:
    Subcommands = argparse._SubParsersAction[_Parser]


def add_command(
    sub: Subcommands,
    name: str,
    func: Callable[[argparse.Namespace], int],
    *,
    help: str,
    examples: Sequence[str],
    description: str | None = None,
) -> argparse.ArgumentParser:
    """One subcommand with its one-line help, a description and an epilog of real examples
    (each example is a command line the tests parse, so none goes stale)."""
    epilog = "examples:\n" + "\n".join(f"  {example}" for example in examples)
    text = description or help[:1].upper() + help[1:] + "."
    # the raw formatter keeps the examples' lines as written, so paragraphs are filled here
    paragraphs = (textwrap.fill(par, 79) for par in text.split("\n\n"))
    p = sub.add_parser(
        name,
        help=help,
        description="\n\n".join(paragraphs),
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(func=func)
    return p


def add_network_options(p: argparse.ArgumentParser) -> None:
    """The options of every command that runs one end of a connection (serve, send)."""
    p.add_argument(
        "--loss",
        type=probability,
        default=0.0,
        metavar="P",
        help="simulate losing each datagram this end sends with probability P (default 0)",
    )
    p.add_argument(
        "--seed", type=int, default=None, metavar="N", help="seed of the loss simulation"
    )
    p.add_argument(
        "--debug",
        action="store_true",
        help="narrate every segment sent, received or lost and every state change on stderr",
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
    p.add_argument(
        "--dialect",
        choices=dialects.names(),
        default=dialects.AUTO,
        metavar="NAME",
        help="how to speak to the peer: auto (default: PROTOCOL.md, adapting to what the "
        "peer shows), canonical (PROTOCOL.md strictly) or a profile of 'fsm-tcp dialects'",
    )


def add_window_options(p: argparse.ArgumentParser) -> None:
    """How a sender sends (PROTOCOL.md 6): the mode, segment size, window and congestion."""
    p.add_argument(
        "--mode",
        choices=["stop_and_wait", "go_back_n", "selective_repeat"],
        default="stop_and_wait",
        help="stop_and_wait (default: one segment at a time), go_back_n, or "
        "selective_repeat (SACK)",
    )
    p.add_argument(
        "--mss",
        type=positive_int,
        default=None,
        metavar="N",
        help="bytes of data per segment (default 16, the course's)",
    )
    p.add_argument(
        "--window",
        type=positive_int,
        default=None,
        metavar="N",
        help="most segments in flight for go_back_n and selective_repeat (default 64)",
    )
    p.add_argument(
        "--cc",
        choices=["tahoe", "reno"],
        default="tahoe",
        help="congestion control of the windowed modes: tahoe (default, the course's) or reno",
    )


def add_report_options(p: argparse.ArgumentParser, json_where: str) -> None:
    """--quiet / --json for commands that end each transfer with a summary line on stderr."""
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--quiet",
        "-q",
        action="store_true",
        help="no summary (and no progress display); errors are still reported",
    )
    group.add_argument(
        "--json",
        action="store_true",
        help=f"print each summary as one JSON object on {json_where} instead of a line",
    )


def _add_serve(sub: Subcommands) -> None:
    p = add_command(
        sub,
        "serve",
        cmd_serve,
        help="accept connections; write every message received",
        description="Accept connections, each in a thread of its own, and write every message "
        "received, whole, in the order messages complete. A message is written only once "
        "all of it has arrived: one interrupted (Ctrl-C, exit 130) is never written, not "
        "even in part. One summary line per connection on stderr (with --json one JSON "
        "object per line, on stderr too, since stdout may carry the data).",
        examples=[
            "fsm-tcp serve --port 8000 --output received.bin --once",
            "fsm-tcp serve --port 0 --loss 0.2 --seed 1 > received.bin",
            "fsm-tcp serve --port 8000 --output received.bin --json 2> stats.jsonl",
        ],
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument(
        "--port",
        type=port_number,
        default=8000,
        help="UDP port to listen on; 0 picks a free one, announced on stderr (default 8000)",
    )
    p.add_argument(
        "--output",
        "-o",
        default="-",
        metavar="FILE",
        help="file to write messages to, replaced if it exists (default: stdout)",
    )
    p.add_argument("--once", action="store_true", help="exit after the first connection closes")
    add_report_options(p, "stderr")
    add_network_options(p)


def _add_send(sub: Subcommands) -> None:
    p = add_command(
        sub,
        "send",
        cmd_send,
        help="send a file (or stdin) as one message, then close",
        description="Send a file (or stdin) as one message and close; exit 0 once every "
        "byte is acknowledged. On a terminal, stderr shows bytes acknowledged, rate and "
        "time left; at the end one summary line (bytes, time, goodput, retransmissions, "
        "smoothed RTT, loss seen).",
        examples=[
            "fsm-tcp send 127.0.0.1 8000 file.bin",
            "tar c somedir | fsm-tcp send 127.0.0.1 8000",
            "fsm-tcp send --json --loss 0.2 127.0.0.1 8000 file.bin > stats.json",
            "fsm-tcp send --mode go_back_n --mss 8 --cc tahoe 127.0.0.1 8000 file.bin",
            "fsm-tcp send --dialect listener-ack-plus2 127.0.0.1 8000 file.bin",
        ],
    )
    p.add_argument("host", help="address or name of the server (as given to serve --host)")
    p.add_argument("port", type=port_number, help="the server's UDP port (serve --port)")
    p.add_argument(
        "file", nargs="?", default="-", help="file to send; '-' or none reads stdin (default)"
    )
    add_report_options(p, "stdout")
    add_network_options(p)
    add_window_options(p)


def _add_demo(sub: Subcommands) -> None:
    p = add_command(
        sub,
        "demo",
        cmd_demo,
        help="server and client on loopback under loss, narrated",
        description="Run a server and a client on 127.0.0.1 in one process, with simulated "
        "loss at both ends, narrate the conversation on one clock (seconds since the first "
        "event), then check the message arrived byte-exact and count what each end sent, "
        "retransmitted and lost.",
        examples=[
            "fsm-tcp demo",
            "fsm-tcp demo --loss 0.3 --size 64 | less",
            "fsm-tcp demo --quiet --size 65536 --seed 7",
        ],
    )
    p.add_argument(
        "--loss",
        type=probability,
        default=0.2,
        metavar="P",
        help="probability each datagram is lost, each way (default 0.2)",
    )
    p.add_argument(
        "--size",
        type=positive_int,
        default=1024,
        metavar="N",
        help="message size in bytes (default 1024)",
    )
    p.add_argument(
        "--seed", type=int, default=1, metavar="N", help="seed of message and losses (default 1)"
    )
    p.add_argument("--quiet", "-q", action="store_true", help="only the summary")


def _add_bench(sub: Subcommands) -> None:
    p = add_command(
        sub,
        "bench",
        cmd_bench,
        help="goodput, loss cost and simulator speed, with ratios",
        examples=[
            "fsm-tcp bench",
            "fsm-tcp bench --size 4194304 --sim-seconds 5",
            "fsm-tcp bench --only window,aioquic,loss1 --runs 1",
        ],
    )
    from .bench import add_arguments

    add_arguments(p)


def _add_proxy(sub: Subcommands) -> None:
    p = add_command(
        sub,
        "proxy",
        cmd_proxy,
        help="fault-injecting UDP proxy (user-space netem)",
        description="Forward UDP between clients and a server, dropping, duplicating, "
        "reordering and delaying datagrams each way; Ctrl-C prints what it did.",
        examples=[
            "fsm-tcp proxy --listen 9000 --to 127.0.0.1:8000 --loss 0.2",
            "fsm-tcp proxy --listen 9000 --to 127.0.0.1:8000 --loss 0.2 --dup 0.05 "
            "--reorder 0.05 --delay 5 --jitter 2",
        ],
    )
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


def _add_dialects(sub: Subcommands) -> None:
    add_command(
        sub,
        "dialects",
        cmd_dialects,
        help="list the dialects fsm_tcp speaks, with every variable of each",
        description="List the dialects: 'canonical' (PROTOCOL.md), one profile per recorded "
        "implementation (named for what it does) and a synthetic one, each with the value "
        "of every variable implementations bend. 'auto', the default of serve and send, "
        "speaks PROTOCOL.md and adapts to what the peer shows.",
        examples=["fsm-tcp dialects", "fsm-tcp serve --dialect end-numbered --port 8000"],
    )


def _add_module(sub: Subcommands, name: str, module: Any) -> None:
    """A command whose module holds HELP, DESCRIPTION, EPILOG, add_arguments and run."""
    p = sub.add_parser(
        name,
        help=module.HELP,
        description=module.DESCRIPTION,
        epilog=module.EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    module.add_arguments(p)
    p.set_defaults(func=module.run)


def _add_check(sub: Subcommands) -> None:
    from . import check

    _add_module(sub, "check", check)


def _add_plot(sub: Subcommands) -> None:
    from . import plot

    _add_module(sub, "plot", plot)


def _add_diagram(sub: Subcommands) -> None:
    p = add_command(
        sub,
        "diagram",
        cmd_diagram,
        help="draw every state machine from its table",
        examples=["fsm-tcp diagram", "fsm-tcp diagram --format svg --out diagrams"],
    )
    p.add_argument(
        "--format",
        choices=["mermaid", "svg", "png", "dot"],
        default="mermaid",
        help="mermaid needs nothing installed; svg and png need Graphviz (default mermaid)",
    )
    p.add_argument(
        "--out", default="diagrams", metavar="DIR", help="directory to write to (default diagrams)"
    )


def _add_trace(sub: Subcommands) -> None:
    p = add_command(
        sub,
        "trace",
        cmd_trace,
        help="a --trace log as a message sequence chart",
        examples=[
            "fsm-tcp trace run.jsonl",
            "fsm-tcp trace run.jsonl --format svg --out run.svg",
        ],
    )
    p.add_argument("file", help="JSON-lines trace written by --trace")
    p.add_argument(
        "--format",
        choices=["mermaid", "svg"],
        default="mermaid",
        help="mermaid text or an SVG picture (default mermaid)",
    )
    p.add_argument("--out", default="-", metavar="FILE", help="file to write (default: stdout)")


#: Every subcommand, in the order --help lists them: one entry per command.
COMMANDS: tuple[Callable[[Subcommands], None], ...] = (
    _add_serve,
    _add_send,
    _add_demo,
    _add_bench,
    _add_proxy,
    _add_diagram,
    _add_trace,
    _add_dialects,
    _add_check,
    _add_plot,
)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Reliable transport over UDP, declared as state machines (PROTOCOL.md).",
        epilog="'fsm-tcp COMMAND --help' explains a command and shows examples.",
    )
    sub = parser.add_subparsers(
        dest="command", required=True, parser_class=_Parser, metavar="COMMAND"
    )
    for add in COMMANDS:
        add(sub)
    return parser


# ---------------------------------------------------------------------- running a command
def main(argv: Sequence[str] | None = None) -> int:
    _PipeState.closed = False
    with _pipe_signal():
        try:
            return _run(argv)
        except (PipeClosed, BrokenPipeError):
            # first, before any call: a SIGPIPE handler still pending must not raise again
            _PipeState.closed = True
            return _stdout_gone()


def _run(argv: Sequence[str] | None) -> int:
    try:
        args = build_parser().parse_args(argv)
        result: int = args.func(args)
        return result
    except UsageError as exc:
        return _fail(str(exc), 2)
    except FsmTcpError as exc:
        return _fail(str(exc), 1)
    except KeyboardInterrupt:
        if _PipeState.closed:  # not Ctrl-C: a worker thread woke us for a closed pipe
            raise PipeClosed from None
        say("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        raise
    except OSError as exc:
        return _fail(_os_message(exc), 1)


def say(message: str) -> None:
    """One line on stderr, prefixed with the program name, flushed (tests read it live)."""
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def _fail(message: str, code: int) -> int:
    say(f"error: {message}")
    return code


def _os_message(exc: OSError) -> str:
    where = f" {exc.filename}" if exc.filename else ""
    return f"{exc.strerror or exc}{':' if where else ''}{where}"


# ---------------------------------------------------------------------- a closed pipe
class _PipeState:
    #: Set once by whoever notices the reader is gone, so PipeClosed is raised only once.
    closed = False


def _on_sigpipe(_signum: int, _frame: object) -> None:
    # The kernel sends SIGPIPE with each failed write and a worker thread sends one to wake
    # the main thread: raise once, so the cleanup that follows is not cut short again.
    if not _PipeState.closed:
        _PipeState.closed = True
        raise PipeClosed


@contextlib.contextmanager
def _pipe_signal() -> Iterator[None]:
    """Handle SIGPIPE while a command runs (Python ignores it by default), so a thread that
    meets a closed pipe can stop the main thread wherever it waits: a blocking poll() ends
    only for a signal sent to that very thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGPIPE, _on_sigpipe)
    try:
        yield
    finally:
        signal.signal(signal.SIGPIPE, previous)


def _reader_gone() -> None:
    """A write met a closed pipe: stop the command from whichever thread noticed."""
    main_thread = threading.main_thread()
    if threading.current_thread() is main_thread:
        if not _PipeState.closed:
            _PipeState.closed = True
            raise PipeClosed
    elif main_thread.ident is not None and signal.getsignal(signal.SIGPIPE) is _on_sigpipe:
        signal.pthread_kill(main_thread.ident, signal.SIGPIPE)


def _stdout_gone() -> int:
    with contextlib.suppress(OSError, ValueError):  # no real stdout (e.g. under a test)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return EXIT_PIPE_CLOSED


class _Lines:
    """Text lines to one stream from any thread; once its reader is gone, it stops the
    command and writes nothing more (a daemon thread must not hold the stream's lock when
    the interpreter exits)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.closed = False
        self._lock = threading.Lock()

    def write(self, line: str) -> None:
        with self._lock:
            if self.closed:
                return
            try:
                self.stream.write(line + "\n")
                self.stream.flush()  # narration is live, even through a pipe
            except BrokenPipeError:
                self.closed = True
                _reader_gone()

    def close(self) -> None:
        with self._lock:
            self.closed = True


# ---------------------------------------------------------------------- tracing setup
class _Narrator:
    """The demo's and --debug's narration: the Console's lines, timed from the first event."""

    def __init__(self, lines: _Lines) -> None:
        self.lines = lines
        self._console = Console(transitions=True)
        self._origin: float | None = None

    def __call__(self, record: dict[str, Any]) -> None:
        if self._origin is None:
            self._origin = record["t"]
        # format() counts from its own origin, unset here: records come already shifted
        line = self._console.format(dict(record, t=record["t"] - self._origin))
        if line:
            self.lines.write(line)


class _Sinks:
    """The one tracer a command hands to all its sockets: trace file and/or narration.

    Every record is put on one clock and goes to every sink in one order under one lock, so
    the trace file and the narration both count from the same first event, from any thread.
    """

    def __init__(self, trace: str | None, narrate: _Lines | None) -> None:
        self._file: TextIO | None = None
        self._sinks: list[Tracer] = []
        self._lock = threading.Lock()
        self._closed = False
        if trace:
            try:
                self._file = open(trace, "w")  # noqa: SIM115 - closed in close()
            except OSError as exc:
                raise InvalidArgument(f"cannot write trace file {trace}: {exc.strerror}") from None
            self._sinks.append(TraceWriter(self._file))
        if narrate is not None:
            self._sinks.append(_Narrator(narrate))

    def tracer(self) -> Tracer | None:
        return self._record if self._sinks else None

    def _record(self, record: dict[str, Any]) -> None:
        with self._lock:
            if self._closed:  # a connection thread still running after the command ended
                return
            for sink in self._sinks:
                sink(record)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._file is not None:
                self._file.close()


def _socket(args: argparse.Namespace, sinks: _Sinks, name: str) -> SocketTCP:
    """The SocketTCP that serve and send build from the common options."""
    return SocketTCP(
        loss_rate=args.loss,
        seed=args.seed,
        tracer=sinks.tracer(),
        name=name,
        busy_poll=args.busy_poll,
        **_timers(args),
    )


def _timers(args: argparse.Namespace) -> dict[str, Any]:
    """The Config options serve and send take from the command line."""
    timers: dict[str, Any] = {"secure": args.secure, "dialect": args.dialect}
    for option in ("mss", "window", "cc"):  # send only
        if getattr(args, option, None) is not None:
            timers[option] = getattr(args, option)
    if args.initial_rto is not None:
        if args.initial_rto <= 0:
            raise UsageError("--initial-rto must be > 0")
        timers["initial_rto"] = args.initial_rto
    if args.max_retries is not None:
        timers["max_retries"] = args.max_retries
    return timers


def _sinks_for(args: argparse.Namespace) -> _Sinks:
    return _Sinks(args.trace, _Lines(sys.stderr) if args.debug else None)


# ---------------------------------------------------------------------- summaries
def _rate(bytes_per_second: float) -> str:
    for unit in ("B/s", "kB/s", "MB/s"):
        if bytes_per_second < 1000:
            return f"{bytes_per_second:.3g} {unit}"
        bytes_per_second /= 1000
    return f"{bytes_per_second:.3g} GB/s"


@dataclasses.dataclass
class Summary:
    """One transfer's figures: a line for a person, a JSON object for a script.

    ``loss_seen`` is what one end can observe of the path's loss: for the sender the share
    of its segments it had to send again; for the receiver the share of segments that
    arrived twice (an ACK of its was lost, or a retransmission was spurious).
    """

    event: str  # "sent" or "received"
    peer: str
    bytes: int
    messages: int
    seconds: float
    retransmissions: int
    duplicates_received: int
    segments_sent: int
    segments_received: int
    srtt_ms: float | None
    simulated_losses: int
    #: What auto saw of the peer's dialect (dialects.describe): --debug prints it.
    peer_dialect: str = ""

    @classmethod
    def of(
        cls, event: str, sock: SocketTCP, peer: Address, nbytes: int, messages: int, secs: float
    ) -> Summary:
        conn = sock.conn
        stats = conn.stats if conn is not None else None
        srtt = conn.rto.srtt if conn is not None else None
        return cls(
            event=event,
            peer=f"{peer[0]}:{peer[1]}",
            bytes=nbytes,
            messages=messages,
            seconds=round(secs, 6),
            retransmissions=stats.retransmissions if stats else 0,
            duplicates_received=stats.duplicates_received if stats else 0,
            segments_sent=stats.segments_sent if stats else 0,
            segments_received=stats.segments_received if stats else 0,
            srtt_ms=None if srtt is None else round(srtt * 1000, 3),
            simulated_losses=sock.udp.lost_sends + sock.udp.lost_receives,
            peer_dialect=dialects.describe(conn.dialect_findings) if conn is not None else "",
        )

    @property
    def goodput(self) -> float:
        """Message bytes per second, whole transfer (handshake and teardown included)."""
        return self.bytes / self.seconds if self.seconds > 0 else 0.0

    @property
    def loss_seen(self) -> float:
        if self.event == "sent":
            return self.retransmissions / self.segments_sent if self.segments_sent else 0.0
        repeated = self.duplicates_received
        return repeated / self.segments_received if self.segments_received else 0.0

    def line(self) -> str:
        what = (
            f"sent {self.bytes} bytes, all acknowledged,"
            if self.event == "sent"
            else f"{self.peer}: received {self.messages} message(s), {self.bytes} bytes,"
        )
        srtt = "n/a" if self.srtt_ms is None else f"{self.srtt_ms:.3f} ms"
        simulated = f" ({self.simulated_losses} by --loss)" if self.simulated_losses else ""
        return (
            f"{what} in {self.seconds:.3f} s: {_rate(self.goodput)}, "
            f"{self.retransmissions} retransmissions, {self.duplicates_received} duplicates, "
            f"srtt {srtt}, loss seen {self.loss_seen:.1%}{simulated}"
        )

    def as_json(self) -> str:
        fields = dataclasses.asdict(self)
        fields.update(goodput=round(self.goodput, 1), loss_seen=round(self.loss_seen, 6))
        return json.dumps(fields, separators=(",", ":"))


def _report(summary: Summary, args: argparse.Namespace, json_to: TextIO) -> None:
    if args.debug and summary.peer_dialect:
        say(f"{summary.peer}: {summary.peer_dialect}")
    if args.json:
        print(summary.as_json(), file=json_to, flush=True)
    elif not args.quiet:
        say(summary.line())


# ---------------------------------------------------------------------- serve
def _open_output(path: str) -> BinaryIO:
    if path == "-":
        return sys.stdout.buffer
    try:
        return open(path, "wb")
    except OSError as exc:
        raise InvalidArgument(f"cannot write {path}: {exc.strerror}") from None


class _MessageWriter:
    """Whole messages to one output, from any number of connection threads.

    Only whole messages are ever written, each under the lock; close() takes the lock too,
    so after it returns no write is under way and none will start.
    """

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.messages = 0
        self.closed = False
        self._lock = threading.Lock()

    def write(self, message: bytes) -> bool:
        """False if the output was closed first (the message is not written)."""
        with self._lock:
            if self.closed:
                return False
            try:
                self.out.write(message)
                self.out.flush()
            except BrokenPipeError:  # `fsm-tcp serve | head -c 10`
                self.closed = True
                _reader_gone()
                return False
            self.messages += 1
            return True

    def close(self) -> None:
        with self._lock:
            if not self.closed:
                self.closed = True
                if self.out is not sys.stdout.buffer:
                    self.out.close()


class _Server:
    """What serve's connections share: the output, who is connected, the reports."""

    def __init__(self, out: BinaryIO, args: argparse.Namespace) -> None:
        self.writer = _MessageWriter(out)
        self.args = args
        self.active: dict[Address, SocketTCP] = {}
        self._lock = threading.Lock()

    def serve(self, conn: SocketTCP, peer: Address) -> int:
        """Receive every message of one connection; 0 once it closed cleanly."""
        start = time.monotonic()
        with self._lock:
            self.active[peer] = conn
        try:
            received = self._receive_all(conn)
        except FsmTcpError as exc:
            with contextlib.suppress(FsmTcpError):
                conn.close()
            self._say(f"{peer[0]}:{peer[1]}: {exc}")
            received = None
        # not in a finally: after Ctrl-C, interrupted() reports the connections still here
        with self._lock:
            self.active.pop(peer, None)
        if received is None:
            return 1
        if not self.writer.closed:
            secs = time.monotonic() - start
            _report(Summary.of("received", conn, peer, *received, secs), self.args, sys.stderr)
        return 0

    def _receive_all(self, conn: SocketTCP) -> tuple[int, int] | None:
        """(bytes, messages) once the peer closed; None if the output closed first."""
        count = total = 0
        while (message := conn.recv_message()) is not None:
            if not self.writer.write(message):
                return None  # the command is ending
            count += 1
            total += len(message)
        conn.recv_close()
        return total, count

    def _say(self, message: str) -> None:
        if not self.writer.closed:  # once the command ends, its threads stay silent
            say(message)

    def interrupted(self, output: str) -> int:
        """Ctrl-C: close the output between two messages, then say what was abandoned."""
        self.writer.close()
        with self._lock:
            open_conns = [c.conn for c in self.active.values() if c.conn is not None]
        arrived = sum(_partial_message(c)[0] for c in open_conns)
        expected = sum(_partial_message(c)[1] for c in open_conns)
        where = "stdout" if output == "-" else output
        abandoned = (
            f"{len(open_conns)} connection(s) abandoned, {arrived} of {expected} bytes of "
            "unfinished messages not written"
            if open_conns
            else "no connection open"
        )
        say(f"interrupted: {abandoned}; {self.writer.messages} whole message(s) in {where}")
        return EXIT_INTERRUPTED


def _partial_message(conn: Connection) -> tuple[int, int]:
    """(bytes arrived, length) of the message a connection is receiving."""
    length = conn.next_message_length()
    return (conn.unread, length) if length is not None else (0, 0)


def cmd_serve(args: argparse.Namespace) -> int:
    sinks = _sinks_for(args)
    server = _Server(_open_output(args.output), args)
    listener = _socket(args, sinks, "server")
    try:
        host = resolve(args.host)
        try:
            listener.bind((host, args.port))
        except OSError as exc:
            raise InvalidArgument(f"cannot listen on {host}:{args.port}: {exc.strerror}") from None
        bound = listener.getsockname()
        say(f"listening on {bound[0]}:{bound[1]}")
        return _accept_loop(listener, server, args.once)
    except KeyboardInterrupt:
        return server.interrupted(args.output)
    finally:
        server.writer.close()
        listener.close()
        sinks.close()


def _accept_loop(listener: SocketTCP, server: _Server, once: bool) -> int:
    if once:  # in this thread: with no other thread running, the socket may busy-poll
        return server.serve(*listener.accept())
    while True:  # each connection in a thread of its own: a long transfer blocks no one
        conn, peer = listener.accept()
        threading.Thread(target=server.serve, args=(conn, peer), daemon=True).start()


# ---------------------------------------------------------------------- send
def _read_input(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise InvalidArgument(f"cannot read {path}: {exc.strerror}") from None


class ProgressDisplay:
    """Bytes acknowledged, percent, rate and time left on a terminal (rich).

    Redrawn at most ten times a second: the driver calls it once per segment, and a redraw
    costs far more than a segment. No refresh thread (auto_refresh=False): SocketTCP
    busy-polls only while the process runs a single thread.
    """

    def __init__(self, total: int, stream: TextIO) -> None:
        from rich.console import Console as RichConsole
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TaskProgressColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self._progress: Progress = Progress(
            BarColumn(),
            TaskProgressColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=RichConsole(file=stream),
            auto_refresh=False,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._task = self._progress.add_task("send", total=total)
        self._progress.start()
        self._next_draw = 0.0

    def __call__(self, done: int, _total: int) -> None:
        now = time.monotonic()
        if now >= self._next_draw:
            self._next_draw = now + 0.1
            self._progress.update(self._task, completed=done, refresh=True)

    def stop(self, done: int) -> None:
        """Draw the last figures and end the line."""
        self._progress.update(self._task, completed=done, refresh=True)
        self._progress.stop()


def _progress_display(args: argparse.Namespace, total: int) -> ProgressDisplay | None:
    # a terminal only, and never over --debug's narration on the same stream
    if args.quiet or args.debug or not sys.stderr.isatty():
        return None
    return ProgressDisplay(total, sys.stderr)


def _acknowledged(sock: SocketTCP, delivered: bool, total: int) -> int:
    if delivered:
        return total
    return sock.conn.send_progress[0] if sock.conn is not None else 0


def cmd_send(args: argparse.Namespace) -> int:
    data = _read_input(args.file)
    host = resolve(args.host)
    sinks = _sinks_for(args)
    sock = _socket(args, sinks, "client")
    display = _progress_display(args, len(data))
    delivered = False
    start = time.monotonic()
    try:
        try:
            sock.connect((host, args.port))
            sock.send(data, progress=display, mode=args.mode)
            delivered = True
        finally:  # the line ends before any other message, whatever happened
            if display is not None:
                display.stop(_acknowledged(sock, delivered, len(data)))
        sock.close()
    except KeyboardInterrupt:
        acked = _acknowledged(sock, delivered, len(data))
        say(f"interrupted: {acked} of {len(data)} bytes acknowledged; connection abandoned")
        return EXIT_INTERRUPTED
    finally:
        sock.udp.close()  # after Ctrl-C no FIN: the peer finds out by its own timeout
        sinks.close()
    _report(
        Summary.of("sent", sock, (host, args.port), len(data), 1, time.monotonic() - start),
        args,
        sys.stdout,
    )
    return 0


# ---------------------------------------------------------------------- demo
def cmd_demo(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    message = rng.randbytes(args.size)
    out = _Lines(sys.stdout)
    sinks = _Sinks(None, None if args.quiet else out)
    out.write(
        f"fsm-tcp demo: {args.size} random bytes over 127.0.0.1, "
        f"{args.loss:.0%} loss each way (seed {args.seed})\n"
    )
    server = SocketTCP(loss_rate=args.loss, seed=args.seed, tracer=sinks.tracer(), name="server")
    server.bind(("127.0.0.1", 0))
    received: dict[str, Any] = {}
    thread = threading.Thread(target=_demo_server, args=(server, received), daemon=True)
    thread.start()
    client = SocketTCP(
        loss_rate=args.loss, seed=args.seed + 1, tracer=sinks.tracer(), name="client"
    )
    start = time.monotonic()
    try:
        client.connect(server.getsockname())
        client.send(message)
        client.close()
        thread.join(120)
    finally:
        sinks.close()  # nothing more narrated, whatever the server thread still does
        client.udp.close()  # after an interruption, no closing handshake to wait for
        if not thread.is_alive():
            server.close()
        # else the server thread may still wait in accept() on it: closing it under that
        # wait would end the thread in a traceback; the process's exit closes it instead
    elapsed = time.monotonic() - start
    return _demo_summary(out, message, received, client, server, elapsed)


def _demo_server(server: SocketTCP, received: dict[str, Any]) -> None:
    try:
        conn, _ = server.accept()
        received["socket"] = conn
        received["message"] = conn.recv_message()
        conn.recv_close()
    except FsmTcpError as exc:
        received["error"] = exc


def _lost(sock: SocketTCP | None) -> int:
    return sock.udp.lost_sends + sock.udp.lost_receives if sock is not None else 0


def _demo_summary(
    out: _Lines,
    message: bytes,
    received: dict[str, Any],
    client: SocketTCP,
    server: SocketTCP,
    elapsed: float,
) -> int:
    got = received.get("message")
    child: SocketTCP | None = received.get("socket")
    cs = client.conn.stats if client.conn else None
    ss = child.conn.stats if child is not None and child.conn is not None else None
    ok = got == message
    digest = hashlib.sha256(message).hexdigest()[:16]
    lines = [
        "",
        f"bytes:           {len(message)} sent, {len(got or b'')} received",
        f"verified:        {f'byte-exact (sha256 {digest}...)' if ok else 'MISMATCH'}",
        f"segments:        {cs.segments_sent if cs else 0} by the client, "
        f"{ss.segments_sent if ss else 0} by the server",
        f"retransmissions: {cs.retransmissions if cs else 0} by the client, "
        f"{ss.retransmissions if ss else 0} by the server",
        f"duplicates:      {ss.duplicates_received if ss else 0} received by the server, "
        f"{cs.duplicates_received if cs else 0} by the client",
        # the listener's own socket counts too: it could lose what it sends before accept
        f"lost (sim):      {_lost(client)} at the client, "
        f"{_lost(server) + _lost(child)} at the server",
        f"time:            {elapsed:.3f} s",
    ]
    for line in lines:
        out.write(line)
    return 0 if ok else 1


# ---------------------------------------------------------------------- bench / proxy
def cmd_bench(args: argparse.Namespace) -> int:
    from .bench import run_from_args

    run_from_args(args, sys.stdout)
    return 0


def cmd_proxy(args: argparse.Namespace) -> int:
    from .proxy import FaultProxy, Faults
    from .schedule import parse_schedule

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


def cmd_dialects(_args: argparse.Namespace) -> int:
    rows = dialects.table()
    names = [v for v in rows[0] if v not in ("name", "summary", "notes")]
    width = max(len(v) for v in names)
    for row in rows:
        print(f"{row['name']}: {row['summary']}")
        for v in names:
            value = row[v]
            mark = "" if value == getattr(dialects.CANONICAL, v) else "   *"
            print(f"  {v:{width}}  {value!r}{mark}")
        if row["notes"]:
            print(f"  ({row['notes']})")
        print()
    print("* differs from PROTOCOL.md. 'auto' (the default) starts there and adapts.")
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
