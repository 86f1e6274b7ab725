"""send's progress display on a terminal: bytes acknowledged, percent, rate and time left."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.progress import Progress


class ProgressDisplay:
    """Bytes acknowledged, percent, rate and time left on a terminal (rich).

    ``total`` None (a pipe): no percent nor time left, only bytes and rate.
    Redrawn at most ten times a second: the driver calls it once per segment, and a redraw
    costs far more than a segment. No refresh thread (auto_refresh=False): SocketTCP
    busy-polls only while the process runs a single thread.
    """

    def __init__(self, total: int | None, stream: TextIO) -> None:
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

    def __call__(self, done: int, _total: int | None) -> None:
        now = time.monotonic()
        if now >= self._next_draw:
            self._next_draw = now + 0.1
            self._progress.update(self._task, completed=done, refresh=True)

    def stop(self, done: int) -> None:
        """Draw the last figures and end the line."""
        self._progress.update(self._task, completed=done, refresh=True)
        self._progress.stop()
