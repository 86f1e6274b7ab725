"""Grader formats, each read from the one ``--json`` record (report.to_json), never from the
results themselves, so that every format says the same (pure: text in, text out).

* JUnit XML (``--junit``): a testcase per role x scenario, classname the role, as GitLab,
  Jenkins and the GitHub test reporters read it: HANG, CORRUPT and SLOW a ``failure`` with
  the verdict as its type, CRASH an ``error``, NOT RUN and SKIP ``skipped``; the detail and
  the artefact paths in ``system-out``. Each deviation from PROTOCOL.md is a testcase of its
  own (classname ``<role>.protocol``), failed (passed, and said, when the record says
  deviations are accepted).
* Gradescope's ``results.json`` (``--gradescope``): ``tests[]`` with name, score,
  max_score, status, output; deviations as tests of their own; equal points per scenario
  by default, or from a weights file (JSON: scenario name, ``role/scenario`` or
  ``deviations`` -> points; ``*`` the default).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from ..errors import InvalidArgument

FAILURE = frozenset({"HANG", "CORRUPT", "SLOW"})
ERROR = frozenset({"CRASH"})
SKIPPED = frozenset({"NOT RUN", "SKIP"})
#: Points of one scenario, and of speaking PROTOCOL.md in one role, unless weighted.
DEFAULT_POINTS = 1.0
DEVIATIONS = "deviations"


def _out(s: dict[str, Any]) -> str:
    lines = [f"{s['verdict']}: {s['detail']}"]
    if s.get("explanation"):
        lines.append(s["explanation"])
    lines += [f"note: {n}" for n in s.get("notes", [])]
    lines.append(f"requires: {s['requires']}")
    if s.get("peer"):
        lines.append(f"fsm_tcp spoke {s['peer']}")
    if s.get("stderr") and s["verdict"] != "PASS":
        lines.append(f"stderr: {s['stderr']}")
    lines += [f"{k}: {v}" for k, v in s.get("artefacts", {}).items()]
    return "\n".join(lines)


def _deviation_text(d: dict[str, Any]) -> str:
    how = "inferred from" if d["inferred"] else "seen in"
    return f"{d['statement']}; the program: {d['did']} ({how} {d['segment']})"


# ---------------------------------------------------------------------- JUnit
def junit(record: dict[str, Any], name: str = "fsm-tcp check") -> str:
    scenarios = record["scenarios"]
    suite = ET.Element("testsuite", name=name)
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    total = 0.0
    for role, info in record["roles"].items():
        for d in info["deviations"]:
            case = ET.SubElement(
                suite, "testcase", name=f"speaks PROTOCOL.md: {d['variable']}",
                classname=f"{role}.protocol", time="0",
            )  # fmt: skip
            counts["tests"] += 1
            if record.get("deviations_accepted"):  # an accepted variant: said, not failed
                ET.SubElement(case, "system-out").text = f"accepted: {_deviation_text(d)}"
                continue
            ET.SubElement(case, "failure", message=_deviation_text(d), type="DEVIATION")
            counts["failures"] += 1
        if info["no_conversation"]:
            case = ET.SubElement(
                suite, "testcase", name="a conversation", classname=f"{role}.protocol", time="0"
            )
            ET.SubElement(case, "failure", message=info["no_conversation"], type="NO CONVERSATION")
            counts["tests"] += 1
            counts["failures"] += 1
    for s in scenarios:
        case = ET.SubElement(
            suite, "testcase", name=s["scenario"], classname=s["role"], time=f"{s['elapsed']:.3f}"
        )
        total += s["elapsed"]
        counts["tests"] += 1
        verdict, message = s["verdict"], s.get("explanation") or s["detail"]
        if verdict in FAILURE:
            ET.SubElement(case, "failure", message=message, type=verdict)
            counts["failures"] += 1
        elif verdict in ERROR:
            ET.SubElement(case, "error", message=message, type=verdict)
            counts["errors"] += 1
        elif verdict in SKIPPED:
            ET.SubElement(case, "skipped", message=s["detail"])
            counts["skipped"] += 1
        ET.SubElement(case, "system-out").text = _out(s)
    for key, value in counts.items():
        suite.set(key, str(value))
    suite.set("time", f"{total:.3f}")
    root = ET.Element("testsuites", name=name)
    root.append(suite)
    for key, value in counts.items():
        if key != "skipped":
            root.set(key, str(value))
    root.set("time", f"{total:.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


# ---------------------------------------------------------------------- Gradescope
def load_weights(path: str | None) -> dict[str, float]:
    if path is None:
        return {}
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise InvalidArgument(f"cannot read the weights file {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise InvalidArgument(f"the weights file {path} is not JSON: {exc}") from None
    if not isinstance(data, dict) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in data.values()
    ):
        raise InvalidArgument(
            f"the weights file {path} must map names to points >= 0, e.g. "
            '{"*": 1, "lost-hs-ack": 3, "deviations": 2}'
        )
    return {str(k): float(v) for k, v in data.items()}


def _points(weights: dict[str, float], role: str, name: str) -> float:
    for key in (f"{role}/{name}", name, "*"):
        if key in weights:
            return weights[key]
    return DEFAULT_POINTS


def gradescope(record: dict[str, Any], weights: dict[str, float] | None = None) -> dict[str, Any]:
    """Gradescope's results.json: a test per role x scenario, and per role one test
    'speaks PROTOCOL.md' whose output lists each deviation (no points when it deviates,
    unless the record says deviations are accepted: then each is listed, and passes)."""
    weights = weights or {}
    accepted = bool(record.get("deviations_accepted"))
    tests: list[dict[str, Any]] = []
    for role, info in record["roles"].items():
        top = _points(weights, role, DEVIATIONS)
        for d in info["deviations"]:
            share = top / max(1, len(info["deviations"]))
            tests.append(
                {
                    "name": f"{role}: speaks PROTOCOL.md: {d['variable']}",
                    "score": share if accepted else 0.0,
                    "max_score": share,
                    "status": "passed" if accepted else "failed",
                    "output": ("accepted variant: " if accepted else "") + _deviation_text(d),
                    "visibility": "visible",
                }
            )
        if not info["deviations"]:
            tests.append(
                {
                    "name": f"{role}: speaks PROTOCOL.md",
                    "score": top,
                    "max_score": top,
                    "status": "passed",
                    "output": "no deviation from PROTOCOL.md seen",
                    "visibility": "visible",
                }
            )
    for s in record["scenarios"]:
        top = _points(weights, s["role"], s["scenario"])
        ok = s["verdict"] in ("PASS", "SKIP")
        output = _out(s)
        if s["verdict"] == "NOT RUN":
            no_talk = record["roles"].get(s["role"], {}).get("no_conversation")
            output = f"{output}\n{no_talk}" if no_talk else output
        tests.append(
            {
                "name": f"{s['role']}: {s['scenario']} ({s['title']})",
                "score": top if ok else 0.0,
                "max_score": top,
                "status": "passed" if ok else "failed",
                "output": output,
                "visibility": "visible",
            }
        )
    for number, test in enumerate(tests, 1):
        test["number"] = str(number)
    summary = [
        line
        for role, info in record["roles"].items()
        for line in (
            [f"{role}: no conversation possible: {info['no_conversation']}"]
            if info["no_conversation"]
            else []
        )
    ]
    counts = ", ".join(f"{n} {v}" for v, n in sorted(record["counts"].items()))
    return {
        "score": round(sum(t["score"] for t in tests), 4),
        "output": "\n".join([*summary, f"fsm-tcp check: {counts}"]),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def write(path: str, text: str) -> None:
    try:
        Path(path).write_text(text)
    except OSError as exc:
        raise InvalidArgument(f"cannot write {path}: {exc.strerror}") from None
