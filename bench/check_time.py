"""Wall time of `prodstack check --stack prod`, as a user runs it (a fresh process each time).

Goal (issue 2): under 2 seconds on a 2-core machine. Prints the figures; asserts nothing.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = int(os.environ.get("BENCH_RUNS", "7"))
GOAL_SECONDS = 2.0


def one_run(stack: str) -> tuple[float, float]:
    """Wall time, and the CPU time (user + system) the check itself used: on a shared machine
    the wall time also holds time spent waiting for a core."""
    with tempfile.TemporaryDirectory() as out:
        cpu_before = _children_cpu()
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "infra.cli", "check", "--stack", stack, "--out", out],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        elapsed = time.perf_counter() - started
        cpu = _children_cpu() - cpu_before
    if result.returncode != 0:
        raise SystemExit(f"check --stack {stack} failed:\n{result.stdout}{result.stderr}")
    return elapsed, cpu


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    print(f"prodstack check wall time, {RUNS} runs each after one warm-up, {os.cpu_count()} cores")
    for stack in ("prod", "dev"):
        one_run(stack)  # warm the page cache, as a second run in CI would be
        runs = [one_run(stack) for _ in range(RUNS)]
        times = sorted(wall for wall, _ in runs)
        median = statistics.median(times)
        verdict = "meets" if median < GOAL_SECONDS else "MISSES"
        print(
            f"  --stack {stack:<5} median {median:.2f} s  min {times[0]:.2f} s  "
            f"max {times[-1]:.2f} s  ({verdict} the {GOAL_SECONDS:.0f} s goal); "
            f"CPU time median {statistics.median(cpu for _, cpu in runs):.2f} s"
        )


if __name__ == "__main__":
    main()
