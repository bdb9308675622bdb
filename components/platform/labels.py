"""The app.kubernetes.io recommended labels, used as Kubernetes labels and Docker labels alike."""

from __future__ import annotations

from components.workload import Workload

PART_OF = "prodstack"
MANAGED_BY = "pulumi"
NAME = "app.kubernetes.io/name"
INSTANCE = "app.kubernetes.io/instance"


def selector_labels(workload_name: str, stack: str) -> dict[str, str]:
    """The stable subset that selects a workload's pods; never changes across releases."""
    return {NAME: workload_name, INSTANCE: stack}


def recommended_labels(workload: Workload, stack: str) -> dict[str, str]:
    return {
        **selector_labels(workload.name, stack),
        "app.kubernetes.io/component": workload.component,
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/version": workload.version,
        "app.kubernetes.io/managed-by": MANAGED_BY,
    }
