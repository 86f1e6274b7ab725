"""Helpers for network tests: loopback only, bounded time, every thread and process ended."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class Worker(threading.Thread):
    """A thread that keeps the result or the exception of its target for the test to check."""

    def __init__(self, target: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self._target_fn = target
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self._target_fn()
        except BaseException as exc:  # handed to the test thread by outcome()
            self.error = exc

    def outcome(self, timeout: float = 30.0) -> Any:
        self.join(timeout)
        assert not self.is_alive(), "worker did not finish in time"
        if self.error is not None:
            raise self.error
        return self.result


def spawn(target: Callable[[], Any]) -> Worker:
    worker = Worker(target)
    worker.start()
    return worker


def serve_one_message(server: Any) -> bytes | None:
    """A SocketTCP server's side of one conversation: accept, read one message, close."""
    conn, _ = server.accept()
    got: bytes | None = conn.recv_message()
    conn.recv_close()
    return got
