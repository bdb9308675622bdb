#!/usr/bin/env python3
"""prodstack-cron: run a command on a 5-field cron schedule (UTC), for Docker hosts.

Docker has no scheduler, so the Docker placement runs each scheduled job as a sidecar with
this file as its entry point (delivered as a config file; the image needs only python3).
Kubernetes runs the same jobs as CronJobs. Semantics follow the CronJob spec the placement
writes: runs never overlap, a run past its deadline is killed, a missed run is not made up.

Standard library only: this file is copied into images that have nothing else.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day", 1, 31), ("month", 1, 12), ("weekday", 0, 7))
HEARTBEAT = Path(os.environ.get("PRODSTACK_CRON_STATE", "/tmp")) / "prodstack-cron.heartbeat"
LAST_RUN = HEARTBEAT.with_name("prodstack-cron.last.json")
HEALTHY_WITHIN_SECONDS = 120


class ScheduleError(ValueError):
    pass


def parse_field(text: str, low: int, high: int) -> set[int]:
    values: set[int] = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ScheduleError(f"step must be positive in {part!r}")
        if body == "*":
            start, end = low, high
        elif "-" in body:
            start, end = (int(x) for x in body.split("-", 1))
        else:
            start = end = int(body)
            if step_text:
                end = high
        if not low <= start <= end <= high:
            raise ScheduleError(f"{part!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return values


class Schedule:
    def __init__(self, expression: str) -> None:
        parts = expression.split()
        if len(parts) != len(FIELDS):
            raise ScheduleError(f"{expression!r}: a schedule has 5 fields")
        try:
            sets = [parse_field(p, lo, hi) for p, (_, lo, hi) in zip(parts, FIELDS, strict=True)]
        except ValueError as error:
            raise ScheduleError(f"{expression!r}: {error}") from None
        self.minutes, self.hours, self.days, self.months, weekdays = sets
        self.weekdays = {d % 7 for d in weekdays}  # 7 is Sunday too
        # As in cron: when both day fields are restricted, either may match.
        self.days_restricted = parts[2] != "*"
        self.weekdays_restricted = parts[4] != "*"

    def day_matches(self, day: dt.datetime) -> bool:
        if day.month not in self.months:
            return False
        in_days = day.day in self.days
        in_weekdays = (day.isoweekday() % 7) in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return in_days or in_weekdays
        return in_days and in_weekdays

    def next_after(self, moment: dt.datetime) -> dt.datetime:
        """The first minute strictly after `moment` that the schedule names."""
        candidate = moment.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        limit = candidate + dt.timedelta(days=366 * 5)
        while candidate < limit:
            if not self.day_matches(candidate):
                candidate = (candidate + dt.timedelta(days=1)).replace(hour=0, minute=0)
            elif candidate.hour not in self.hours:
                candidate = (candidate + dt.timedelta(hours=1)).replace(minute=0)
            elif candidate.minute not in self.minutes:
                candidate += dt.timedelta(minutes=1)
            else:
                return candidate
        raise ScheduleError("the schedule never fires")


def log(**fields: object) -> None:
    print(json.dumps({"ts": dt.datetime.now(dt.UTC).isoformat(), **fields}), flush=True)


def run_once(command: list[str], deadline_seconds: int) -> int:
    started = time.monotonic()
    process = subprocess.Popen(command)
    try:
        code = process.wait(timeout=deadline_seconds)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        code = -1
    result = {
        "exit_code": code,
        "seconds": round(time.monotonic() - started, 3),
        "finished": time.time(),
    }
    LAST_RUN.write_text(json.dumps(result))
    log(event="job-finished", **result)
    return code


def serve(schedule: Schedule, command: list[str], deadline_seconds: int) -> None:
    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    next_run = schedule.next_after(dt.datetime.now(dt.UTC))
    log(event="scheduled", next_run=next_run.isoformat(), command=command)
    while not stopping:
        HEARTBEAT.write_text(str(time.time()))
        now = dt.datetime.now(dt.UTC)
        if now >= next_run:
            run_once(command, deadline_seconds)
            # A run that outlasted later slots does not make them up (startingDeadline-like).
            next_run = schedule.next_after(dt.datetime.now(dt.UTC))
            log(event="scheduled", next_run=next_run.isoformat())
        time.sleep(min(30.0, max(0.5, (next_run - now).total_seconds())))
    log(event="stopped")


def healthy(now: float | None = None) -> bool:
    try:
        beat = float(HEARTBEAT.read_text())
    except (OSError, ValueError):
        return False
    return (now or time.time()) - beat < HEALTHY_WITHIN_SECONDS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="prodstack-cron", description=__doc__)
    parser.add_argument("--schedule")
    parser.add_argument("--deadline-seconds", type=int, default=3600)
    parser.add_argument("--health", action="store_true", help="exit 0 while the loop is alive")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.health:
        return 0 if healthy() else 1
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not args.schedule or not command:
        parser.error("--schedule and a command after -- are required")
    serve(Schedule(args.schedule), command, args.deadline_seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
