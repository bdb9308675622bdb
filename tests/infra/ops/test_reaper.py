"""`prodstack ephemeral list` and `reap`, through the real Automation API against the stand-in
`pulumi` (tests/infra/ops/stand_in_pulumi.py): expired and live stacks, a failing destroy, a
stack another reaper holds, and the dry run that is the default."""

from __future__ import annotations

import json

import pytest

from infra.cli import main
from tests.infra.ops.conftest import Pulumi

PAST, FUTURE = "2026-01-01T00:00:00Z", "2099-01-01T00:00:00Z"


def stacks(pulumi: Pulumi, **tags: str | None) -> None:
    """Stacks of the backend: ephemeral ones with an expiry tag (None: no tag), and dev."""
    state = {
        name: {"resources": 40, "tags": {} if expiry is None else {"prodstack:expires-at": expiry}}
        for name, expiry in tags.items()
    }
    state["dev"] = {"resources": 70, "tags": {}}
    pulumi.set(stacks=state)


def run(pulumi: Pulumi, *args: str) -> int:
    return main(["--root", str(pulumi.project), "ephemeral", *args])


def test_list_shows_every_ephemeral_stack_and_whether_it_expired(
    pulumi: Pulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    stacks(pulumi, **{"ephemeral-pr-1": PAST, "ephemeral-pr-2": FUTURE, "ephemeral-x": None})
    assert run(pulumi, "list") == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["STACK", "EXPIRES", "LAST", "UPDATE", "AGE", "RESOURCES", "STATE"]
    rows = {line.split()[0]: line for line in table[1:]}
    assert set(rows) == {"ephemeral-pr-1", "ephemeral-pr-2", "ephemeral-x"}  # not dev
    assert rows["ephemeral-pr-1"].endswith("expired")
    assert rows["ephemeral-pr-2"].endswith("live")
    assert rows["ephemeral-x"].endswith("no expiry")
    assert run(pulumi, "list", "--json") == 0
    listed = {s["stack"]: s for s in json.loads(capsys.readouterr().out)}
    assert listed["ephemeral-pr-1"]["expired"] is True
    assert listed["ephemeral-pr-2"] == {
        "stack": "ephemeral-pr-2",
        "expiresAt": FUTURE,
        "lastUpdate": "2026-11-22T10:01:00Z",
        "ageSinceLastUpdate": listed["ephemeral-pr-2"]["ageSinceLastUpdate"],
        "resources": 40,
        "expired": False,
        "updating": False,
    }


def test_reap_is_a_dry_run_unless_told_yes(
    pulumi: Pulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    stacks(pulumi, **{"ephemeral-pr-1": PAST, "ephemeral-pr-2": FUTURE})
    assert run(pulumi, "reap") == 0
    out = capsys.readouterr().out
    assert "would destroy and remove ephemeral-pr-1" in out and "pr-2" not in out
    assert "destroy" not in pulumi.commands()
    assert set(pulumi.state()["stacks"]) == {"ephemeral-pr-1", "ephemeral-pr-2", "dev"}
    assert run(pulumi, "reap", "--yes", "--dry-run") == 0  # --dry-run wins
    assert "destroy" not in pulumi.commands()


def test_reap_destroys_and_removes_only_expired_ephemeral_stacks(pulumi: Pulumi) -> None:
    stacks(pulumi, **{"ephemeral-pr-1": PAST, "ephemeral-pr-3": PAST, "ephemeral-pr-2": FUTURE})
    assert run(pulumi, "reap", "--yes") == 0
    assert set(pulumi.state()["stacks"]) == {"ephemeral-pr-2", "dev"}
    destroyed = [c for c in pulumi.calls() if "destroy" in c]
    assert sorted(c[c.index("--stack") + 1] for c in destroyed) == [
        "ephemeral-pr-1",
        "ephemeral-pr-3",
    ]
    assert all("--refresh" in c for c in destroyed)


def test_reap_goes_on_past_a_failure_and_exits_non_zero(
    pulumi: Pulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    stacks(pulumi, **{"ephemeral-pr-1": PAST, "ephemeral-pr-3": PAST})
    pulumi.set(fail_destroy_of=["ephemeral-pr-1"])
    assert run(pulumi, "reap", "--yes") == 1
    assert set(pulumi.state()["stacks"]) == {"ephemeral-pr-1", "dev"}  # kept: not lost track of
    assert capsys.readouterr().out.rstrip().endswith("1 failed: ephemeral-pr-1")


def test_a_stack_another_reaper_holds_is_left_to_it(
    pulumi: Pulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    stacks(pulumi, **{"ephemeral-pr-1": PAST, "ephemeral-pr-3": PAST})
    state = pulumi.state()
    state["stacks"]["ephemeral-pr-1"]["locked"] = True  # being destroyed elsewhere
    pulumi.set(stacks=state["stacks"])
    assert run(pulumi, "reap", "--yes") == 0
    out = capsys.readouterr().out
    assert "ephemeral-pr-1: another reaper or an update holds its lock: left to it" in out
    assert set(pulumi.state()["stacks"]) == {"ephemeral-pr-1", "dev"}
