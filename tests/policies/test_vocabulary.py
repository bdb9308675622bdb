"""The roles the pack reads (policies/vocabulary.py) are the roles the program gives its
workloads: each shipped workload has one of them, and each of them is some workload's."""

from __future__ import annotations

from policies.vocabulary import DATA_STORES, EDGE, ROLES
from tests.support import render, render_shipped

ROLE = "app.kubernetes.io/component"


def test_every_role_is_a_shipped_workloads_and_every_workload_has_one() -> None:
    seen: dict[str, set[str]] = {}
    for recording in (render_shipped("prod"), render("dev", {"frontend": {"enabled": True}})):
        for r in recording.resources:
            if r.type == "docker:index/container:Container":
                labels = {x["label"]: x["value"] for x in r.inputs.get("labels", [])}
            elif r.type.startswith("kubernetes:apps/v1:"):
                labels = r.inputs["spec"]["template"]["metadata"]["labels"]
            else:
                continue
            if ROLE in labels:
                seen.setdefault(labels[ROLE], set()).add(r.name)
    assert set(seen) == set(ROLES), seen
    assert {"postgres", "redis"} <= {n.split("-")[0] for role in DATA_STORES for n in seen[role]}
    assert {n for n in seen[EDGE] if not n.startswith("prodstack-dev-")} == {"edge"}
