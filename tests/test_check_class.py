"""fsm-tcp check for a whole class (issue 15, point 5): five mutant submissions graded in
one command give the expected matrix, a second run skips them all; and the Gradescope
``run_autograder`` example, run as Gradescope would (in a fake /autograder folder).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fsm_tcp.check import add_arguments, run
from fsm_tcp.check import classroom as class_module

HERE = Path(__file__).resolve().parent
MUTANTS = HERE / "check_mutants"
SCALE = "0.3"
ONLY = ("lost-ack-data-last", "utf8-split")
#: Each submission (a mutant as its student's SocketTCP.py): its deviations, and the
#: verdict of each scenario of ONLY as a server.
CLASS = {
    "clean": ("none", "PASS", "PASS"),
    "no_reack_last": ("none", "HANG", "PASS"),
    "padded": ("server: seq_width", "PASS", "PASS"),
    "padded_no_reack_last": ("server: seq_width", "HANG", "PASS"),
    "utf8_chunks": ("none", "PASS", "CRASH"),
}
AUTOGRADER = Path(class_module.__file__).resolve().parent / "examples" / "run_autograder"


def _submission(folder: Path, mutant: str) -> Path:
    """A student's folder: the mutant as SocketTCP.py, with its helper module."""
    folder.mkdir(parents=True)
    shutil.copy(MUTANTS / f"{mutant}.py", folder / "SocketTCP.py")
    shutil.copy(MUTANTS / "mutant_base.py", folder)
    return folder


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="fsm-tcp check")
    add_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.mark.timeout(180)
def test_a_class_is_graded_in_one_command_and_a_second_run_skips_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in CLASS:
        _submission(tmp_path / "class" / name, name)
    out = tmp_path / "graded"
    argv = ["server", "--submissions", str(tmp_path / "class"), "--report", str(out)]
    argv += ["--jobs", "3", "--timeout-scale", SCALE]
    for name in ONLY:
        argv += ["--scenario", name]
    assert run(_args(*argv)) == 1  # some submissions fail
    progress = capsys.readouterr().err
    lines = [line for line in progress.splitlines() if line.startswith("[")]
    assert [line.split("]")[0] for line in lines] == [f"[{i}/5" for i in range(1, 6)]
    assert progress.count("ETA ") == 5
    rows = list(csv.DictReader(io.StringIO((out / "class.csv").read_text())))
    got = {
        r["submission"]: (r["deviations"], r[f"server/{ONLY[0]}"], r[f"server/{ONLY[1]}"])
        for r in rows
    }
    assert got == CLASS
    assert [r["submission"] for r in rows] == sorted(CLASS)
    assert rows[0]["passed"] == "4/4"  # no-faults, len-1-digit and the two scenarios
    page = (out / "class.md").read_text()
    assert (
        "| [padded_no_reack_last](padded_no_reack_last/index.md) | 3/4 | server: seq_width |"
        in (page)
    )
    for name in CLASS:  # one report folder per submission, every format in it
        for part in ("index.md", "report.json", "junit.xml", "results.json"):
            assert (out / name / part).is_file(), (name, part)
    stamps = {name: (out / name / "report.json").stat().st_mtime_ns for name in CLASS}
    matrix = (out / "class.csv").read_text()
    # a second run: every submission has a result, none is graded again
    assert run(_args(*argv)) == 1
    again = capsys.readouterr().err
    assert again.count("(graded before: skipped)") == 5
    assert {name: (out / name / "report.json").stat().st_mtime_ns for name in CLASS} == stamps
    assert (out / "class.csv").read_text() == matrix  # rebuilt from the same records


def test_submissions_are_found_by_glob_or_folder(tmp_path: Path) -> None:
    a = _submission(tmp_path / "class" / "ana garcía", "clean")
    _submission(tmp_path / "class" / "bo", "padded")
    (tmp_path / "class" / "notes.txt").write_text("not a submission")
    by_folder = class_module.find([str(tmp_path / "class")], "SocketTCP.py")
    by_glob = class_module.find([str(tmp_path / "class" / "*")], "SocketTCP.py")
    assert [s.name for s in by_folder] == [s.name for s in by_glob] == ["ana_garc_a", "bo"]
    assert by_folder[0].module == a / "SocketTCP.py"
    with pytest.raises(Exception, match="no submission matches"):
        class_module.find([str(tmp_path / "nothing*")], "SocketTCP.py")


# ---------------------------------------------------------------------- Gradescope's container
def _autograder(root: Path, check_args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ["PATH"],
        "AUTOGRADER_ROOT": str(root),
        "FSM_TCP": f"{sys.executable} -m fsm_tcp",
        "CHECK_ARGS": check_args,
    }
    return subprocess.run(
        ["bash", str(AUTOGRADER)], env=env, capture_output=True, text=True, timeout=150
    )


@pytest.mark.skipif(shutil.which("bash") is None, reason="the example is a bash script")
@pytest.mark.timeout(180)
def test_the_gradescope_run_autograder_example_writes_results(tmp_path: Path) -> None:
    _submission(tmp_path / "submission" / "src", "padded_no_reack_last")
    args = f"server --timeout-scale {SCALE} --scenario lost-ack-data-last"
    done = _autograder(tmp_path, args)
    assert done.returncode == 0, done.stderr
    results = json.loads((tmp_path / "results" / "results.json").read_text())
    failed = sorted(t["name"] for t in results["tests"] if t["status"] == "failed")
    assert failed == [
        "server: lost-ack-data-last (the ACK of the last data segment lost once)",
        "server: speaks PROTOCOL.md: seq_width",
    ]
    assert (tmp_path / "results" / "report" / "index.md").is_file()
    assert (tmp_path / "results" / "junit.xml").is_file()
    # a submission without the file: one failed test that says why
    shutil.rmtree(tmp_path / "submission" / "src")
    done = _autograder(tmp_path, args)
    assert done.returncode == 0, done.stderr
    results = json.loads((tmp_path / "results" / "results.json").read_text())
    assert results["score"] == 0 and results["tests"][0]["status"] == "failed"
    assert "no SocketTCP.py" in results["output"]
