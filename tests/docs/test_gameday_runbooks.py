"""Each game-day drill names a runbook, and that runbook gives the command that runs the drill
and, by hand, the commands of the fault it injects: the ones the drill prints as it acts
(infra/ops/gameday/by_hand.py)."""

from __future__ import annotations

import argparse
import itertools
import re
import shlex

import pytest

from infra.cli import _parser
from infra.ops.gameday.drills import BY_NAME, DRILLS, Drill
from tests.docs.runbooks import shell_commands
from tests.support import ROOT

DEV_PREFIX = "prodstack-dev"


def gameday_args(commands: list[list[str]]) -> list[argparse.Namespace]:
    """The `prodstack gameday` commands among `commands` (after any VAR=value), parsed."""
    found = []
    for command in commands:
        words = list(itertools.dropwhile(lambda word: re.match(r"^[A-Z_]+=", word), command))
        if words[:2] == ["prodstack", "gameday"]:
            found.append(_parser().parse_args(words[1:]))
    return found


@pytest.mark.parametrize("drill", DRILLS, ids=lambda d: d.name)
def test_the_drills_runbook_runs_it_and_injects_its_fault_by_hand(drill: Drill) -> None:
    commands = shell_commands((ROOT / "docs" / "runbooks" / drill.runbook).read_text())
    assert any(drill.name in (args.drill or []) for args in gameday_args(commands)), drill.runbook
    for command in drill.by_hand(DEV_PREFIX):
        assert shlex.split(command) in commands, f"{drill.runbook} lacks: {command}"


def test_every_game_day_command_in_the_runbooks_names_drills_that_exist() -> None:
    for runbook in (ROOT / "docs" / "runbooks").glob("*.md"):
        for args in gameday_args(shell_commands(runbook.read_text())):
            assert args.stack or args.list, (runbook, args)
            assert set(args.drill or []) <= set(BY_NAME), (runbook, args)
