"""The machinery every measurement shares: a peer in a process of its own, payloads, and
measurements taking turns."""

from __future__ import annotations

import hashlib
import multiprocessing
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def payload(size: int, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(size)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def await_report(here: Any, proc: Any, seconds: float, what: str) -> Any:
    """The peer's next report, failing fast (not after ``seconds``) if the peer died."""
    deadline = time.monotonic() + seconds
    while not here.poll(0.05):
        if not proc.is_alive() and not here.poll():
            raise RuntimeError(f"benchmark peer exited with code {proc.exitcode} before {what}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"benchmark peer did not report {what} within {seconds:.0f} s")
    return here.recv()


def with_peer(
    target: Callable[..., None],
    args: tuple[Any, ...],
    run: Callable[[Any], T],
    patience: float = 60.0,
) -> tuple[T, Any]:
    """Start ``target(pipe, *args)`` in its own process (as a real peer is), call ``run`` here
    with the first thing it reports (its address), and return what ``run`` returned with the
    peer's second report (a digest or a count). The peer never outlives the call."""
    ctx = multiprocessing.get_context("spawn")
    here, there = ctx.Pipe()
    proc = ctx.Process(target=target, args=(there, *args), daemon=True)
    proc.start()
    finished = False
    try:
        result = run(await_report(here, proc, 30.0, "its address"))
        report = await_report(here, proc, patience, "its result")
        finished = True
        return result, report
    finally:
        proc.join(10.0 if finished else 1.0)  # a failed run leaves the peer waiting: end it
        if proc.is_alive():
            proc.kill()
            proc.join()


def exact(
    target: Callable[..., None],
    args: tuple[Any, ...],
    send: Callable[[Any], T],
    message: bytes,
    patience: float = 60.0,
) -> T:
    """``with_peer``, for a peer that reports the SHA-256 of what it received: what ``send``
    returned, or RuntimeError unless the peer received ``message`` byte-exact."""
    result, reported = with_peer(target, args, send, patience)
    if reported != digest(message):
        raise RuntimeError("benchmark transfer was not byte-exact")
    return result


def attempt(failures: dict[str, str], key: str, measure: Callable[[], T]) -> T | None:
    """``measure()``, or None once ``failures[key]`` says why it failed: a failing
    measurement must not cost the other figures of the run."""
    try:
        return measure()
    except Exception as exc:
        failures[key] = f"{type(exc).__name__}: {exc}"
        return None


def interleaved(
    measures: dict[str, Callable[[int], T]], rounds: int, failures: dict[str, str]
) -> dict[str, list[T]]:
    """Each measurement ``rounds`` times (called with the round, a seed), taking turns, so
    that a slow spell of the machine hits every side of a ratio alike. One that fails says
    why once in ``failures`` and is left out of the result."""
    got: dict[str, list[T]] = {label: [] for label in measures}
    for seed in range(max(1, rounds)):
        for label, measure in measures.items():
            if label in got:
                value = attempt(failures, label, lambda: measure(seed))  # noqa: B023 (called now)
                if value is None:
                    del got[label]
                else:
                    got[label].append(value)
    return got


def median(values: list[T], key: Callable[[T], float]) -> T:
    """The middle one (the lower middle of an even count)."""
    ordered = sorted(values, key=key)
    return ordered[(len(ordered) - 1) // 2]
