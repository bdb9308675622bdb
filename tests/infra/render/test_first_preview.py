"""The program run as the first `pulumi preview` of a new stack runs it: preview mode, and every
value a provider computes unknown. It must register what an update registers, and the policy
pack must find exactly what it finds on an update, nothing spurious."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from pulumi.runtime.rpc import UNKNOWN

from components.platform.docker import FILES_LABEL
from infra.program import main as program_main
from infra.render.mock_runtime import Recording, run_program
from infra.render.policy_check import evaluate_recording
from infra.render.stack_config import load_stack_config
from tests.support import PROD, ROOT, config_of

EPHEMERAL = {**PROD, "environment": "ephemeral", "platform": "kubernetes"}


def both(stack: str) -> tuple[Recording, Recording]:
    config = (
        config_of("pr-1", EPHEMERAL) if stack == "ephemeral" else load_stack_config(ROOT, stack)
    )
    return run_program(config, program_main, preview=True), run_program(config, program_main)


def resources(recording: Recording) -> set[tuple[str, str]]:
    return {(r.type, r.name) for r in recording.resources}


def findings(recording: Recording, environment: str) -> set[tuple[str, str, str]]:
    evaluation = evaluate_recording(recording, environment)
    return {(f.check, f.subject, f.message) for f in evaluation.findings}


@pytest.mark.parametrize("stack", ["dev", "prod", "ephemeral"])
def test_a_first_preview_registers_what_an_update_does_and_the_pack_agrees(stack: str) -> None:
    preview, update = both(stack)
    assert resources(preview) == resources(update)
    unknown = [r.name for r in preview.resources if UNKNOWN in json.dumps(r.unredacted)]
    assert unknown  # values a provider computes are not known yet
    assert not [r.name for r in update.resources if UNKNOWN in json.dumps(r.unredacted)]
    environment = "dev" if stack == "dev" else stack
    assert findings(preview, environment) == findings(update, environment)


def test_on_docker_the_files_carriers_id_is_unknown_at_first() -> None:
    preview, _ = both("dev")
    api: dict[str, Any] = next(
        r.unredacted for r in preview.resources if r.name == "prodstack-dev-api-0"
    )
    labels = {x["label"]: x["value"] for x in api["labels"]}
    assert labels[FILES_LABEL] == UNKNOWN
    # A network's name is known at once: a sidecar never joins a container by its ID.
    exporter = next(r.unredacted for r in preview.resources if r.name.endswith("redis-exporter-0"))
    assert [n["name"] for n in exporter["networksAdvanced"]] == ["prodstack-dev-redis-exporter"]


def test_the_check_runs_as_a_first_preview() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "infra.cli", "check", "--stack", "prod", "--preview"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "as a first preview:" in result.stdout
    assert "with values not known before the first update" in result.stdout
