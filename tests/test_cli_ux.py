"""The command line as people use it (issue 12): pipes closed early, Ctrl-C, one clock,
summaries, a progress display on terminals only, help that teaches.

Every process runs on 127.0.0.1 and is ended by the test; every wait has a timeout.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import select
import shlex
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from test_cli import CMD, announced_port, background, run

from fsm_tcp.cli import build_parser

SUMMARY = re.compile(
    r"^fsm-tcp: sent (\d+) bytes, all acknowledged, in [\d.]+ s: [\d.]+ [kMG]?B/s, "
    r"\d+ retransmissions, \d+ duplicates, srtt [\d.]+ ms, loss seen [\d.]+%"
)


@contextmanager
def started(*args: str, **kwargs: object) -> Iterator[subprocess.Popen[bytes]]:
    """A process of ours that the test ends, whatever happens."""
    proc = subprocess.Popen([*CMD, *args], **kwargs)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def wait_for_data(path: Path, timeout: float = 30) -> None:
    """Until a --trace file has records on disk: the transfer is under way."""
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.stat().st_size > 0):
        assert time.monotonic() < deadline, "the transfer never started"
        time.sleep(0.05)


def read_all(fd: int, timeout: float = 60) -> bytes:
    """Everything written to a pseudo-terminal until its last writer closes it."""
    out, deadline = b"", time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the other side is closed
            break
        if not chunk:
            break
        out += chunk
    return out


# ---------------------------------------------------------------------- pipes closed early
def test_demo_piped_into_head_stops_at_once_quietly_with_141() -> None:
    # 64 KiB at 20% loss narrates thousands of lines: far more than head reads
    with started("demo", "--size", "65536", stdout=subprocess.PIPE, stderr=subprocess.PIPE) as demo:
        assert demo.stdout is not None and demo.stderr is not None
        head = subprocess.run(["head", "-3"], stdin=demo.stdout, capture_output=True, timeout=60)
        demo.stdout.close()  # head is the only reader now, as in a shell pipeline
        assert demo.wait(30) == 141  # 128 + SIGPIPE, what the shell shows for `yes | head`
        err = demo.stderr.read()
    assert len(head.stdout.splitlines()) == 3
    assert err == b""  # quietly: no traceback, no "Exception ignored" at shutdown


def test_serve_to_a_closed_pipe_stops_from_its_connection_thread(tmp_path: Path) -> None:
    # the write fails in a connection's thread while the main thread waits in accept()
    with started(
        "serve", "--port", "0", "--quiet", stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as server:
        assert server.stdout is not None and server.stderr is not None
        port = announced_port(server)
        with started("send", "127.0.0.1", str(port), "--quiet", stdin=subprocess.PIPE) as first:
            first.communicate(b"x" * 1000, timeout=30)
        head = subprocess.run(["head", "-c", "10"], stdin=server.stdout, capture_output=True)
        server.stdout.close()
        assert head.stdout == b"x" * 10
        run("send", "127.0.0.1", str(port), "--quiet", stdin=b"y" * 1000, timeout=30)
        assert server.wait(30) == 141
        assert server.stderr.read() == b""


# ---------------------------------------------------------------------- Ctrl-C
def test_ctrl_c_on_send_then_on_serve_mid_message(tmp_path: Path) -> None:
    small, big = b"a whole message", os.urandom(3 << 20)
    src, dst, trace = tmp_path / "big.bin", tmp_path / "out.bin", tmp_path / "t.jsonl"
    src.write_bytes(big)
    with background("serve", "--port", "0", "--output", str(dst)) as server:
        port = str(announced_port(server))
        assert run("send", "127.0.0.1", port, stdin=small, timeout=30).returncode == 0
        args = ("send", "127.0.0.1", port, str(src), "--loss", "0.1", "--trace", str(trace))
        with started(*args, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as sender:
            wait_for_data(trace)
            sender.send_signal(signal.SIGINT)
            _, err = sender.communicate(timeout=30)
        assert sender.returncode == 130
        line = err.decode()
        match = re.fullmatch(
            r"fsm-tcp: interrupted: (\d+) of (\d+) bytes acknowledged; connection abandoned\n",
            line,
        )
        assert match, line
        assert int(match.group(1)) < int(match.group(2)) == len(big)
        # the server still holds the abandoned, unfinished message: Ctrl-C it too
        server.send_signal(signal.SIGINT)
        assert server.wait(30) == 130
        assert server.stderr is not None
        last = server.stderr.read().decode().strip().splitlines()[-1]
    assert re.fullmatch(
        r"fsm-tcp: interrupted: 1 connection\(s\) abandoned, \d+ of 3145728 bytes of "
        r"unfinished messages not written; 1 whole message\(s\) in .*out\.bin",
        last,
    ), last
    assert dst.read_bytes() == small  # whole messages only: nothing of the big one


def test_ctrl_c_on_serve_once_mid_message_writes_nothing(tmp_path: Path) -> None:
    src, dst, trace = tmp_path / "big.bin", tmp_path / "out.bin", tmp_path / "t.jsonl"
    src.write_bytes(os.urandom(2 << 20))
    args = ("serve", "--port", "0", "--once", "--output", str(dst), "--trace", str(trace))
    with background(*args) as server:
        port = str(announced_port(server))
        with started("send", "127.0.0.1", port, str(src), "--quiet"):
            wait_for_data(trace)
            server.send_signal(signal.SIGINT)
            assert server.wait(30) == 130
        assert server.stderr is not None
        err = server.stderr.read().decode()
    assert "Traceback" not in err
    assert "1 connection(s) abandoned" in err and "0 whole message(s)" in err
    assert dst.read_bytes() == b""


# ---------------------------------------------------------------------- progress display
def send_on_a_terminal(tmp_path: Path, size: int, interrupt: bool) -> tuple[int, bytes]:
    """send with its stderr on a pseudo-terminal; (exit status, what the terminal showed).

    An interrupted send runs at 5% loss, so that it is still running when interrupted."""
    src, trace = tmp_path / "in.bin", tmp_path / "t.jsonl"
    src.write_bytes(os.urandom(size))
    master, slave = os.openpty()
    try:
        with background("serve", "--port", "0", "--once", "--output", os.devnull) as server:
            port = str(announced_port(server))
            args = ("send", "127.0.0.1", port, str(src), "--trace", str(trace))
            args += ("--loss", "0.05") if interrupt else ()
            env = dict(os.environ, COLUMNS="120")
            with started(*args, stderr=slave, stdout=subprocess.DEVNULL, env=env) as sender:
                os.close(slave)
                slave = -1
                if interrupt:
                    wait_for_data(trace)
                    time.sleep(0.5)  # let the display draw a few times first
                    sender.send_signal(signal.SIGINT)
                shown = read_all(master, timeout=90)  # drained to the end: a full pty blocks
                return sender.wait(10), shown
    finally:
        os.close(master)
        if slave != -1:
            os.close(slave)


def test_progress_on_a_terminal_shows_rate_and_time_left(tmp_path: Path) -> None:
    status, shown = send_on_a_terminal(tmp_path, 512 << 10, interrupt=False)
    assert status == 0
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown.decode())  # without colours
    assert re.search(r"\d+% [\d.]+/[\d.]+ [kM]B [\d.]+ [kM]?B/s \d+:\d\d:\d\d", text), text
    assert "100%" in text
    # the display's line ends before the summary line begins
    assert re.search(r"\r\nfsm-tcp: sent 524288 bytes, all acknowledged", text), text


def test_ctrl_c_ends_the_progress_line_before_saying_what_happened(tmp_path: Path) -> None:
    status, shown = send_on_a_terminal(tmp_path, 4 << 20, interrupt=True)
    assert status == 130
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown.decode())
    assert "B/s" in text  # the display was up
    assert re.search(r"\r\nfsm-tcp: interrupted: \d+ of 4194304 bytes acknowledged", text), text


def test_no_progress_display_when_stderr_is_not_a_terminal() -> None:
    with background("serve", "--port", "0", "--once", "--output", os.devnull) as server:
        sent = run("send", "127.0.0.1", str(announced_port(server)), stdin=os.urandom(200_000))
    assert sent.returncode == 0
    lines = sent.stderr.decode().splitlines()
    assert len(lines) == 1 and SUMMARY.match(lines[0]), lines  # the summary, nothing else
    assert b"\r" not in sent.stderr and "━".encode() not in sent.stderr


# ---------------------------------------------------------------------- summaries
def test_json_summaries_from_send_on_stdout_and_serve_on_stderr() -> None:
    data = os.urandom(20_000)
    with background("serve", "--port", "0", "--once", "--json") as server:
        port = announced_port(server)
        sent = run("send", "127.0.0.1", str(port), "--json", "--loss", "0.1", stdin=data)
        out, err = server.communicate(timeout=30)
    assert sent.returncode == 0 and server.returncode == 0
    assert out == data  # stdout carries the data: serve's JSON goes to stderr
    assert sent.stderr == b""
    mine = json.loads(sent.stdout)  # one object, nothing else on stdout
    theirs = json.loads(err.decode().splitlines()[-1])
    assert (mine["event"], mine["bytes"], mine["messages"]) == ("sent", len(data), 1)
    assert (theirs["event"], theirs["bytes"], theirs["messages"]) == ("received", len(data), 1)
    assert mine["simulated_losses"] > 0 and mine["retransmissions"] > 0
    assert mine["srtt_ms"] > 0 and 0 < mine["loss_seen"] < 1
    for key in ("seconds", "goodput", "segments_sent", "segments_received"):
        assert mine[key] > 0 and theirs[key] > 0


def test_quiet_says_nothing_but_errors() -> None:
    with background("serve", "--port", "0", "--once", "--quiet") as server:
        sent = run("send", "127.0.0.1", str(announced_port(server)), "-q", stdin=b"hello")
        out, err = server.communicate(timeout=30)
    assert sent.returncode == 0 and sent.stderr == b"" and sent.stdout == b""
    assert server.returncode == 0 and out == b"hello" and err == b""  # after "listening on"


def test_serve_prints_one_summary_line_per_connection() -> None:
    with background("serve", "--port", "0") as server:
        port = str(announced_port(server))
        for size in (100, 2000):
            assert run("send", "127.0.0.1", port, "-q", stdin=b"z" * size).returncode == 0
        server.send_signal(signal.SIGINT)
        assert server.wait(30) == 130
        assert server.stderr is not None
        lines = server.stderr.read().decode().splitlines()
    received = [ln for ln in lines if "received 1 message(s)" in ln]
    assert [re.findall(r", (\d+) bytes,", ln) for ln in received] == [["100"], ["2000"]]
    assert all("srtt" in ln and "loss seen" in ln and "retransmissions" in ln for ln in received)
    assert lines[-1] == "fsm-tcp: interrupted: no connection open; 2 whole message(s) in stdout"


# ---------------------------------------------------------------------- one clock
NARRATED = re.compile(r"^\s*(-?\d+\.\d+) (\S+)")


def test_demo_narration_is_on_one_clock_and_counts_losses_at_both_ends() -> None:
    result = run("demo", "--size", "2048", "--seed", "4")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    events = [(float(m.group(1)), m.group(2), ln) for ln in lines if (m := NARRATED.match(ln))]
    assert events[0][0] == 0.0  # counted from the first event...
    assert all(t >= 0 for t, _, _ in events)  # ...by every line, the server's LISTEN too
    assert any("open_passive" in ln for _, _, ln in events)
    lost = {"client": 0, "server": 0}
    for _, who, line in events:
        if "(lost" in line:
            lost["server" if who.startswith("server") else "client"] += 1
    summary = next(ln for ln in lines if ln.startswith("lost (sim):"))
    assert summary.split(":", 1)[1].split() == [
        str(lost["client"]),
        "at",
        "the",
        "client,",
        str(lost["server"]),
        "at",
        "the",
        "server",
    ]
    assert lost["server"] > 0 and lost["client"] > 0  # seed 4 loses at both ends


def test_a_servers_trace_starts_at_zero_on_the_clock_of_its_events(tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    began = time.monotonic()
    with background("serve", "--port", "0", "--once", "--trace", str(trace)) as server:
        assert run("send", "127.0.0.1", str(announced_port(server)), stdin=b"hi").returncode == 0
        assert server.wait(30) == 0
    lasted = time.monotonic() - began
    records = [json.loads(line) for line in trace.read_text().splitlines()]
    assert records[0]["t"] == 0 and records[0].get("trigger") == "open_passive"
    # before, LISTEN was at 0.0 on no clock and every later event at the machine's uptime
    assert all(0 <= r["t"] <= lasted for r in records)
    times = [r["t"] for r in records]  # one connection, one thread: its clock never goes back
    assert times == sorted(times)


# ---------------------------------------------------------------------- help
def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


@pytest.mark.parametrize("name", sorted(subcommands()))
def test_every_argument_has_help_and_every_example_parses(name: str) -> None:
    command = subcommands()[name]
    for action in command._actions:
        assert action.help, f"{name}: {action.option_strings or action.dest} has no help"
    lines = (command.epilog or "").splitlines()[1:]
    # the examples: the lines under "examples:", up to a blank line (more notes may follow)
    examples = [ln.strip() for ln in lines[: lines.index("")] if ln] if "" in lines else [
        ln.strip() for ln in lines]  # fmt: skip
    assert len(examples) >= 2, command.epilog
    # every example parses; an example may show the command with another (send --trace,
    # then plot), but at least one is the command itself
    parsed = [build_parser().parse_args(command_words(example)).command for example in examples]
    assert name in parsed, examples


def command_words(example: str) -> list[str]:
    """The fsm-tcp part of an example's shell line: no pipe around it, no redirection."""
    part = next(part for part in example.split("|") if "fsm-tcp" in part)
    words = shlex.split(part, comments=True)  # a "# what it does" remark is no argument
    redirect = next((i for i, w in enumerate(words) if w.lstrip("0123456789") == ">"), None)
    return words[words.index("fsm-tcp") + 1 : redirect]


def test_send_help_explains_its_arguments_and_shows_examples() -> None:
    result = run("send", "--help")
    text = result.stdout.decode()
    assert result.returncode == 0
    assert re.search(r"^  host +address or name of the server", text, re.M), text
    assert re.search(r"^  port +the server's UDP port", text, re.M), text
    assert "examples:\n  fsm-tcp send 127.0.0.1 8000 file.bin" in text
