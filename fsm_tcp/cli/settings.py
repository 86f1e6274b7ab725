"""The options serve and send share, as one object (twine's ``Settings`` is the model): it
registers them on a parser, is built from the parsed arguments, and builds what the
commands need from them: the sockets, the trace sinks, the summary, the progress display."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any, TextIO

from .. import dialects
from ..argtypes import non_negative, positive_int, probability
from ..socket_tcp import SocketTCP
from .base import UsageError, say
from .narration import Sinks
from .pipes import Lines
from .progress import ProgressDisplay
from .summary import Summary

#: Options that go into the engine's Config as they are, when given (send's only).
_WINDOW_OPTIONS = ("mss", "window", "cc")


@dataclasses.dataclass(frozen=True)
class Settings:
    """What serve and send take from the command line besides their own arguments."""

    loss: float = 0.0
    seed: int | None = None
    debug: bool = False
    trace: str | None = None
    initial_rto: float | None = None
    max_retries: int | None = None
    busy_poll: float | None = None
    secure: bool = False
    dialect: str = dialects.AUTO
    quiet: bool = False
    json: bool = False
    mode: str = "stop_and_wait"
    mss: int | None = None
    window: int | None = None
    cc: str | None = None

    # ------------------------------------------------------------------ the parser
    @staticmethod
    def register(parser: argparse.ArgumentParser, *, json_where: str, window: bool) -> None:
        """Add the shared options: report and network ones, and with ``window`` the ones
        that shape a sender (PROTOCOL.md 6)."""
        _add_report_options(parser, json_where)
        _add_network_options(parser)
        if window:
            _add_window_options(parser)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Settings:
        """The shared options of ``args``; a command without some (serve has no --mode)
        keeps their defaults."""
        given = {f.name: getattr(args, f.name, None) for f in dataclasses.fields(cls)}
        settings = cls(**{k: v for k, v in given.items() if v is not None})
        if settings.initial_rto is not None and settings.initial_rto <= 0:
            raise UsageError("--initial-rto must be > 0")
        return settings

    # ------------------------------------------------------------------ what they build
    def config_options(self) -> dict[str, Any]:
        """The engine's Config options the command line sets."""
        options: dict[str, Any] = {"secure": self.secure, "dialect": self.dialect}
        for option in _WINDOW_OPTIONS:
            if getattr(self, option) is not None:
                options[option] = getattr(self, option)
        if self.initial_rto is not None:
            options["initial_rto"] = self.initial_rto
        if self.max_retries is not None:
            options["max_retries"] = self.max_retries
        return options

    def sinks(self) -> Sinks:
        """The trace file and, with --debug, the narration on stderr."""
        return Sinks(self.trace, Lines(sys.stderr) if self.debug else None)

    def socket(self, sinks: Sinks, name: str) -> SocketTCP:
        """A SocketTCP built from these options, tracing to ``sinks``."""
        return SocketTCP(
            loss_rate=self.loss,
            seed=self.seed,
            tracer=sinks.tracer(),
            name=name,
            busy_poll=self.busy_poll,
            **self.config_options(),
        )

    def progress(self, total: int | None) -> ProgressDisplay | None:
        """A progress display on a terminal only, never over --debug's narration."""
        if self.quiet or self.debug or not sys.stderr.isatty():
            return None
        return ProgressDisplay(total, sys.stderr)

    def report(self, summary: Summary, json_to: TextIO) -> None:
        """The summary as a line on stderr, as JSON on ``json_to``, or nothing (--quiet)."""
        if self.debug and summary.peer_dialect:
            say(f"{summary.peer}: {summary.peer_dialect}")
        if self.json:
            print(summary.as_json(), file=json_to, flush=True)
        elif not self.quiet:
            say(summary.line())


def _add_network_options(p: argparse.ArgumentParser) -> None:
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


def _add_window_options(p: argparse.ArgumentParser) -> None:
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


def _add_report_options(p: argparse.ArgumentParser, json_where: str) -> None:
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
