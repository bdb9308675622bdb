"""The rendered manifests against each other: clean as shipped, and failing on each bug the
audit found (and the other kinds the check covers), reintroduced into a copy."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from infra.render.consistency import check, manifests_of
from tests.support import PROD, render

Manifests = list[dict[str, Any]]
GRAFANA_PUBLIC = {**PROD, "monitoring": {**PROD["monitoring"], "grafanaPublic": True}}


@pytest.fixture(scope="module")
def shipped() -> Manifests:
    return [dict(m) for m in manifests_of(render("prod", GRAFANA_PUBLIC).resources)]


def find(manifests: Manifests, kind: str, name: str) -> dict[str, Any]:
    return next(m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name)


def rule_from(policy: dict[str, Any], side: str, workload: str) -> None:
    """Drop the rules of a policy that name `workload`'s pods."""
    key = "from" if side == "ingress" else "to"
    policy["spec"][side] = [
        r
        for r in policy["spec"].get(side, [])
        if not any(
            p.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name")
            == workload
            for p in r.get(key, [])
        )
    ]


def union_of_port_names(m: Manifests) -> None:
    """The audit's Prometheus: keeps any port whose name is one of the targets' names."""
    config = find(m, "ConfigMap", "prometheus-prometheus-config")
    text = config["data"]["prometheus.yml"]
    start = text.index(
        "- source_labels:\n    - __meta_kubernetes_pod_label_app_kubernetes_io_name\n    - __meta_kubernetes_pod_container_port_name"
    )
    end = text.index("action: keep", start) + len("action: keep")
    config["data"]["prometheus.yml"] = (
        text[:start]
        + "- source_labels:\n    - __meta_kubernetes_pod_container_port_name\n"
        + "    regex: (http|edge-metrics|pg-metrics|backup-metrics|redis-metrics|web|ksm-metrics)\n"
        + "    action: keep"
        + text[end:]
    )


BUGS: dict[str, tuple[Callable[[Manifests], None], str]] = {
    # The audit's four monitoring findings.
    "prometheus-admits-no-grafana": (
        lambda m: rule_from(find(m, "NetworkPolicy", "prometheus"), "ingress", "grafana"),
        "grafana may connect to prometheus on 9090, but prometheus does not let it in",
    ),
    "prometheus-scrapes-the-edge-plain-port": (
        union_of_port_names,
        "prometheus scrapes edge on 8080, which the NetworkPolicies do not allow",
    ),
    "grafana-blocks-its-scrape": (
        lambda m: rule_from(find(m, "NetworkPolicy", "grafana"), "ingress", "prometheus"),
        "prometheus may connect to grafana on 3000, but grafana does not let it in",
    ),
    "statefulset-governed-by-a-cluster-ip-service": (
        lambda m: find(m, "StatefulSet", "postgres")["spec"].update(serviceName="postgres"),
        "StatefulSet postgres is governed by Service postgres, which is not headless",
    ),
    # The other kinds.
    "server-admits-a-client-that-may-not-connect": (
        lambda m: rule_from(find(m, "NetworkPolicy", "api"), "egress", "redis"),
        "redis lets api in on 6379, but api may not connect to it",
    ),
    "service-selects-nothing": (
        lambda m: find(m, "Service", "redis")["spec"]["selector"].update(
            {"app.kubernetes.io/name": "rediss"}
        ),
        "Service redis selects no pods",
    ),
    "service-targets-a-missing-port": (
        lambda m: find(m, "Service", "api")["spec"]["ports"][0].update(targetPort="web"),
        "Service api targets port web, which its pods do not have",
    ),
    "missing-config-map": (
        lambda m: m.remove(find(m, "ConfigMap", "redis-redis-config")),
        "StatefulSet redis mounts ConfigMap redis-redis-config, which is not rendered",
    ),
    "missing-secret": (
        lambda m: m.remove(find(m, "Secret", "api-api-secrets")),
        "Deployment api mounts Secret api-api-secrets, which nothing creates",
    ),
    "missing-service-account": (
        lambda m: m.remove(find(m, "ServiceAccount", "edge")),
        "Deployment edge runs as ServiceAccount edge, which is not rendered",
    ),
    "binding-to-a-missing-role": (
        lambda m: m.remove(find(m, "Role", "kube-state-metrics")),
        "RoleBinding kube-state-metrics binds Role kube-state-metrics, which is not rendered",
    ),
    "autoscaler-for-nothing": (
        lambda m: find(m, "HorizontalPodAutoscaler", "api")["spec"]["scaleTargetRef"].update(
            name="apii"
        ),
        "HorizontalPodAutoscaler api scales Deployment apii, which does not exist",
    ),
    "api-stops-before-the-edge-lets-go": (
        lambda m: find(m, "Deployment", "api")["spec"]["template"]["spec"]["containers"][0][
            "lifecycle"
        ]["preStop"]["sleep"].update(seconds=1),
        "Deployment api: container api waits 1 s in preStop, less than the 5 s the edge may keep"
        " sending to it",
    ),
    "budget-for-nothing": (
        lambda m: find(m, "PodDisruptionBudget", "edge")["spec"]["selector"]["matchLabels"].update(
            {"app.kubernetes.io/instance": "other"}
        ),
        "PodDisruptionBudget edge selects no pods",
    ),
}


def test_the_shipped_stacks_are_consistent(shipped: Manifests) -> None:
    assert check(shipped) == []
    ephemeral = {**PROD, "environment": "ephemeral", "platform": "kubernetes"}
    assert check(manifests_of(render("pr-1", ephemeral).resources)) == []


@pytest.mark.parametrize("bug", BUGS, ids=list(BUGS))
def test_the_check_fails_on_the_bug(shipped: Manifests, bug: str) -> None:
    broken = copy.deepcopy(shipped)
    introduce, message = BUGS[bug]
    introduce(broken)
    found = [f.message for f in check(broken)]
    assert any(f.startswith(message) for f in found), found
