"""Which Kubernetes objects one workload gets, in the order they are created."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi

from components.platform.connections import ConnectionGraph
from components.platform.kubernetes.autoscaling import autoscaler
from components.platform.kubernetes.controllers import controller
from components.platform.kubernetes.disruption import disruption_budget
from components.platform.kubernetes.files import files
from components.platform.kubernetes.jobs import cron_job, release_job
from components.platform.kubernetes.network import network_policy
from components.platform.kubernetes.rbac import service_account
from components.platform.kubernetes.scope import Scope
from components.platform.kubernetes.service import headless_service, service


def create(scope: Scope, graph: ConnectionGraph, after: Sequence[pulumi.Resource]) -> None:
    w = scope.workload
    service_account(scope)
    task = w.release_task
    for container in (*w.containers, *(j.container for j in w.jobs)):
        files(scope, container)
    if task is not None:
        files(scope, task.container)
    # The rollout waits for the release task; a failed task leaves the running release alone.
    controller(scope, graph, depends_on=[release_job(scope, task, after)] if task else [])
    if w.ports:
        service(scope)
    if w.stateful:
        headless_service(scope)
    disruption_budget(scope)
    if w.scaling.autoscale:
        autoscaler(scope)
    network_policy(scope, graph)
    for job in w.jobs:
        cron_job(scope, job)
