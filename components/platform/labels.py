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


# When an ephemeral stack may be destroyed (UTC, 20261122T180000Z: a valid label value).
EXPIRES_LABEL = "prodstack.dev/expires-at"


def stack_labels(stack: str, expires_at: str | None) -> dict[str, str]:
    """On the roots of a stack (its Docker networks, its namespace): which stack, and when
    an ephemeral one expires, so a sweep finds what was left behind without Pulumi."""
    return {INSTANCE: stack, **({EXPIRES_LABEL: expires_at} if expires_at else {})}


# The one recommended label that changes with a release.
VERSION_LABEL = "app.kubernetes.io/version"


def labels_for(name: str, component: str, version: str, stack: str) -> dict[str, str]:
    return {
        **selector_labels(name, stack),
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": PART_OF,
        VERSION_LABEL: version,
        "app.kubernetes.io/managed-by": MANAGED_BY,
    }


def recommended_labels(workload: Workload, stack: str) -> dict[str, str]:
    return labels_for(workload.name, workload.component, workload.version, stack)


# What a Docker volume holds (data, scratch or files); the policy pack protects data volumes.
VOLUME_PURPOSE_LABEL = "prodstack.dev/volume"
# Annotation (Kubernetes) or label (Docker) prefix by which a workload waives one advisory
# policy rule, with its reason as the value (policies/view.py reads it).
WAIVER_PREFIX = "waivers.prodstack.dev/"
# On the pods of a workload's release task (a migration): they share the workload's identity
# (and so its network access) but are no replicas of it, so its disruption budget skips them.
TASK_LABEL = "prodstack.dev/task"
# On a Docker container that is no server: `files` for a carrier, which receives a
# container's files and never runs (components/platform/docker/files.py).
ROLE_LABEL = "prodstack.dev/role"
