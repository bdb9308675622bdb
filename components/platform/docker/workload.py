"""One workload on Docker: a container per replica and its sidecars, sharing the replica's
scratch volumes like a pod (each on networks of its own: network.py), its volumes, and the
hardening every container gets."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_docker as docker

from components.platform.docker.containers import container
from components.platform.docker.files import files
from components.platform.docker.jobs import release_gate, scheduler_sidecar
from components.platform.docker.network import CLIENT
from components.platform.docker.scope import Scope
from components.workload import Scratch, WorkloadError


def create(scope: Scope, after: Sequence[pulumi.Resource]) -> None:
    w = scope.workload
    mounted = [c.name for c in w.containers if c.mounted_secrets]
    if mounted:
        raise WorkloadError(
            f"workload {w.name}: containers {mounted} mount Kubernetes Secrets, which "
            "Docker does not have"
        )
    data = {v.name: data_volume(scope, v.name, v.protect) for v in w.volumes}
    schedulers = tuple(scheduler_sidecar(job) for job in w.jobs)
    file_volumes = {c.name: files(scope, c) for c in (*w.containers, *schedulers)}
    gate = None if w.release_task is None else release_gate(scope, w.release_task, after)
    for replica in range(w.scaling.baseline):
        # Scratch is per replica, like an emptyDir is per pod.
        volumes = data | {s.name: scratch_volume(scope, s, replica) for s in w.scratch}
        main = container(scope, w.main, replica, volumes, file_volumes.get(w.main.name), gate=gate)
        for sidecar in w.sidecars:
            container(scope, sidecar, replica, volumes, file_volumes.get(sidecar.name), main)
        # Jobs run once per schedule, so only beside the first replica, each with scratch
        # volumes of its own (ScheduledJob.scratch).
        for job, runner in zip(w.jobs, schedulers, strict=True) if replica == 0 else ():
            own = {s.name: scratch_volume(scope, s, replica) for s in job.scratch}
            runner_files = file_volumes[runner.name]
            container(scope, runner, replica, volumes | own, runner_files, main, networks=CLIENT)


def data_volume(scope: Scope, name: str, protect: bool) -> docker.Volume:
    return docker.Volume(
        scope.resource_name(name),
        name=scope.resource_name(name),
        labels=scope.volume_labels("data"),
        opts=pulumi.ResourceOptions.merge(
            scope.opts, pulumi.ResourceOptions(protect=protect, retain_on_delete=protect)
        ),
    )


def scratch_volume(scope: Scope, scratch: Scratch, replica: int) -> docker.Volume:
    """Shared by the replica's containers; tmpfs-backed when it lives in memory."""
    options = (
        {"type": "tmpfs", "device": "tmpfs", "o": f"size={scratch.size_mib}m,uid=0,mode=1777"}
        if scratch.in_memory
        else None
    )
    return docker.Volume(
        scope.resource_name(scratch.name, str(replica)),
        name=scope.physical_name(scratch.name, str(replica)),
        driver="local",
        driver_opts=options,
        labels=scope.volume_labels("scratch"),
        opts=scope.replaced_opts,
    )
