"""`prodstack gameday` against the end-to-end stack, run as a user runs it (the command, its
stack file, the CA): each drill CI has time for, under write load where data is involved, its
figures printed and held to the stack's targets (recovery.*). The drills that take many
minutes (an alert's `for`) run in the scheduled workflow (.github/workflows/gameday.yml)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.cli import main
from infra.ops.gameday.drills import DRILLS, ENGINE_RESTART
from infra.settings.loader import parse_config_text
from tests.e2e.procedures import psql, wait_for_notification
from tests.e2e.stack import RunningStack
from tests.support import ROOT

# Every drill but those that take many minutes; the engine's restart included, with the
# command that restarts the engine the suite runs on.
CI_DRILLS = [drill.name for drill in DRILLS if not drill.opt_in] + ["engine-restart"]
# The scheduled workflow sets it to `all`.
EVERY_DRILL = os.environ.get("PRODSTACK_GAMEDAY_DRILLS") == "all"


def stack_project(stack: RunningStack, root: Path) -> tuple[Path, Path]:
    """A project directory holding the stack's file, as the user's checkout would, and the
    stack's CA (`pulumi stack output caCertPem`)."""
    (root / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    config = {key: parse_config_text(value) for key, value in stack.config.values.items()}
    (root / f"Pulumi.{stack.stack}.yaml").write_text(yaml.safe_dump({"config": config}))
    ca = root / "ca.pem"
    ca.write_text(stack.ca_pem)
    return root, ca


def figures(report: dict[str, Any]) -> str:
    lines = []
    for drill in report["drills"]:
        for m in drill["measures"]:
            value = "never" if m["value"] is None else f"{m['value']:g} {m['unit']}"
            target = (
                "" if m["target"] is None else f"  (target ≤ {m['target']:g}, {m['target_from']})"
            )
            lines.append(f"{drill['drill']:<19} {m['what']:<50} {value}{target}")
    return "\n".join(lines)


def test_every_drill_meets_the_stacks_targets_and_leaves_it_healthy(
    stack: RunningStack,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root, ca = stack_project(stack, tmp_path)
    monkeypatch.setenv(ENGINE_RESTART, str(ROOT / "scripts" / "restart-docker-engine"))
    pages_before = len(stack.notifications())
    started = time.monotonic()
    names = [drill.name for drill in DRILLS] if EVERY_DRILL else CI_DRILLS
    drills = [option for name in names for option in ("--drill", name)]
    code = main(["--root", str(root), "gameday", "--stack", stack.stack, "--ca", str(ca),
                 "--json", *drills])  # fmt: skip
    seconds = time.monotonic() - started
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    with capsys.disabled():
        print(f"\n{captured.err}game day, {len(names)} drills in {seconds:.0f} s:")
        print(figures(report))
    assert [d["drill"] for d in report["drills"]] == names
    failed = [d for d in report["drills"] if not d["passed"]]
    assert code == 0 and not failed, json.dumps(failed, indent=1)
    # The drills wrote under load, through the edge, into the stack's own database.
    assert int(psql(stack, "SELECT count(*) FROM notes WHERE request_key LIKE 'gameday-%'")) > 100
    # The page the api-down drill timed from Alertmanager's count reached the receiver.
    page = wait_for_notification(stack, "paging", "ApiDown", after=pages_before, timeout=5)
    assert page.status == "firing"
