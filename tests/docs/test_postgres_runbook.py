"""docs/runbooks/postgres.md, "The data volume is full": the claim it patches is the one the
prod stack makes and holds at `postgres.storageGib`, and following it (a larger storageGib)
changes that claim's size and leaves the StatefulSet, whose claim templates cannot change
in place, alone."""

from __future__ import annotations

import json
from typing import Any

from infra.render.mock_runtime import Recording
from tests.docs.runbooks import shell_commands
from tests.support import PROD, ROOT, one, render

TEXT = (ROOT / "docs" / "runbooks" / "postgres.md").read_text()
SECTION = TEXT[TEXT.index("## The data volume is full") :]
STATEFULSET = "kubernetes:apps/v1:StatefulSet"
CLAIM_PATCH = "kubernetes:core/v1:PersistentVolumeClaimPatch"


def with_storage(gib: int) -> Recording:
    return render("prod", {**PROD, "postgres": {**PROD["postgres"], "storageGib": gib}})


def patch_command() -> list[str]:
    (command,) = [c for c in shell_commands(SECTION) if c[:1] == ["kubectl"] and "patch" in c]
    return command


def test_the_runbook_patches_the_claim_the_stack_holds() -> None:
    command = patch_command()
    claim = command[command.index("pvc") + 1]
    namespace = command[command.index("-n") + 1]
    size = json.loads(command[command.index("-p") + 1])["spec"]["resources"]["requests"]
    patch = one(with_storage(100), CLAIM_PATCH, claim).inputs
    assert patch["metadata"]["name"] == claim and patch["metadata"]["namespace"] == namespace
    assert size == {"storage": "200Gi"}
    # And the setting it then names gives the same size.
    assert "`postgres.storageGib: 200`" in SECTION
    grown = one(with_storage(200), CLAIM_PATCH, claim).inputs
    assert grown["spec"]["resources"]["requests"] == size


def test_growing_storage_changes_the_claim_patch_and_not_the_statefulset() -> None:
    before, after = with_storage(100), with_storage(200)

    def without_templates(recording: Recording) -> dict[str, Any]:
        statefulset = one(recording, STATEFULSET, "postgres")
        # The engine skips what the resource ignores (ignoreChanges): only the rest counts.
        assert statefulset.ignore_changes == ["spec.volumeClaimTemplates"]
        spec = dict(statefulset.inputs["spec"])
        spec.pop("volumeClaimTemplates")
        return spec

    assert without_templates(before) == without_templates(after)
    # Every claim of every StatefulSet is held by a patch that waits for its set.
    patches = {r.name: r for r in after.of_type(CLAIM_PATCH)}
    claims = {
        f"{t['metadata']['name']}-{s.name}-0"
        for s in after.of_type(STATEFULSET)
        for t in s.inputs["spec"]["volumeClaimTemplates"]
    }
    assert set(patches) == claims and "data-postgres-0" in claims
    for name, patch in patches.items():
        assert patch.inputs["metadata"]["annotations"] == {"pulumi.com/patchForce": "true"}
        workload = name.split("-")[1]
        assert any(d.endswith(f"StatefulSet::{workload}") for d in patch.depends_on), name


def test_claims_come_from_the_expandable_storage_class() -> None:
    templates = one(with_storage(100), STATEFULSET, "postgres").inputs["spec"][
        "volumeClaimTemplates"
    ]
    assert [t["spec"]["storageClassName"] for t in templates] == ["expandable-ssd"]
