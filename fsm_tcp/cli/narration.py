"""The tracer a command hands to its sockets: a --trace file and/or narration (--debug, demo)."""

from __future__ import annotations

import threading
from typing import Any, TextIO

from ..engine import Tracer
from ..errors import InvalidArgument
from ..trace import Console, TraceWriter
from .pipes import Lines


class Narrator:
    """The demo's and --debug's narration: the Console's lines, timed from the first event."""

    def __init__(self, lines: Lines) -> None:
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


class Sinks:
    """The one tracer a command hands to all its sockets: trace file and/or narration.

    Every record is put on one clock and goes to every sink in one order under one lock, so
    the trace file and the narration both count from the same first event, from any thread.
    """

    def __init__(self, trace: str | None, narrate: Lines | None) -> None:
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
            self._sinks.append(Narrator(narrate))

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
