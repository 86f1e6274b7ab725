"""Stop-and-wait on one core: this tree against an older commit, measured in the same run.

Both ends of each transfer (a server process and a client process, the course's SocketTCP
API that every tree has) are pinned to the same CPU with ``taskset``, so the figure is the
per-segment work of the two ends together, not how well two cores overlap. The baseline is
checked out into a temporary git worktree (removed at the end) and put first on PYTHONPATH;
runs alternate A B B A so that a machine slowing down during the run touches both alike.

    python scripts/same_core.py                    # 8681657, 2 MiB of 16-byte segments
    python scripts/same_core.py --rounds 8 --cpu 1

Prints, per round, this tree's time and the baseline's (wall clock, and the CPU time both ends
spent, which other work on that CPU disturbs less) and the speed ratio (> 1: this tree is
faster), then the median and range of the ratios.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SERVER = """
import sys, time, fsm_tcp
from fsm_tcp import Config, SocketTCP
server = SocketTCP(config=Config(mss=int(sys.argv[1])))
server.bind(("127.0.0.1", 0))
print(server.getsockname()[1], fsm_tcp.__file__, flush=True)
cpu = time.process_time()
conn, _ = server.accept()
got = 0
while (message := conn.recv_message()) is not None:
    got += len(message)
conn.recv_close()
print(got, time.process_time() - cpu, flush=True)
"""

CLIENT = """
import sys, time
from fsm_tcp import Config, SocketTCP
port, size, mss = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
message = bytes(range(256)) * (size // 256) + bytes(size % 256)
client = SocketTCP(config=Config(mss=mss))
client.bind(("127.0.0.1", 0))
start, cpu = time.perf_counter(), time.process_time()
client.connect(("127.0.0.1", port))
client.send(message)
client.close()
print(time.perf_counter() - start, time.process_time() - cpu, flush=True)
"""


def transfer(tree: Path, cpu: int, size: int, mss: int) -> tuple[float, float]:
    """One transfer of ``size`` bytes, both ends on ``cpu``, code from ``tree``: seconds it
    took, and CPU seconds both ends spent on it (less disturbed by other work on the CPU)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    pin = ["taskset", "-c", str(cpu), sys.executable, "-c"]
    with subprocess.Popen(
        [*pin, SERVER, str(mss)], stdout=subprocess.PIPE, text=True, env=env, cwd=tree
    ) as server:
        try:
            assert server.stdout is not None
            port, loaded = server.stdout.readline().split()
            if not loaded.startswith(str(tree)):
                raise SystemExit(f"same_core: {loaded} loaded, not the code in {tree}")
            out = subprocess.run(
                [*pin, CLIENT, port, str(size), str(mss)],
                capture_output=True,
                text=True,
                env=env,
                cwd=tree,  # python -c puts the working directory first on sys.path
                timeout=600,
                check=True,
            )
            got, server_cpu = server.stdout.readline().split()
            if int(got) != size:
                raise SystemExit(f"same_core: the server got {got} bytes of {size}")
            server.wait(timeout=60)
            wall, client_cpu = out.stdout.split()
            return float(wall), float(client_cpu) + float(server_cpu)
        finally:
            if server.poll() is None:
                server.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", default="8681657", help="commit to compare with")
    parser.add_argument("--size", type=int, default=2 * 1024 * 1024, help="bytes per transfer")
    parser.add_argument("--mss", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5, help="A B B A rounds")
    parser.add_argument("--cpu", type=int, default=0)
    args = parser.parse_args()
    if shutil.which("taskset") is None:
        print("same_core: needs taskset (util-linux)", file=sys.stderr)
        return 2
    old = Path(tempfile.mkdtemp(prefix="same-core-")) / "baseline"
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(old), args.baseline],
        check=True,
        capture_output=True,
    )
    ratios: dict[str, list[float]] = {"wall": [], "cpu": []}
    best: dict[str, list[float]] = {"new": [1e9, 1e9], "old": [1e9, 1e9]}
    try:
        for r in range(args.rounds):
            runs: dict[str, list[tuple[float, float]]] = {"new": [], "old": []}
            for which in ("new", "old", "old", "new"):
                tree = ROOT if which == "new" else old
                run = transfer(tree, args.cpu, args.size, args.mss)
                runs[which].append(run)
                best[which] = [min(b, r) for b, r in zip(best[which], run, strict=True)]
            line = []
            for i, kind in enumerate(("wall", "cpu")):
                new = statistics.mean(run[i] for run in runs["new"])
                base = statistics.mean(run[i] for run in runs["old"])
                ratios[kind].append(base / new)
                line.append(f"{kind} {new:.2f} s vs {base:.2f} s: {base / new:.3f}")
            print(f"round {r + 1}: " + "; ".join(line), flush=True)
    finally:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(old.parent, ignore_errors=True)
    for i, (kind, values) in enumerate(ratios.items()):
        print(
            f"speed of this tree over {args.baseline} ({kind} time): best of each "
            f"{best['old'][i] / best['new'][i]:.3f} ({best['new'][i]:.2f} s vs "
            f"{best['old'][i]:.2f} s)"
        )
        print(
            f"speed of this tree over {args.baseline} ({kind} time): median "
            f"{statistics.median(values):.3f}, range {min(values):.3f}-{max(values):.3f} "
            f"({len(values)} rounds of A B B A)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
