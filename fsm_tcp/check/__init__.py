"""``fsm-tcp check``: test anyone's implementation of the protocol against the faults the
course names (issue 10).

The command line registers it as every command: a parser made from ``HELP``, ``DESCRIPTION``
and ``EPILOG``, filled by ``add_arguments(parser)``; ``run(args)`` returns the exit status.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from ..argtypes import at_least_one, scale
from ..dialects import names as dialect_names
from ..errors import InvalidArgument
from .catalogue import BY_NAME, CATALOGUE
from .report import Table, passed, to_json, write_report
from .runner import CLIENT, SERVER, Options, Program, Result, Runner, module_program

__all__ = ["CATALOGUE", "add_arguments", "check", "run"]

HELP = "test a program or SocketTCP class against the course's faults"
DESCRIPTION = (
    "Run the scenario catalogue (lost, duplicated, late and reordered segments; 1-3 digit "
    "lengths; UTF-8, ||| and binary payloads; random loss) against a program, with fsm_tcp "
    "at the other end and a scripted fault proxy between."
)

EPILOG = """\
examples:
  fsm-tcp check --module path/to/SocketTCP.py          # the class itself, as server and client
  fsm-tcp check --module sockettcp.py --class MySocket --report out/
  fsm-tcp check server --cmd "python3 server.py {port}"                  # message on stdout
  fsm-tcp check server --cmd "python3 server.py {port} {out}" --output file
  fsm-tcp check client --cmd "python3 client.py 127.0.0.1 {port} < {file}"
  fsm-tcp check --module SocketTCP.py --json > grade.json
  fsm-tcp check --list

placeholders: {port} the server's port (for a client under test: the port to connect to),
{file} a file holding the message to send, {out} where a server writes what it received.
A server under test must receive one message, answer the close and exit; a client must
send {file} as one message, close and exit. Exit status 0 only when every scenario passes.
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
    p.add_argument("--module", metavar="FILE", help="a Python file defining the SocketTCP class")
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
    p.add_argument("--json", action="store_true", help="print a JSON document (table on stderr)")
    p.add_argument("--report", metavar="DIR", help="write index.md, report.json and pcap files")
    p.add_argument(
        "--jobs",
        type=at_least_one,
        default=2,
        metavar="N",
        help="scenarios run at once (default 2)",
    )
    p.add_argument(
        "--timeout-scale",
        type=scale,
        default=1.0,
        metavar="X",
        help="multiply every time bound (HANG, SLOW, start-up) by X (default 1)",
    )
    p.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="NAME",
        help="run only this scenario (repeatable; the no-fault run always runs)",
    )
    p.add_argument(
        "--text-only", action="store_true", help="skip the binary payload (a text program)"
    )
    p.add_argument(
        "--peer-dialect",
        choices=dialect_names(),
        default="canonical",
        metavar="NAME",
        help="the dialect fsm_tcp's end speaks in the fault scenarios: canonical (default: "
        "check against PROTOCOL.md), auto (adapt: check fault handling in the program's own "
        "dialect) or a profile of 'fsm-tcp dialects'; the no-fault run always uses auto and "
        "reports the program's dialect",
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
    return [Program(args.role, args.cmd, output, f"{args.cmd!r} as {args.role}")]


def run(args: argparse.Namespace) -> int:
    if args.list:
        for s in CATALOGUE:
            print(f"{s.name:20} {s.title}\n{'':20} requires: {s.requires}")
        return 0
    unknown = [n for n in args.scenario if n not in BY_NAME]
    if unknown:
        raise InvalidArgument(f"unknown scenario {unknown[0]!r} (see 'fsm-tcp check --list')")
    programs = programs_from(args)
    options = Options(args.jobs, args.timeout_scale, args.text_only, tuple(args.scenario))
    options.peer_dialect = args.peer_dialect
    table = Table(sys.stderr if args.json else sys.stdout)
    results = check(programs, options, table)
    labels = [p.label for p in programs]
    if args.json:
        print(json.dumps(to_json(results, labels), indent=2))
    if args.report:
        page = write_report(Path(args.report), results, labels)
        print(f"report: {page}", file=sys.stderr)
    return 0 if passed(results) else 1


def check(
    programs: Sequence[Program], options: Options, table: Table | None = None
) -> list[Result]:
    """Run the catalogue against each program; the table (if any) shows progress."""
    runner = Runner(options)
    try:
        if table is not None:
            table.header([p.label for p in programs])
        results = runner.run_all(programs, table or (lambda *_: None))
    finally:
        runner.close()
    if table is not None:
        table.summary(results)
    return results
