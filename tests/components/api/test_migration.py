"""The API's migration: run once per release, before the rollout, and a failure stops it."""

from __future__ import annotations

from typing import Any

import pytest

from infra.program import main as program_main
from infra.render.mock_runtime import MockRun, Recording
from tests.support import PROD, config_of, one, pinned, render

MIGRATE = ["app-migrate", "--to", "head"]
JOB = "kubernetes:batch/v1:Job"
CONTAINER = "docker:index/container:Container"


def with_migration(values: dict[str, Any], image: str | None = None) -> dict[str, Any]:
    api = {**values.get("api", {}), "migration": {"command": MIGRATE, "timeoutSeconds": 900}}
    if image is not None:
        api["image"] = image
    return {**values, "api": api}


def job_of(recording: Recording) -> dict[str, Any]:
    return one(recording, JOB, "api-migrate").inputs


def test_no_migration_no_task() -> None:
    assert not render("prod", PROD).of_type(JOB)
    dev = render("dev")
    assert not [r for r in dev.of_type(CONTAINER) if r.inputs.get("attach")]


def test_kubernetes_runs_the_migration_as_a_job_the_rollout_waits_for() -> None:
    recording = render("prod", with_migration(PROD))
    job = one(recording, JOB, "api-migrate")
    spec = job.inputs["spec"]
    assert spec["backoffLimit"] == 0
    assert spec["activeDeadlineSeconds"] == 900
    assert spec["ttlSecondsAfterFinished"] > 0
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == MIGRATE
    assert container["image"] == pinned("api")
    assert "ports" not in container and "readinessProbe" not in container
    assert pod["restartPolicy"] == "Never"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["automountServiceAccountToken"] is False
    # It reads the API's files: its own copies of the config and the database secrets.
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert {"/run/prodstack/config", "/run/prodstack/secrets"} <= mounts
    # The API's identity (network access to Postgres), marked as a task.
    labels = spec["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/name"] == "api"
    assert labels["prodstack.dev/task"] == "migrate"
    # The Deployment waits for the Job; the Job waits for the stores it migrates.
    deployment = one(recording, "kubernetes:apps/v1:Deployment", "api")
    assert job.urn in deployment.depends_on
    # (A dependency on a component is sent as one on each of its resources.)
    stores = {
        one(recording, "kubernetes:apps/v1:StatefulSet", name).urn for name in ("postgres", "redis")
    }
    assert stores <= set(job.depends_on)
    # Its pod is no replica: the API's disruption budget does not count it.
    budget = one(recording, "kubernetes:policy/v1:PodDisruptionBudget", "api")
    assert budget.inputs["spec"]["selector"]["matchExpressions"] == [
        {"key": "prodstack.dev/task", "operator": "DoesNotExist"}
    ]


def test_the_job_is_named_after_its_release() -> None:
    first = job_of(render("prod", with_migration(PROD)))["metadata"]["name"]
    again = job_of(render("prod", with_migration(PROD)))["metadata"]["name"]
    other = job_of(render("prod", with_migration(PROD, image=pinned("api-v2"))))
    assert first == again, "the same release must never run its migration twice"
    assert first.startswith("api-migrate-") and len(first) == len("api-migrate-") + 12
    assert other["metadata"]["name"] != first


def test_docker_runs_a_one_shot_container_before_the_api() -> None:
    recording = render("dev", with_migration({}))
    task = one(recording, CONTAINER, "prodstack-dev-api-migrate")
    inputs = task.inputs
    assert inputs["attach"] is True and inputs["mustRun"] is False
    assert inputs["restart"] == "no"
    assert inputs["entrypoints"] == MIGRATE
    assert inputs["readOnly"] is True and inputs["capabilities"]["drops"] == ["ALL"]
    assert "ports" not in inputs
    # Attached to the API's networks but not under its name: it gets none of its traffic.
    assert all("aliases" not in n for n in inputs["networksAdvanced"])
    api = one(recording, CONTAINER, "prodstack-dev-api-0")
    release = {x["label"]: x["value"] for x in api.inputs["labels"]}["prodstack.dev/release"]
    assert len(release) == 12
    # The API container's input comes from the task's exit: it waits for the task.
    assert task.urn in api.depends_on


def test_a_failed_migration_stops_the_docker_rollout() -> None:
    run = MockRun(config_of("dev", with_migration({})), one_shot_exit_code=3)
    with pytest.raises(Exception, match="exited with 3; api was not rolled out"):
        run.run(program_main)
    names = {r.name for r in run.recording.of_type(CONTAINER)}
    assert "prodstack-dev-api-migrate" in names
    assert "prodstack-dev-api-0" not in names


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_migration_adds_no_policy_finding(stack: str) -> None:
    """PROD's test images come from registry.example, which the pack flags wherever they
    run, the migration included: that rule is left out of the comparison."""
    from infra.render.policy_check import engine_resources
    from policies.offline import evaluate

    base = PROD if stack == "prod" else {}

    def findings(values: dict[str, Any]) -> set[tuple[str, str, str]]:
        evaluation = evaluate(engine_resources(render(stack, values)), stack)
        return {
            (f.level.value, f.check, f.message)
            for f in (*evaluation.mandatory, *evaluation.advisory)
            if f.check != "k8s-allowed-registries"
        }

    assert findings(with_migration(base)) == findings(base)


def test_the_job_and_budget_are_valid_kubernetes() -> None:
    from infra.render.kubernetes_schema import DEFAULT_VERSION, validate_manifest
    from infra.render.writer import manifest_of

    recording = render("prod", with_migration(PROD))
    for resource in (
        one(recording, JOB, "api-migrate"),
        one(recording, "kubernetes:policy/v1:PodDisruptionBudget", "api"),
    ):
        assert validate_manifest(manifest_of(resource), DEFAULT_VERSION) == []
