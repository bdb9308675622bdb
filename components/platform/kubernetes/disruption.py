"""A workload's PodDisruptionBudget: voluntary evictions (node drains) one pod at a time.

Only for a workload that can run more than one replica: on one, a budget that allows an
eviction protects nothing (a drain evicts it either way) and one that allows none blocks
every drain. A singleton's disruption is its recovery story (`Workload.singleton`).
"""

from __future__ import annotations

import pulumi_kubernetes as k8s

from components.platform.kubernetes.scope import Scope
from components.platform.labels import TASK_LABEL

meta = k8s.meta.v1


def disruption_budget(scope: Scope) -> None:
    scaling = scope.workload.scaling
    most = scaling.max_replicas if scaling.autoscale else scaling.replicas
    if most < 2:
        return
    k8s.policy.v1.PodDisruptionBudget(
        scope.workload.name,
        metadata=scope.metadata(),
        spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
            max_unavailable=1,
            # A release task's pod has no scalable controller; counted, it would stop
            # the budget from allowing any eviction.
            selector=meta.LabelSelectorArgs(
                match_labels=scope.selector,
                match_expressions=[
                    meta.LabelSelectorRequirementArgs(key=TASK_LABEL, operator="DoesNotExist")
                ],
            ),
        ),
        opts=scope.opts,
    )
