"""A workload's PodDisruptionBudget: voluntary evictions (node drains) one pod at a time.

Even a singleton's budget matters: it lets a drain evict it, one at a time.
"""

from __future__ import annotations

import pulumi_kubernetes as k8s

from components.platform.kubernetes.scope import Scope
from components.platform.labels import TASK_LABEL

meta = k8s.meta.v1


def disruption_budget(scope: Scope) -> None:
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
