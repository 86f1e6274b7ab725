"""``fsm-tcp check``: test anyone's implementation of the protocol against the faults the
course names (issue 10), answering apart whether it speaks PROTOCOL.md and whether it
survives the faults in its own dialect; grader formats, a whole class, untrusted code
contained (issue 15).

The command line registers it as every command: a parser made from ``HELP``, ``DESCRIPTION``
and ``EPILOG``, filled by ``add_arguments(parser)``; ``run(args)`` returns the exit status.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

from ..argtypes import at_least_one, scale
from ..dialects import names as dialect_names
from ..errors import InvalidArgument
from . import formats
from .catalogue import BY_NAME, CATALOGUE
from .report import EXIT_DEVIATES, EXIT_FAILED, Table, exit_status, to_json, write_report
from .runner import (
    BUDGET,
    CLIENT,
    PROGRAM,
    SERVER,
    Options,
    Outcome,
    Program,
    Runner,
    module_program,
)
from .sandbox import Limits

__all__ = ["CATALOGUE", "DESCRIPTION", "EPILOG", "HELP", "add_arguments", "check", "run"]

HELP = "test a program or SocketTCP class against the course's faults"
DESCRIPTION = textwrap.fill(  # the CLI prints descriptions raw
    "Answer two questions about a program, apart. Does it speak PROTOCOL.md? Each variable "
    "in which it deviates is one finding (found in fault-free runs, with fsm_tcp adapting). "
    "Does it survive the faults? Every fault scenario (lost, duplicated, late and reordered "
    "segments; 1-3 digit lengths; UTF-8, ||| and binary payloads; random loss) runs with "
    "fsm_tcp speaking the program's own dialect, fixed, through a scripted fault proxy.",
    width=88,
)

EPILOG = f"""\
examples:
  fsm-tcp check --module path/to/SocketTCP.py          # the class itself, as server and client
  fsm-tcp check --module sockettcp.py --class MySocket --report out/
  fsm-tcp check server --cmd "python3 server.py {{port}}"                  # message on stdout
  fsm-tcp check server --cmd "python3 server.py {{port}} {{out}}" --output file
  fsm-tcp check client --cmd "python3 client.py 127.0.0.1 {{port}} < {{file}}"
  fsm-tcp check --module SocketTCP.py --json > grade.json
  fsm-tcp check --module SocketTCP.py --junit junit.xml --gradescope results.json
  fsm-tcp check --submissions 'class/*/' --module SocketTCP.py --report graded/ --jobs 4
  fsm-tcp check --list

placeholders: {{port}} the server's port (for a client under test: the port to connect to),
{{file}} a file holding the message to send, {{out}} where a server writes what it received.
A server under test must receive one message, answer the close and exit; a client must
send {{file}} as one message, close and exit.

exit status:
  0  every scenario passed and the program speaks PROTOCOL.md (or --accept-deviations)
  {EXIT_FAILED}  a scenario failed or was not run (no conversation, time budget), or bad input
  {EXIT_DEVIATES}  every scenario passed, but the program deviates from PROTOCOL.md

the program under test runs in its own process group, in a scratch copy of its folder
(--module: the module's folder; --cmd: --workdir, default the current folder), with a
scrubbed environment and resource limits; its whole group is killed when a scenario ends.
The network is not contained, nor a process that calls setsid (see the README).
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``check`` subcommand's arguments."""
    p.add_argument(
        "role",
        nargs="?",
        choices=[SERVER, CLIENT],
        help="what the program under test is (--cmd: required; --module: default both)",
    )
    p.add_argument("--cmd", metavar="COMMAND", help="shell command of the program under test")
    p.add_argument(
        "--module",
        metavar="FILE",
        help="a Python file defining the SocketTCP class (with --submissions: its name within "
        "each submission, default SocketTCP.py)",
    )
    p.add_argument(
        "--class",
        dest="class_name",
        default="SocketTCP",
        metavar="NAME",
        help="the class in --module (default SocketTCP)",
    )
    p.add_argument(
        "--output",
        choices=["stdout", "file"],
        default=None,
        help="where a server under test puts the message: its stdout, or the file {out} "
        "(default: file when the command names {out}, else stdout)",
    )
    p.add_argument(
        "--workdir",
        metavar="DIR",
        help="--cmd: the folder copied into each scenario's scratch folder, where the command "
        "runs (default: the current folder)",
    )
    p.add_argument("--json", action="store_true", help="print a JSON document (table on stderr)")
    p.add_argument("--report", metavar="DIR", help="write index.md, report.json and pcap files")
    p.add_argument(
        "--junit",
        metavar="FILE",
        help="write JUnit XML: a testcase per role x scenario (classname the role) and per "
        "deviation; HANG/CORRUPT/SLOW failures, CRASH errors, NOT RUN skipped",
    )
    p.add_argument(
        "--gradescope",
        metavar="FILE",
        help="write Gradescope's results.json: a test per role x scenario and per deviation",
    )
    p.add_argument(
        "--weights",
        metavar="FILE",
        help='points for --gradescope, JSON: {"*": 1, "lost-hs-ack": 3, '
        '"server/pipes": 2, "deviations": 2} (default 1 point each)',
    )
    p.add_argument(
        "--jobs",
        type=at_least_one,
        default=2,
        metavar="N",
        help="scenarios run at once (default 2); with --submissions, submissions at once",
    )
    p.add_argument(
        "--timeout-scale",
        type=scale,
        default=1.0,
        metavar="X",
        help="multiply every time bound (HANG, SLOW, start-up) by X (default 1)",
    )
    p.add_argument(
        "--budget",
        type=scale,
        default=BUDGET,
        metavar="SECONDS",
        help=f"time for the whole check; scenarios not started by then are NOT RUN "
        f"(default {BUDGET:.0f})",
    )
    p.add_argument(
        "--memory",
        type=at_least_one,
        default=Limits().address_space >> 20,
        metavar="MIB",
        help=f"address space the program may use (default {Limits().address_space >> 20})",
    )
    p.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="NAME",
        help="run only this scenario (repeatable; the fault-free discovery runs always run)",
    )
    p.add_argument(
        "--text-only", action="store_true", help="skip the binary payload (a text program)"
    )
    p.add_argument(
        "--peer-dialect",
        choices=[PROGRAM, *dialect_names()],
        default=PROGRAM,
        metavar="NAME",
        help="what fsm_tcp's end speaks in the fault scenarios: program (default: the "
        "program's own dialect as the fault-free runs found it, fixed: no adaptation, no "
        "hint copies, no probes), canonical (strictly PROTOCOL.md: every deviation then "
        "fails scenarios too), auto (adapting) or a profile of 'fsm-tcp dialects'",
    )
    p.add_argument(
        "--accept-deviations",
        action="store_true",
        help=f"exit 0 when every scenario passes even if the program deviates from "
        f"PROTOCOL.md (for courses that allow variants; else exit {EXIT_DEVIATES})",
    )
    p.add_argument(
        "--submissions",
        action="append",
        default=[],
        metavar="PATTERN",
        help="grade a class: a glob of submission folders (or .py files), or a folder of "
        "folders; repeatable; needs --report DIR (one folder per submission, and the class "
        "matrix class.md and class.csv)",
    )
    p.add_argument(
        "--again",
        action="store_true",
        help="with --submissions: grade again the submissions that already have a result",
    )
    p.add_argument("--list", action="store_true", help="list the scenarios and exit")


def programs_from(args: argparse.Namespace) -> list[Program]:
    if bool(args.cmd) == bool(args.module):
        raise InvalidArgument("check needs exactly one of --cmd COMMAND or --module FILE")
    if args.module:
        module = Path(args.module)
        if not module.is_file() or module.suffix != ".py":
            raise InvalidArgument(f"--module {args.module}: not a Python file")
        roles = [args.role] if args.role else [SERVER, CLIENT]
        return [module_program(role, module, args.class_name) for role in roles]
    if not args.role:
        raise InvalidArgument(
            "--cmd needs the program's role: 'check server --cmd ...' or 'check client --cmd ...'"
        )
    output = args.output or ("file" if "{out}" in args.cmd else "stdout")
    if args.role == SERVER and "{port}" not in args.cmd:
        raise InvalidArgument("a server command needs {port}: the checker picks the port")
    if args.role == CLIENT and "{port}" not in args.cmd:
        raise InvalidArgument("a client command needs {port}: it must connect to the checker")
    workdir = Path(args.workdir or os.getcwd())
    if not workdir.is_dir():
        raise InvalidArgument(f"--workdir {args.workdir}: not a folder")
    label = f"{args.cmd!r} as {args.role}"
    return [Program(args.role, args.cmd, output, label, workdir.resolve())]


def options_from(args: argparse.Namespace) -> Options:
    unknown = [n for n in args.scenario if n not in BY_NAME]
    if unknown:
        raise InvalidArgument(f"unknown scenario {unknown[0]!r} (see 'fsm-tcp check --list')")
    limits = Limits(address_space=args.memory << 20)
    return Options(
        args.jobs,
        args.timeout_scale,
        args.text_only,
        tuple(args.scenario),
        peer_dialect=args.peer_dialect,
        budget=args.budget,
        limits=limits,
    )


def run(args: argparse.Namespace) -> int:
    if args.list:
        for s in CATALOGUE:
            print(f"{s.name:20} {s.title}\n{'':20} requires: {s.requires}")
        return 0
    options = options_from(args)
    weights = formats.load_weights(args.weights)
    for path in filter(None, (args.junit, args.gradescope)):  # before, not after the check
        if not Path(path).resolve().parent.is_dir():
            raise InvalidArgument(f"cannot write {path}: no folder {Path(path).parent}")
    if args.submissions:
        from .classroom import grade_class

        return grade_class(args, options, weights)
    programs = programs_from(args)
    table = Table(sys.stderr if args.json else sys.stdout)
    outcome = check(programs, options, table)
    labels = [p.label for p in programs]
    report = Path(args.report) if args.report else None
    record = to_json(outcome, labels, report, args.accept_deviations)
    if args.json:
        print(json.dumps(record, indent=2))
    if report is not None:
        page = write_report(report, outcome, labels, args.accept_deviations)
        print(f"report: {page}", file=sys.stderr)
    write_formats(record, args.junit, args.gradescope, weights)
    return exit_status(outcome, args.accept_deviations)


def write_formats(
    record: dict[str, object],
    junit: str | None,
    gradescope: str | None,
    weights: dict[str, float],
) -> None:
    if junit:
        formats.write(junit, formats.junit(record))
    if gradescope:
        formats.write(gradescope, json.dumps(formats.gradescope(record, weights), indent=2))


def check(programs: Sequence[Program], options: Options, table: Table | None = None) -> Outcome:
    """Run the catalogue against each program; the table (if any) shows progress."""
    runner = Runner(options, table.role if table is not None else None)
    try:
        if table is not None:
            table.header([p.label for p in programs])
        outcome = runner.run_all(programs, table or (lambda *_: None))
    finally:
        runner.close()
    if table is not None:
        table.summary(outcome)
    return outcome
