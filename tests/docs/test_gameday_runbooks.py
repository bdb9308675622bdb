"""Each game-day drill names a runbook, and that runbook gives the command that runs the drill
and, by hand, the commands of the fault it injects: the ones the drill prints as it acts
(infra/ops/gameday/by_hand.py)."""

from __future__ import annotations

import shlex

import pytest

from infra.cli import _parser
from infra.ops.gameday.drills import BY_NAME, DRILLS, Drill
from tests.docs.runbooks import shell_commands
from tests.support import ROOT

DEV_PREFIX = "prodstack-dev"


@pytest.mark.parametrize("drill", DRILLS, ids=lambda d: d.name)
def test_the_drills_runbook_runs_it_and_injects_its_fault_by_hand(drill: Drill) -> None:
    commands = shell_commands((ROOT / "docs" / "runbooks" / drill.runbook).read_text())
    gamedays = [_parser().parse_args(c[1:]) for c in commands if c[:2] == ["prodstack", "gameday"]]
    assert any(drill.name in (args.drill or []) for args in gamedays), drill.runbook
    for command in drill.by_hand(DEV_PREFIX):
        assert shlex.split(command) in commands, f"{drill.runbook} lacks: {command}"


def test_every_game_day_command_in_the_runbooks_names_drills_that_exist() -> None:
    for runbook in (ROOT / "docs" / "runbooks").glob("*.md"):
        for command in shell_commands(runbook.read_text()):
            if command[:2] == ["prodstack", "gameday"]:
                args = _parser().parse_args(command[1:])
                assert args.stack or args.list, (runbook, command)
                assert set(args.drill or []) <= set(BY_NAME), (runbook, command)
