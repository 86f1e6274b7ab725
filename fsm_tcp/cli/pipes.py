"""A closed pipe: the reader of standard output went away (``fsm-tcp demo | head -3``).

The command then stops at once, silently, with 141 (128 + SIGPIPE): the status the shell
shows for a C program such as ``yes | head -1``, so ``set -o pipefail`` scripts can tell it
from a failure (1). Standard output is pointed at /dev/null first, as Python's documentation
of SIGPIPE advises, so the interpreter's last flush cannot fail a second time.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from typing import TextIO

from .base import EXIT_PIPE_CLOSED


class PipeClosed(Exception):
    """The reader of standard output went away; raised in the main thread."""


class _State:
    #: Set once by whoever notices the reader is gone, so PipeClosed is raised only once.
    closed = False


def reset() -> None:
    """A command starts with its reader present."""
    _State.closed = False


def noticed() -> bool:
    """Whether the reader is known to be gone (a KeyboardInterrupt is then no Ctrl-C)."""
    return _State.closed


def mark_closed() -> None:
    """Noted before any cleanup: a SIGPIPE handler still pending must not raise again."""
    _State.closed = True


def _on_sigpipe(_signum: int, _frame: object) -> None:
    # The kernel sends SIGPIPE with each failed write and a worker thread sends one to wake
    # the main thread: raise once, so the cleanup that follows is not cut short again.
    if not _State.closed:
        _State.closed = True
        raise PipeClosed


@contextlib.contextmanager
def sigpipe_handled() -> Iterator[None]:
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


def reader_gone() -> None:
    """A write met a closed pipe: stop the command from whichever thread noticed."""
    main_thread = threading.main_thread()
    if threading.current_thread() is main_thread:
        if not _State.closed:
            _State.closed = True
            raise PipeClosed
    elif main_thread.ident is not None and signal.getsignal(signal.SIGPIPE) is _on_sigpipe:
        signal.pthread_kill(main_thread.ident, signal.SIGPIPE)


def stdout_gone() -> int:
    """Point stdout at /dev/null; the exit status of a command whose reader went away."""
    with contextlib.suppress(OSError, ValueError):  # no real stdout (e.g. under a test)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return EXIT_PIPE_CLOSED


class Lines:
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
                reader_gone()

    def close(self) -> None:
        with self._lock:
            self.closed = True
