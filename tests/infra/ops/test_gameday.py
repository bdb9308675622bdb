"""`prodstack gameday` before it touches an engine: which drills run, what a protected or a
Kubernetes stack refuses, and how a result is judged against its target. The drills
themselves run on the end-to-end stack (tests/e2e/test_gameday.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.cli import main
from infra.ops.gameday.command import RefusedError, chosen
from infra.ops.gameday.drills import DRILLS, waits_for
from infra.ops.gameday.report import DrillResult, Measure, as_json, table
from infra.render.stack_config import load_stack_config
from infra.settings import parse_settings
from tests.support import ROOT


def project(tmp_path: Path, stack_file: str) -> Path:
    (tmp_path / "Pulumi.yaml").write_text("name: prodstack\nruntime: python\n")
    (tmp_path / "Pulumi.gd.yaml").write_text(stack_file)
    return tmp_path


def test_by_default_every_drill_runs_but_the_opt_in_ones() -> None:
    names = [drill.name for drill in chosen(None, protected=False, yes=False)]
    assert names == [drill.name for drill in DRILLS if not drill.opt_in]
    assert "backup-agent-down" not in names
    assert [d.name for d in chosen(["backup-agent-down"], False, False)] == ["backup-agent-down"]


@pytest.mark.parametrize("names, yes", [(None, True), (["api-down"], False), (None, False)])
def test_a_protected_stack_runs_only_named_drills_with_yes(
    names: list[str] | None, yes: bool
) -> None:
    with pytest.raises(RefusedError, match="name each drill with --drill and add --yes"):
        chosen(names, protected=True, yes=yes)
    assert [d.name for d in chosen(["api-down"], protected=True, yes=True)] == ["api-down"]


def test_an_unknown_drill_is_refused_with_the_drills_there_are() -> None:
    with pytest.raises(RefusedError, match="no drill api-crash; the drills are: postgres-crash"):
        chosen(["api-crash"], protected=False, yes=False)


def test_the_command_refuses_before_touching_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    protected = project(
        tmp_path, "config:\n  prodstack:environment: dev\n  prodstack:protectData: true\n"
    )
    assert main(["--root", str(protected), "gameday", "--stack", "gd"]) == 2
    assert "protectData" in capsys.readouterr().err
    assert main(["--root", str(ROOT), "gameday", "--stack", "prod"]) == 2
    assert "a Kubernetes stack's drills are not built yet" in capsys.readouterr().err


def test_a_missed_target_fails_the_run_and_says_so() -> None:
    met = Measure("page", 44.0, "s", 60, "recovery.pageWithinSeconds")
    missed = Measure("page", 134.0, "s", 60, "recovery.pageWithinSeconds")
    never = Measure("page", None, "s", 60, "recovery.pageWithinSeconds")
    assert (met.met, missed.met, never.met) == (True, False, False)
    assert Measure("refused", 3, "writes").met is None  # reported, not judged
    good = DrillResult("api-down", "api.md", [met], healthy_after=True)
    bad = DrillResult("api-down", "api.md", [missed], healthy_after=True)
    sick = DrillResult("api-down", "api.md", [met], healthy_after=False)
    assert (good.passed, bad.passed, sick.passed) == (True, False, False)
    text = table([bad])
    assert "134 s" in text and "≤ 60 s" in text and "MISSED" in text
    report = json.loads(as_json("gd", [good, bad]))
    assert report["passed"] is False
    assert [d["passed"] for d in report["drills"]] == [True, False]
    assert report["drills"][1]["measures"][0]["met"] is False


def test_each_drill_names_a_runbook_that_exists() -> None:
    for drill in DRILLS:
        assert (ROOT / "docs" / "runbooks" / drill.runbook).is_file(), drill.name


def test_a_page_is_due_within_the_target_beyond_the_alerts_own_wait() -> None:
    config = load_stack_config(ROOT, "dev")
    settings, _ = parse_settings(config.values, config.secret_keys, "dev")
    assert waits_for("ApiDown", settings) == 0  # an outage pages within the target itself
    assert waits_for("PostgresWalArchivingFailing", settings) == 5 * 60
    assert waits_for("PostgresBackupAgentDown", settings) == 15 * 60
