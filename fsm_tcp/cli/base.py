"""What every part of the command line shares: its name, exit codes, one-line messages, the
parser that turns a bad command line into one line, and how a command module registers."""

from __future__ import annotations

import argparse
import socket
import sys
import textwrap
from collections.abc import Sequence
from typing import NoReturn, Protocol

from ..argtypes import port_number
from ..errors import InvalidArgument

PROG = "fsm-tcp"
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_PIPE_CLOSED = 141  # 128 + SIGPIPE


class UsageError(Exception):
    """A bad command line: reported in one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (raised, so main() reports them)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


class Command(Protocol):
    """What a command module holds (fsm_tcp.check and fsm_tcp.plot are ones too)."""

    HELP: str
    DESCRIPTION: str
    EPILOG: str

    def add_arguments(self, parser: argparse.ArgumentParser, /) -> None: ...

    def run(self, args: argparse.Namespace, /) -> int: ...


def examples(lines: Sequence[str]) -> str:
    """An epilog of real examples: each is a command line the tests parse, so none goes stale."""
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def fill(text: str) -> str:
    """Paragraphs filled to 79 columns (the raw formatter keeps the epilog's lines as written,
    so the description's paragraphs are filled here)."""
    return "\n\n".join(textwrap.fill(par, 79) for par in text.split("\n\n"))


def say(message: str) -> None:
    """One line on stderr, prefixed with the program name, flushed (tests read it live)."""
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def fail(message: str, code: int) -> int:
    say(f"error: {message}")
    return code


def os_message(exc: OSError) -> str:
    where = f" {exc.filename}" if exc.filename else ""
    return f"{exc.strerror or exc}{':' if where else ''}{where}"


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
