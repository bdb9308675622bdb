"""The pull-request workflow: valid GitHub Actions syntax (SchemaStore's workflow schema,
vendored by check-jsonschema, so it runs offline) and the checks it promises."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
PULL_REQUEST = ROOT / ".github" / "workflows" / "pull-request.yml"


def schema_problems(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(ROOT / ".venv/bin/check-jsonschema"),
            "--builtin-schema",
            "vendor.github-workflows",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def workflow() -> dict[Any, Any]:
    # YAML 1.1 reads the key `on` as True.
    document: dict[Any, Any] = yaml.safe_load(PULL_REQUEST.read_text())
    return document


def steps() -> list[dict[str, Any]]:
    return [step for job in workflow()["jobs"].values() for step in job["steps"]]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflows_are_valid_github_actions_syntax(path: Path) -> None:
    result = schema_problems(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = workflow()
    del broken["jobs"]["test"]["runs-on"]
    broken["jobs"]["check"]["strategy"]["fail-fast"] = "sometimes"
    path = tmp_path / "broken.yml"
    path.write_text(yaml.safe_dump(broken))
    result = schema_problems(path)
    assert result.returncode != 0
    assert "runs-on" in result.stdout or "fail-fast" in result.stdout


def test_it_runs_on_pull_requests_with_read_only_permissions() -> None:
    document = workflow()
    assert "pull_request" in document[True]
    assert document["permissions"] == {"contents": "read"}


def test_it_runs_the_test_suite_as_ci_does() -> None:
    job = workflow()["jobs"]["test"]
    run = [s for s in job["steps"] if s.get("run") == "scripts/test"]
    assert run and run[0]["env"]["CI"] == "true"


def test_it_checks_dev_and_prod() -> None:
    job = workflow()["jobs"]["check"]
    assert job["strategy"]["matrix"]["stack"] == ["dev", "prod"]
    commands = " ".join(s.get("run", "") for s in job["steps"])
    assert 'prodstack check --stack "${{ matrix.stack }}"' in commands
    assert (ROOT / "scripts/bootstrap").is_file()


def test_the_preview_uses_the_official_action_with_the_policy_pack_only_with_a_backend() -> None:
    job = workflow()["jobs"]["preview"]
    (action,) = [s for s in job["steps"] if str(s.get("uses", "")).startswith("pulumi/actions@")]
    assert action["with"]["command"] == "preview"
    assert action["with"]["policyPacks"] == "policies"
    assert action["with"]["policyPackConfigs"] == "policies/config/${{ matrix.stack }}.json"
    assert all((ROOT / "policies/config" / f"{s}.json").is_file() for s in ("dev", "prod"))
    # Every step after the decision runs only when a backend is configured.
    decision, *rest = job["steps"]
    assert decision["id"] == "backend"
    assert all(s["if"].startswith("steps.backend.outputs.configured == 'true'") for s in rest)
    assert "PULUMI_ACCESS_TOKEN" in decision["run"] and "PULUMI_BACKEND_URL" in decision["run"]


def test_every_action_is_pinned_to_a_release() -> None:
    for step in steps():
        if "uses" in step:
            ref = step["uses"].partition("@")[2]
            assert ref.startswith("v") and ref[1:].split(".")[0].isdigit(), step["uses"]


def test_a_closed_pull_request_destroys_its_ephemeral_stack_and_runs_nothing_else() -> None:
    document = workflow()
    assert "closed" in document[True]["pull_request"]["types"]
    jobs = document["jobs"]
    down = jobs["ephemeral-down"]
    assert down["if"] == "github.event.action == 'closed'"
    assert any(
        'prodstack ephemeral down "pr-${{ github.event.pull_request.number }}"' in s.get("run", "")
        for s in down["steps"]
    )
    for name in ("test", "check"):
        assert jobs[name]["if"] == "github.event.action != 'closed'"


def test_expired_ephemeral_stacks_are_reaped_on_a_timer() -> None:
    path = ROOT / ".github" / "workflows" / "reap-ephemeral.yml"
    assert path in WORKFLOWS  # and so schema-checked above
    document: dict[Any, Any] = yaml.safe_load(path.read_text())
    assert document[True]["schedule"][0]["cron"].split()[1:] == ["*", "*", "*", "*"]  # hourly
    runs = [s.get("run", "") for s in document["jobs"]["reap"]["steps"]]
    assert ".venv/bin/prodstack ephemeral reap --yes --logged-in" in runs
    assert document["concurrency"]["cancel-in-progress"] is False  # never cut a destroy short


def test_generated_settings_run_long_every_night() -> None:
    path = ROOT / ".github" / "workflows" / "generated-settings.yml"
    assert path in WORKFLOWS  # and so schema-checked above
    document: dict[Any, Any] = yaml.safe_load(path.read_text())
    assert document[True]["schedule"][0]["cron"].split()[2:] == ["*", "*", "*"]  # daily
    job = document["jobs"]["generated-settings"]
    assert int(job["env"]["PRODSTACK_GENERATED_EXAMPLES"].split("'")[1]) >= 1000
    runs = " ".join(s.get("run", "") for s in job["steps"])
    assert "tests/infra/settings/test_generated_settings.py" in runs
