"""Wall time of `prodstack check --stack <stack>` as a user runs it (a fresh process each
time), beside its floor: the time a fresh process takes merely to import the modules that
stack's check needs, run exactly as the check runs (infra.cli.run): the cyclic garbage
collector off from the start, and no interpreter teardown at the end (os._exit). A floor that
paid for collections and teardown the check skips would flatter the ratio.

Goal (issues 15 and 22): the check within 1.5x its floor. Prints the figures; asserts
nothing."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = int(os.environ.get("BENCH_RUNS", "7"))
GOAL_RATIO = 1.5

# Runs the check in this process and prints the modules it loaded, in load order.
MODULES_OF_A_CHECK = """
import json, sys
from infra.cli import main
code = main(["check", "--stack", sys.argv[1], "--out", sys.argv[2]])
print(json.dumps(list(sys.modules)))
"""
# Imports those modules and nothing else, as infra.cli.run runs: collector off, no teardown.
IMPORT_ONLY = """
import gc
gc.disable()
import importlib, json, os, sys
for name in json.load(open(sys.argv[1])):
    try:
        importlib.import_module(name)
    except Exception:
        pass  # a module made at run time (a namespace entry, not a file)
sys.stdout.flush()
os._exit(0)
"""


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{command} failed:\n{result.stdout}{result.stderr}")
    return elapsed


def modules_of(stack: str, out: str) -> Path:
    result = subprocess.run(
        [sys.executable, "-c", MODULES_OF_A_CHECK, stack, out],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    listing = Path(out) / "modules.json"
    listing.write_text(result.stdout.strip().splitlines()[-1])
    return listing


def main() -> None:
    print(f"prodstack check against its import floor, {RUNS} runs each, {os.cpu_count()} cores")
    for stack in ("prod", "dev"):
        with tempfile.TemporaryDirectory() as out:
            listing = modules_of(stack, out)
            loaded = len(json.loads(listing.read_text()))
            check = [sys.executable, "-m", "infra.cli", "check", "--stack", stack, "--out", out]
            floor = [sys.executable, "-c", IMPORT_ONLY, str(listing)]
            timed(check), timed(floor)  # warm the page cache, as a second run in CI would be
            checks, floors = [], []
            for _ in range(RUNS):  # interleaved, so both see the same machine
                checks.append(timed(check))
                floors.append(timed(floor))
        check_s, floor_s = statistics.median(checks), statistics.median(floors)
        ratio = check_s / floor_s
        verdict = "meets" if ratio <= GOAL_RATIO else "MISSES"
        print(
            f"  --stack {stack:<5} check {check_s:.2f} s, floor {floor_s:.2f} s "
            f"({loaded} modules): {ratio:.2f}x ({verdict} the {GOAL_RATIO}x goal)"
        )


if __name__ == "__main__":
    main()
