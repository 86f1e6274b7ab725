"""A whole class in one command (``fsm-tcp check --submissions ... --report DIR``).

Each submission (a folder, or a single .py file) gets the same check as one student would
run, in a report folder of its own (index.md, report.json, junit.xml, results.json); the
class matrix (submission x role/scenario, as the QUIC interop runner publishes its results)
is written as class.md and class.csv from those report.json files. A submission that
already has a report.json is skipped unless --again, so an interrupted run resumes.
Submissions run ``--jobs`` at a time, each with its scenarios one at a time.

Beyond one machine, the grading platform runs the per-submission command in its own
containers: see ``examples/run_autograder`` (Gradescope), which the tests run.
"""

from __future__ import annotations

import argparse
import csv
import glob
import io
import json
import re
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from ..errors import InvalidArgument
from . import formats
from .catalogue import CATALOGUE
from .report import write_report
from .runner import CLIENT, SERVER, Options, Program, Runner, module_program

RECORD = "report.json"
DEFAULT_MODULE = "SocketTCP.py"


@dataclass(frozen=True)
class Submission:
    name: str  # the folder name in the report: safe as a path and a table cell
    module: Path | None  # the module under test (module mode)
    folder: Path  # where --cmd runs (a copy), and {submission}


def find(patterns: Sequence[str], module_name: str) -> list[Submission]:
    """Each pattern is a glob of submissions, or one folder whose subfolders are them."""
    paths: list[Path] = []
    for pattern in patterns:
        hits = sorted(Path(p) for p in glob.glob(pattern))
        if len(hits) == 1 and hits[0].is_dir() and not (hits[0] / module_name).exists():
            hits = sorted(p for p in hits[0].iterdir() if p.is_dir() or p.suffix == ".py")
        paths += [p for p in hits if p.is_dir() or p.suffix == ".py"]
    if not paths:
        raise InvalidArgument(f"no submission matches {', '.join(patterns)}")
    out, names = [], set()
    for path in dict.fromkeys(p.resolve() for p in paths):
        name = _safe(path.stem if path.is_file() else path.name)
        while name in names:
            name += "_"
        names.add(name)
        module = path if path.is_file() else _module_in(path, module_name)
        out.append(Submission(name, module, path.parent if path.is_file() else path))
    return out


def _module_in(folder: Path, module_name: str) -> Path | None:
    direct = folder / module_name
    if direct.is_file():
        return direct
    found = sorted(folder.rglob(module_name))
    return found[0] if found else None


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "submission"


# ---------------------------------------------------------------------- one submission
def programs_for(sub: Submission, args: argparse.Namespace) -> list[Program]:
    roles = [args.role] if args.role else [SERVER, CLIENT]
    if args.cmd:
        if not args.role:
            raise InvalidArgument("--cmd with --submissions needs the program's role")
        command = args.cmd.replace("{submission}", str(sub.folder))
        output = args.output or ("file" if "{out}" in command else "stdout")
        return [Program(args.role, command, output, f"{sub.name} as {args.role}", sub.folder)]
    if sub.module is None:
        return []
    return [module_program(role, sub.module, args.class_name) for role in roles]


def grade_one(
    sub: Submission, args: argparse.Namespace, options: Options, weights: dict[str, float]
) -> dict[str, Any]:
    folder = Path(args.report) / sub.name
    programs = programs_for(sub, args)
    if not programs:
        record = _missing(sub, args.module or DEFAULT_MODULE)
    else:
        runner = Runner(options)
        try:
            outcome = runner.run_all(programs, lambda *_: None)
        finally:
            runner.close()
        write_report(folder, outcome, [p.label for p in programs], args.accept_deviations)
        record = json.loads((folder / RECORD).read_text())
    record["submission"] = sub.name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "junit.xml").write_text(formats.junit(record, sub.name))
    (folder / "results.json").write_text(json.dumps(formats.gradescope(record, weights), indent=2))
    (folder / RECORD).write_text(json.dumps(record, indent=2))  # last: marks it graded
    return record


def _missing(sub: Submission, module_name: str) -> dict[str, Any]:
    why = f"no {module_name} in the submission"
    return {
        "programs": [],
        "passed": False,
        "scenarios_passed": False,
        "deviates": False,
        "exit_status": 1,
        "counts": {},
        "roles": {
            SERVER: {"label": sub.name, "no_conversation": why, "deviations": [], "peer": ""}
        },
        "api": [],
        "report": None,
        "scenarios": [],
    }


# ---------------------------------------------------------------------- the class
class Progress:
    """One line per graded submission, with the time left at the pace so far."""

    def __init__(self, stream: TextIO, total: int, jobs: int) -> None:
        self.stream, self.total, self.jobs = stream, total, jobs
        self.started = time.monotonic()
        self.done = self.graded = 0
        self._lock = threading.Lock()

    def __call__(self, name: str, record: dict[str, Any], skipped: bool) -> None:
        with self._lock:
            self.done += 1
            self.graded += not skipped
            elapsed = time.monotonic() - self.started
            left = self.total - self.done
            eta = elapsed / self.graded * left / self.jobs if self.graded else 0.0
            print(
                f"[{self.done}/{self.total}] {name}: {_headline(record)}"
                f"{' (graded before: skipped)' if skipped else ''}; "
                f"elapsed {_clock(elapsed)}, ETA {_clock(eta)}",
                file=self.stream,
                flush=True,
            )


def _clock(seconds: float) -> str:
    m, s = divmod(round(seconds), 60)
    return f"{m}m{s:02d}s"


def _headline(record: dict[str, Any]) -> str:
    counts = ", ".join(f"{n} {v}" for v, n in sorted(record.get("counts", {}).items()))
    devs = sum(len(r["deviations"]) for r in record["roles"].values())
    talk = [r["no_conversation"] for r in record["roles"].values() if r["no_conversation"]]
    parts = [counts or "nothing run"]
    if devs:
        parts.append(f"{devs} deviation{'s' * (devs != 1)}")
    if talk:
        parts.append("no conversation")
    return "; ".join(parts)


def grade_class(args: argparse.Namespace, options: Options, weights: dict[str, float]) -> int:
    if not args.report:
        raise InvalidArgument("--submissions needs --report DIR (a folder per submission)")
    subs = find(args.submissions, args.module or DEFAULT_MODULE)
    out = Path(args.report)
    out.mkdir(parents=True, exist_ok=True)
    inner = replace(options, jobs=1)  # submissions run in parallel, their scenarios in turn
    progress = Progress(sys.stderr, len(subs), max(1, args.jobs))
    records: dict[str, dict[str, Any]] = {}

    def one(sub: Submission) -> None:
        done = out / sub.name / RECORD
        if done.is_file() and not args.again:
            try:
                records[sub.name] = json.loads(done.read_text())
                progress(sub.name, records[sub.name], True)
                return
            except ValueError:
                pass  # a broken record: grade it again
        records[sub.name] = grade_one(sub, args, inner, weights)
        progress(sub.name, records[sub.name], False)

    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        list(pool.map(one, subs))
    ordered = [records[s.name] | {"submission": s.name} for s in subs]
    (out / "class.md").write_text(matrix_markdown(ordered))
    (out / "class.csv").write_text(matrix_csv(ordered))
    print(f"class matrix: {out / 'class.md'} and {out / 'class.csv'}", file=sys.stderr)
    return 0 if all(r.get("exit_status") == 0 for r in ordered) else 1  # as each one's check


# ---------------------------------------------------------------------- the matrix
def columns(records: Sequence[dict[str, Any]]) -> list[str]:
    """role/scenario, in catalogue order, for every pair any submission ran."""
    ran = {f"{s['role']}/{s['scenario']}" for r in records for s in r["scenarios"]}
    return [
        f"{role}/{s.name}"
        for role in (SERVER, CLIENT)
        for s in CATALOGUE
        if f"{role}/{s.name}" in ran
    ]


def cells(record: dict[str, Any]) -> dict[str, str]:
    return {f"{s['role']}/{s['scenario']}": s["verdict"] for s in record["scenarios"]}


def _deviation_cell(record: dict[str, Any]) -> str:
    found = [
        f"{role}: {d['variable']}"
        for role, info in record["roles"].items()
        for d in info["deviations"]
    ]
    return "; ".join(found) if found else "none"


def _score(record: dict[str, Any]) -> str:
    runs = record["scenarios"]
    good = sum(1 for s in runs if s["verdict"] in ("PASS", "SKIP"))
    return f"{good}/{len(runs)}"


def matrix_rows(records: Sequence[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    cols = columns(records)
    head = ["submission", "passed", "deviations", *cols]
    rows = []
    for r in records:
        got = cells(r)
        rows.append(
            [r["submission"], _score(r), _deviation_cell(r), *(got.get(c, "") for c in cols)]
        )
    return head, rows


def matrix_markdown(records: Sequence[dict[str, Any]]) -> str:
    head, rows = matrix_rows(records)
    out = [
        "# fsm-tcp check: the class",
        "",
        "Each cell: the verdict of one scenario (role/scenario); `passed`: scenarios passed; "
        "`deviations`: variables in which the submission does not speak PROTOCOL.md. "
        "Each submission's report: `<submission>/index.md`.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for row in rows:
        name = f"[{row[0]}]({row[0]}/index.md)"
        out.append("| " + " | ".join([name, *(c.replace("|", "\\|") for c in row[1:])]) + " |")
    return "\n".join(out) + "\n"


def matrix_csv(records: Sequence[dict[str, Any]]) -> str:
    head, rows = matrix_rows(records)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(head)
    writer.writerows(rows)
    return buffer.getvalue()
