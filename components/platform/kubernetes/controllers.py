"""The controller of a workload's pods: a Deployment, or a StatefulSet when it has volumes."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

from components.platform.connections import ConnectionGraph
from components.platform.kubernetes.pods import pod_template
from components.platform.kubernetes.scope import Scope
from components.platform.kubernetes.service import headless_name
from components.platform.kubernetes.volumes import TEMPLATES, claim_sizes, claim_template
from components.platform.labels import WAIVER_PREFIX
from policies.vocabulary import CLIENTS_ANNOTATION, clients_annotation

core = k8s.core.v1
meta = k8s.meta.v1
apps = k8s.apps.v1


# Checkov reads `checkov.io/skip<n>: <check>=<reason>` on the resource it reports.
CHECKOV_SKIP = "checkov.io/skip"
# CKV_K8S_38: a service account token only where needed; these workloads need it.
TOKEN_CHECK = "CKV_K8S_38"
# Checkov CKV_K8S_9 wants a readiness probe on every container; the placement gives one to
# the main container only (pods.py), since a pod is ready when all its containers are.
READINESS_CHECK = "CKV_K8S_9"


def controller_metadata(scope: Scope, graph: ConnectionGraph) -> meta.ObjectMetaArgs:
    """Who may open each of its ports (the connection graph, which the pack holds its
    NetworkPolicies to); a singleton by design says why, as a waiver of the pack's replicas
    rule; a check of an outside scanner the workload fails by design, as that scanner's skip
    annotation."""
    w = scope.workload
    metadata = scope.metadata()
    annotations: dict[str, str] = {}
    clients: dict[int, set[str]] = {}
    for c in graph.clients_of(w.name):
        for port in c.ports or tuple(p.port for p in w.ports):
            clients.setdefault(port, set()).add(c.client)
    if clients:
        annotations[CLIENTS_ANNOTATION] = clients_annotation(clients)
    if w.singleton:
        annotations[WAIVER_PREFIX + "availability-replicas"] = w.singleton
    waivers = [(v.check, v.reason) for v in w.scanner_waivers]
    if w.api_access:
        reads = ", ".join(sorted({r for a in w.api_access for r in a.resources}))
        waivers.append((TOKEN_CHECK, f"reads {reads} from the Kubernetes API, read-only"))
    if w.sidecars:
        sidecars = ", ".join(c.name for c in w.sidecars)
        waivers.append(
            (
                READINESS_CHECK,
                f"the sidecars ({sidecars}) have no readiness probe: theirs would take the "
                "server out of its Service whenever a sidecar is slow",
            )
        )
    annotations.update(checkov_skips(waivers))
    metadata.annotations = annotations or None
    return metadata


def checkov_skips(waivers: Sequence[tuple[str, str]]) -> dict[str, str]:
    """(check, reason) pairs as Checkov's skip annotations, on the resource it reports."""
    return {
        f"{CHECKOV_SKIP}{number}": f"{check}={reason}"
        for number, (check, reason) in enumerate(waivers, start=1)
    }


def controller(scope: Scope, graph: ConnectionGraph, depends_on: Sequence[pulumi.Resource]) -> None:
    w = scope.workload
    scaling = w.scaling
    # The autoscaler owns the replica count once it exists; `pulumi up` must not reset it.
    ignore = ["spec.replicas"] if scaling.autoscale else None
    opts = pulumi.ResourceOptions.merge(
        scope.opts, pulumi.ResourceOptions(ignore_changes=ignore, depends_on=list(depends_on))
    )
    if not w.stateful:
        apps.Deployment(
            w.name,
            metadata=controller_metadata(scope, graph),
            spec=apps.DeploymentSpecArgs(
                replicas=scaling.baseline,
                revision_history_limit=5,
                selector=meta.LabelSelectorArgs(match_labels=scope.selector),
                strategy=apps.DeploymentStrategyArgs(
                    type="RollingUpdate",
                    rolling_update=apps.RollingUpdateDeploymentArgs(max_surge=1, max_unavailable=0),
                ),
                template=pod_template(scope),
            ),
            opts=opts,
        )
        return
    protect = any(v.protect for v in w.volumes)
    retention = "Retain" if protect else "Delete"
    statefulset = apps.StatefulSet(
        w.name,
        metadata=controller_metadata(scope, graph),
        spec=apps.StatefulSetSpecArgs(
            replicas=scaling.baseline,
            service_name=headless_name(w.name),
            revision_history_limit=5,
            selector=meta.LabelSelectorArgs(match_labels=scope.selector),
            update_strategy=apps.StatefulSetUpdateStrategyArgs(type="RollingUpdate"),
            persistent_volume_claim_retention_policy=apps.StatefulSetPersistentVolumeClaimRetentionPolicyArgs(
                when_deleted=retention, when_scaled=retention
            ),
            template=pod_template(scope),
            volume_claim_templates=[claim_template(scope, v) for v in w.volumes],
        ),
        opts=pulumi.ResourceOptions.merge(
            opts,
            pulumi.ResourceOptions(
                protect=protect,
                retain_on_delete=protect,
                # Claims grow by their patches (volumes.py), never by replacing the set.
                ignore_changes=[TEMPLATES],
            ),
        ),
    )
    claim_sizes(scope, statefulset, scaling.baseline)
