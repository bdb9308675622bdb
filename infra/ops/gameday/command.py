"""`prodstack gameday`: run drills against a running Docker stack, one after another, each
leaving the stack healthy for the next; print what each did and measured, then a table (or
JSON). Exit 0 when every target was met, 1 when one was missed or a drill failed."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

from infra.ops.gameday.drills import BY_NAME, DRILLS, Context, Drill
from infra.ops.gameday.live import DrillError, connect
from infra.ops.gameday.report import DrillResult, as_json, table
from infra.render.stack_config import load_stack_config
from infra.settings import parse_settings

# How long the stack may take to be healthy again after a drill put back what it broke.
HEAL_SECONDS = 300


class RefusedError(Exception):
    """The game day will not run as asked (exit 2, said on standard error)."""


def chosen(names: list[str] | None, protected: bool, yes: bool) -> list[Drill]:
    """The drills named (by default, every one that is not opt-in). A protected stack runs
    only drills named one by one, and only with --yes."""
    if protected and not (names and yes):
        raise RefusedError(
            "the stack protects its data (protectData): name each drill with --drill and "
            "add --yes to break it on purpose"
        )
    if not names:
        return [drill for drill in DRILLS if not drill.opt_in]
    unknown = [name for name in names if name not in BY_NAME]
    if unknown:
        raise RefusedError(f"no drill {', '.join(unknown)}; the drills are: {', '.join(BY_NAME)}")
    return [BY_NAME[name] for name in dict.fromkeys(names)]


def listing() -> str:
    width = max(len(drill.name) for drill in DRILLS)
    return "\n".join(
        f"{drill.name.ljust(width)}  {drill.summary}; runbook docs/runbooks/{drill.runbook}"
        + (f" (only when named: {drill.opt_in})" if drill.opt_in else "")
        for drill in DRILLS
    )


def run(
    root: Path,
    stack: str,
    names: list[str] | None,
    yes: bool,
    ca_file: Path | None,
    json_output: bool,
    out: Callable[[str], None] = print,
) -> int:
    config = load_stack_config(root, stack)
    settings, _ = parse_settings(config.values, config.secret_keys, stack)
    if settings.platform != "docker":
        raise RefusedError(
            "the game day drives a Docker stack's engine; a Kubernetes stack's drills are "
            "not built yet"
        )
    drills = chosen(names, settings.protect_data, yes)
    ca_pem = ca_file.read_text() if ca_file else None
    try:
        live = connect(stack, settings, ca_pem)
    except DrillError as error:
        raise RefusedError(str(error)) from None
    # With --json, standard output is the JSON alone: the progress goes to standard error.
    say: Callable[[str], None] = (lambda line: print(line, file=sys.stderr)) if json_output else out
    try:
        live.wait_healthy(60)
    except DrillError as error:
        out(f"gameday: the stack is not healthy before the first drill: {error}")
        return 1
    results = []
    for drill in drills:
        started = time.monotonic()

        def timed(line: str, began: float = started) -> None:
            say(f"  [{time.monotonic() - began:6.1f} s] {line}")

        say(f"{drill.name}: {drill.summary} (runbook: docs/runbooks/{drill.runbook})")
        result = DrillResult(drill.name, drill.runbook)

        def by_hand(command: str, say: Callable[[str], None] = timed) -> None:
            say(f"$ {command}")

        live.log = by_hand
        try:
            drill.run(Context(live, settings.recovery, timed), result)
        except DrillError as error:
            result.error = str(error)
            timed(f"failed: {error}")
        try:
            live.wait_healthy(HEAL_SECONDS)
            result.healthy_after = True
        except DrillError as error:
            result.error = result.error or str(error)
        for measure in result.measures:
            timed(f"{measure.what}: {measure.text()}")
        results.append(result)
    out(as_json(stack, results) if json_output else "\n" + table(results))
    return 0 if all(result.passed for result in results) else 1
