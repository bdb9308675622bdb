"""docs/runbooks/disaster-recovery.md: the commands prodstack provides are run, the rotation
keys it tells you to set do rotate what it says, and what it links and names exists.

`prodstack smoke` itself runs against a live edge in tests/infra/ops/test_smoke_live.py; here
each of the runbook's smoke lines is parsed by the real command line."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from infra.cli import _parser, main
from infra.program import main as program_main
from infra.render.mock_runtime import run_program
from infra.render.stack_config import load_stack_config
from tests.docs.runbooks import shell_commands
from tests.support import ROOT, every_alert

RUNBOOK = ROOT / "docs" / "runbooks" / "disaster-recovery.md"
TEXT = RUNBOOK.read_text()


def commands() -> list[list[str]]:
    return shell_commands(TEXT)


def prodstack_commands() -> list[list[str]]:
    return [c[1:] for c in commands() if c[0] == "prodstack" and len(c) > 1]


def rotations() -> list[tuple[str, list[str], str]]:
    """(stack, the setting's path under prodstack:secrets, value) of each rotation command."""
    found = []
    for c in commands():
        if c[:4] == ["pulumi", "config", "set", "--path"] and c[4].startswith("prodstack:secrets."):
            stack = c[c.index("--stack") + 1] if "--stack" in c else "prod"
            found.append((stack, c[4].removeprefix("prodstack:secrets.").split("."), c[5]))
    return found


def test_the_runbook_has_commands_of_each_kind() -> None:
    subcommands = {c[0] for c in prodstack_commands()}
    assert {"smoke", "check"} <= subcommands
    assert len(rotations()) >= 3
    headings = re.findall(r"^## \d\. (.+)$", TEXT, flags=re.M)
    assert headings == ["Database lost", "Data corrupted", "Bad deploy", "Leaked secret"]
    for platform in ("Kubernetes", "Docker"):
        assert TEXT.count(f"{platform}") >= 4


@pytest.mark.parametrize("command", prodstack_commands(), ids=" ".join)
def test_every_prodstack_command_parses(command: list[str]) -> None:
    _parser().parse_args(command)  # exits (fails the test) on an unknown option


def test_every_check_in_the_runbook_passes_on_the_shipped_stacks() -> None:
    checks = {tuple(c) for c in prodstack_commands() if c[0] == "check"}
    assert checks == {("check", "--stack", "prod"), ("check", "--stack", "dev")}
    for check in checks:
        assert main(["--root", str(ROOT), *check]) == 0


def secret_keepers(stack: str, rotation: tuple[list[str], str] | None) -> dict[str, Any]:
    config = load_stack_config(ROOT, stack)
    if rotation is not None:
        path, value = rotation
        secrets = json.loads(config.values.get("prodstack:secrets", "{}"))
        node = secrets
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
        config.values["prodstack:secrets"] = json.dumps(secrets)
    recording = run_program(config, program_main)
    return {
        r.name: r.inputs["keepers"] for r in recording.resources if r.type.startswith("random:")
    }


def camel_to_resource(key: str) -> str:
    return "secrets-" + re.sub(r"(?<!^)(?=[A-Z])", "-", key).lower()


@pytest.mark.parametrize(
    ("stack", "path", "value"),
    rotations(),
    ids=lambda v: ".".join(v) if isinstance(v, list) else str(v),
)
def test_each_rotation_regenerates_what_the_runbook_says(
    stack: str, path: list[str], value: str
) -> None:
    before = secret_keepers(stack, None)
    after = secret_keepers(stack, (path, value))
    changed = {name for name in before if before[name] != after[name]}
    if path[0] == "rotate":
        # An app credential's two logins rotate together (a rollover is the routine way).
        assert changed - {camel_to_resource(path[1]) + "-b"} == {camel_to_resource(path[1])}
    else:
        assert path == ["rotation"]
        # Every generated secret but the backup passphrase, which old backups need.
        assert changed == set(before) - {"secrets-backup-cipher-pass"}


def test_links_and_alert_names_exist() -> None:
    for link in re.findall(r"\]\(([^)#]+\.md)\)", TEXT):
        assert (RUNBOOK.parent / link).is_file(), link
    alerts = {a.name for a in every_alert()}
    named = set(re.findall(r"`([A-Z][a-z]+(?:[A-Z][a-z0-9]+)+)`", TEXT))
    assert named and named <= alerts, named - alerts
