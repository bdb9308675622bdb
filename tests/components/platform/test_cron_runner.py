"""prodstack-cron, the scheduler the Docker placement gives scheduled jobs."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from components.cron import runner as cron_runner

Schedule, ScheduleError = cron_runner.Schedule, cron_runner.ScheduleError

SUNDAY = dt.datetime(2026, 11, 22, 4, 0, tzinfo=dt.UTC)  # a Sunday


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("0 3 * * 0", SUNDAY, dt.datetime(2026, 11, 29, 3, 0, tzinfo=dt.UTC)),
        ("0 3 * * 7", SUNDAY, dt.datetime(2026, 11, 29, 3, 0, tzinfo=dt.UTC)),
        ("30 2 1 * *", SUNDAY, dt.datetime(2026, 12, 1, 2, 30, tzinfo=dt.UTC)),
        ("*/15 * * * *", SUNDAY.replace(minute=7), SUNDAY.replace(minute=15)),
        ("0 4 * * *", SUNDAY, dt.datetime(2026, 11, 23, 4, 0, tzinfo=dt.UTC)),
        ("0 0 29 2 *", SUNDAY, dt.datetime(2028, 2, 29, 0, 0, tzinfo=dt.UTC)),
        ("0 9-17/4 * * 1-5", SUNDAY, dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)),
        # Both day fields restricted: either matches (the 1st, or a Monday), as in cron.
        ("0 0 1 * 1", SUNDAY, dt.datetime(2026, 11, 23, 0, 0, tzinfo=dt.UTC)),
        ("5,35 1 * * *", SUNDAY, dt.datetime(2026, 11, 23, 1, 5, tzinfo=dt.UTC)),
    ],
)
def test_next_fire_time(expression: str, after: dt.datetime, expected: dt.datetime) -> None:
    assert Schedule(expression).next_after(after) == expected


@pytest.mark.parametrize("expression", ["* * * *", "60 * * * *", "*/0 * * * *", "a * * * *"])
def test_invalid_schedules_are_refused(expression: str) -> None:
    with pytest.raises(ScheduleError):
        Schedule(expression)


def test_a_run_past_its_deadline_is_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cron_runner, "LAST_RUN", tmp_path / "last.json")
    started = time.monotonic()
    assert cron_runner.run_once(["sleep", "30"], deadline_seconds=1) == -1
    assert time.monotonic() - started < 10
    assert json.loads((tmp_path / "last.json").read_text())["exit_code"] == -1
    assert cron_runner.run_once(["true"], deadline_seconds=5) == 0


def test_health_follows_the_heartbeat(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    beat = tmp_path / "beat"
    monkeypatch.setattr(cron_runner, "HEARTBEAT", beat)
    assert not cron_runner.healthy()
    beat.write_text(str(time.time()))
    assert cron_runner.healthy()
    assert not cron_runner.healthy(now=time.time() + cron_runner.HEALTHY_WITHIN_SECONDS + 1)


def test_runs_as_a_script_with_only_the_standard_library(tmp_path: Path) -> None:
    script = tmp_path / "prodstack-cron.py"
    script.write_text(Path(cron_runner.__file__).read_text())
    result = subprocess.run(
        [sys.executable, "-I", str(script), "--health"],
        env={"PRODSTACK_CRON_STATE": str(tmp_path)},
        capture_output=True,
        check=False,
    )
    assert result.returncode == 1  # no heartbeat yet: unhealthy, and no import error
    assert result.stderr == b""
