"""The ``fsm-tcp`` command: a small dispatcher over one module per command.

Every failure the user can cause or meet (bad option, port in use, unreadable file,
unreachable or vanished peer) ends with one line on stderr and a non-zero exit code.

Ending early follows the shell's conventions:

* Ctrl-C (SIGINT) exits 130 (128 + SIGINT) after one line saying what was abandoned.
* When the reader of standard output goes away (``fsm-tcp demo | head -3``) the command stops
  at once, silently, with 141 (128 + SIGPIPE): see :mod:`fsm_tcp.cli.pipes`.

Adding a command: write a module holding ``HELP`` (one line), ``DESCRIPTION``, ``EPILOG``
(real examples, see :func:`fsm_tcp.cli.base.examples`), ``add_arguments(parser)`` and
``run(args) -> exit status``, as :mod:`fsm_tcp.cli.commands.send` does (its shared options
come from :class:`fsm_tcp.cli.settings.Settings`), and list it in :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from .. import check, plot
from ..errors import FsmTcpError
from . import pipes
from .base import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    PROG,
    Command,
    Parser,
    UsageError,
    fail,
    os_message,
    say,
)
from .commands import bench, demo, diagram, dialects, proxy, send, serve, trace

__all__ = ["COMMANDS", "build_parser", "main"]

#: Every command, in the order --help lists them.
COMMANDS: tuple[tuple[str, Command], ...] = (
    ("serve", serve),
    ("send", send),
    ("demo", demo),
    ("bench", bench),
    ("proxy", proxy),
    ("diagram", diagram),
    ("trace", trace),
    ("dialects", dialects),
    ("check", check),
    ("plot", plot),
)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog=PROG,
        description="Reliable transport over UDP, declared as state machines (PROTOCOL.md).",
        epilog="'fsm-tcp COMMAND --help' explains a command and shows examples.",
    )
    sub = parser.add_subparsers(
        dest="command", required=True, parser_class=Parser, metavar="COMMAND"
    )
    for name, command in COMMANDS:
        p = sub.add_parser(
            name,
            help=command.HELP,
            description=command.DESCRIPTION,
            epilog=command.EPILOG,
            # keeps the examples' lines as written (descriptions come filled)
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.add_arguments(p)
        p.set_defaults(func=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    pipes.reset()
    with pipes.sigpipe_handled():
        try:
            return _run(argv)
        except (pipes.PipeClosed, BrokenPipeError):
            # first, before any call: a SIGPIPE handler still pending must not raise again
            pipes.mark_closed()
            return pipes.stdout_gone()


def _run(argv: Sequence[str] | None) -> int:
    try:
        args = build_parser().parse_args(argv)
        result: int = args.func(args)
        return result
    except UsageError as exc:
        return fail(str(exc), EXIT_USAGE)
    except FsmTcpError as exc:
        return fail(str(exc), EXIT_FAILED)
    except KeyboardInterrupt:
        if pipes.noticed():  # not Ctrl-C: a worker thread woke us for a closed pipe
            raise pipes.PipeClosed from None
        say("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        raise
    except OSError as exc:
        return fail(os_message(exc), EXIT_FAILED)
