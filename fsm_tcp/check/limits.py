"""Sets resource limits, then becomes the program under test (``fsm-tcp check``).

Run as a script with ``python -I`` (it imports only the standard library, so it works from
any install)::

    limits.py CPU_SECONDS ADDRESS_SPACE FILE_SIZE OPEN_FILES PROCESSES -- PROGRAM [ARG...]

A limit of 0 leaves that limit as it was. Core dumps are always off. Limits are set here,
in the child, rather than in a ``preexec_fn``: the checker runs scenarios from threads, and
a ``preexec_fn`` is not safe there.
"""

from __future__ import annotations

import os
import resource
import sys

LIMITS = (
    resource.RLIMIT_CPU,
    resource.RLIMIT_AS,
    resource.RLIMIT_FSIZE,
    resource.RLIMIT_NOFILE,
    resource.RLIMIT_NPROC,
)


def _set(which: int, value: int) -> None:
    if value <= 0:
        return
    _soft, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    try:
        resource.setrlimit(which, (value, value if which != resource.RLIMIT_CPU else hard))
    except (ValueError, OSError) as exc:  # a limit the system refuses: say so, run anyway
        print(f"fsm-tcp check: cannot set limit {which}: {exc}", file=sys.stderr)


def main(argv: list[str]) -> None:
    split = argv.index("--")
    values, program = [int(v) for v in argv[:split]], argv[split + 1 :]
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    for which, value in zip(LIMITS, values, strict=True):
        _set(which, value)
    try:
        os.execvp(program[0], program)
    except OSError as exc:
        print(f"fsm-tcp check: cannot run {program[0]}: {exc.strerror}", file=sys.stderr)
        sys.exit(127)


if __name__ == "__main__":
    main(sys.argv[1:])
