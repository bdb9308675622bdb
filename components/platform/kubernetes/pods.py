"""A workload's pods: containers, probes, volumes and the restricted security contexts."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pulumi
import pulumi_kubernetes as k8s

from components.platform.hardening import (
    CONFIG_FILE_MODE,
    SECRET_FILE_MODE,
    TMPFS_SIZE_MIB,
    restricted,
    scratch_volume_name,
)
from components.platform.kubernetes.files import config_map_name, secret_name
from components.platform.kubernetes.hardening import (
    container_security_context,
    pod_security_context,
)
from components.platform.kubernetes.scope import Scope
from components.platform.kubernetes.volumes import claim_name
from components.platform.labels import TASK_LABEL
from components.quantities import format_cpu, format_memory
from components.workload import CONFIG_DIR, SECRETS_DIR, Container, Probe, Scratch

core = k8s.core.v1
meta = k8s.meta.v1

FILES_DIGEST_ANNOTATION = "prodstack.dev/files-sha256"


def critical_priority_class(namespace: str) -> str:
    """The PriorityClass of a stack's critical workloads (Workload.critical), one per
    namespace (priority classes are cluster-wide)."""
    return f"{namespace}-critical"


def pod_template(scope: Scope) -> core.PodTemplateSpecArgs:
    containers = scope.workload.containers
    return core.PodTemplateSpecArgs(
        metadata=meta.ObjectMetaArgs(
            labels=scope.labels,
            annotations={FILES_DIGEST_ANNOTATION: files_digest(containers)},
        ),
        spec=pod_spec(scope, containers),
    )


def pod_spec(
    scope: Scope,
    containers: tuple[Container, ...],
    restart_policy: str | None = None,
    own_scratch: tuple[Scratch, ...] = (),
) -> core.PodSpecArgs:
    """The serving pods' spec; with a restart policy, a job's (no probes, no token, no
    spreading, the workload's claims mounted by name). A job with scratch of its own gets
    each as a generic ephemeral volume, and runs away from the serving pods' nodes."""
    w = scope.workload
    scratch_mib = disk_scratch_mib(w.scratch, containers)
    volumes: list[core.VolumeArgs] = [
        core.VolumeArgs(
            name=scratch.name,
            empty_dir=core.EmptyDirVolumeSourceArgs(
                medium="Memory" if scratch.in_memory else None,
                size_limit=format_memory(scratch.size_mib),
            ),
        )
        for scratch in w.scratch
        if any(scratch.name in c.mounts for c in containers)
    ]
    volumes += [ephemeral_volume(scope, scratch) for scratch in own_scratch]
    for container in containers:
        volumes += container_volumes(scope, container)
    if restart_policy is not None:
        # A job's pod is no StatefulSet pod: it mounts the workload's claims by name.
        volumes += [
            core.VolumeArgs(
                name=name,
                persistent_volume_claim=core.PersistentVolumeClaimVolumeSourceArgs(
                    claim_name=claim_name(name, w.name, 0)
                ),
            )
            for name in sorted({m for c in containers for m in c.mounts})
            if name in {v.name for v in w.volumes}
        ]
    return core.PodSpecArgs(
        priority_class_name=critical_priority_class(scope.settings.namespace)
        if w.critical
        else None,
        service_account_name=w.name,
        automount_service_account_token=bool(w.api_access) and restart_policy is None,
        enable_service_links=False,
        restart_policy=restart_policy,
        termination_grace_period_seconds=w.pre_stop_seconds + w.shutdown_grace_seconds,
        security_context=pod_security_context(containers[0]),
        containers=[
            container_args(scope, c, restart_policy is None, scratch_mib[c.name])
            for c in containers
        ],
        volumes=volumes,
        affinity=away_from_serving_pods(scope) if own_scratch else None,
        topology_spread_constraints=[
            core.TopologySpreadConstraintArgs(
                max_skew=1,
                topology_key=key,
                when_unsatisfiable="ScheduleAnyway",
                label_selector=meta.LabelSelectorArgs(match_labels=scope.selector),
            )
            for key in scope.settings.topology_keys
        ]
        if restart_policy is None
        else None,
    )


def disk_scratch_mib(
    scratch: tuple[Scratch, ...], containers: tuple[Container, ...]
) -> dict[str, int]:
    """The node disk each container's emptyDirs may take (its writable paths, and the pod's
    scratch on disk counted once, for the first container that mounts it): what it requests
    as ephemeral-storage, so the scheduler sets the space aside and the kubelet, short of
    disk, evicts the pods that use more than they asked for, not these."""
    counted: set[str] = set()
    sizes: dict[str, int] = {}
    for container in containers:
        own = [s for s in scratch if s.name in container.mounts and not s.in_memory]
        shared = sum(s.size_mib for s in own if s.name not in counted)
        counted |= {s.name for s in own}
        sizes[container.name] = TMPFS_SIZE_MIB * len(restricted(container).writable_paths) + shared
    return sizes


def ephemeral_volume(scope: Scope, scratch: Scratch) -> core.VolumeArgs:
    """A claim made with the pod and deleted with it: scratch on the cluster's storage, so
    a large one (a restore) never fills a node's disk."""
    return core.VolumeArgs(
        name=scratch.name,
        ephemeral=core.EphemeralVolumeSourceArgs(
            volume_claim_template=core.PersistentVolumeClaimTemplateArgs(
                metadata=meta.ObjectMetaArgs(labels=scope.labels),
                spec=core.PersistentVolumeClaimSpecArgs(
                    access_modes=["ReadWriteOnce"],
                    storage_class_name=scope.settings.storage_class,
                    resources=core.VolumeResourceRequirementsArgs(
                        requests={"storage": format_memory(scratch.size_mib)}
                    ),
                ),
            )
        ),
    )


def away_from_serving_pods(scope: Scope) -> core.AffinityArgs:
    """On a node that runs none of the workload's serving pods (a job's pods carry the task
    label, which they lack), so a job's load (a restore's CPU, memory and I/O) does not land
    on the database's node: preferred, not required, so that a one-node cluster still runs
    its drills."""
    return core.AffinityArgs(
        pod_anti_affinity=core.PodAntiAffinityArgs(
            preferred_during_scheduling_ignored_during_execution=[
                core.WeightedPodAffinityTermArgs(
                    weight=100,
                    pod_affinity_term=core.PodAffinityTermArgs(
                        topology_key="kubernetes.io/hostname",
                        label_selector=meta.LabelSelectorArgs(
                            match_labels=scope.selector,
                            match_expressions=[
                                meta.LabelSelectorRequirementArgs(
                                    key=TASK_LABEL, operator="DoesNotExist"
                                )
                            ],
                        ),
                    ),
                )
            ]
        )
    )


def container_volumes(scope: Scope, container: Container) -> list[core.VolumeArgs]:
    profile = restricted(container)
    volumes = [
        core.VolumeArgs(
            name=f"{container.name}-{scratch_volume_name(path)}",
            empty_dir=core.EmptyDirVolumeSourceArgs(size_limit=format_memory(TMPFS_SIZE_MIB)),
        )
        for path in profile.writable_paths
    ]
    if container.delivered_config_files:
        volumes.append(
            core.VolumeArgs(
                name=f"{container.name}-config",
                config_map=core.ConfigMapVolumeSourceArgs(
                    name=config_map_name(scope, container),
                    default_mode=CONFIG_FILE_MODE,
                    # ConfigMap keys are flat; items put files in subdirectories.
                    items=[
                        core.KeyToPathArgs(key=f.name, path=f.relative_path)
                        for f in container.delivered_config_files
                    ]
                    if any(f.subdir for f in container.delivered_config_files)
                    else None,
                ),
            )
        )
    if container.delivered_secret_files:
        volumes.append(
            core.VolumeArgs(
                name=f"{container.name}-secrets",
                secret=core.SecretVolumeSourceArgs(
                    secret_name=secret_name(scope, container), default_mode=SECRET_FILE_MODE
                ),
            )
        )
    volumes += [
        core.VolumeArgs(
            name=f"{container.name}-{secret}",
            secret=core.SecretVolumeSourceArgs(secret_name=secret, default_mode=SECRET_FILE_MODE),
        )
        for secret, _ in container.mounted_secrets
    ]
    return volumes


def volume_mounts(scope: Scope, container: Container) -> list[core.VolumeMountArgs]:
    mounts = [
        core.VolumeMountArgs(name=f"{container.name}-{scratch_volume_name(path)}", mount_path=path)
        for path in restricted(container).writable_paths
    ]
    if container.delivered_config_files:
        mounts.append(
            core.VolumeMountArgs(
                name=f"{container.name}-config", mount_path=CONFIG_DIR, read_only=True
            )
        )
    if container.delivered_secret_files:
        mounts.append(
            core.VolumeMountArgs(
                name=f"{container.name}-secrets", mount_path=SECRETS_DIR, read_only=True
            )
        )
    mounts += [
        core.VolumeMountArgs(name=name, mount_path=scope.workload.mount_path(name))
        for name in container.mounts
    ]
    mounts += [
        core.VolumeMountArgs(name=f"{container.name}-{secret}", mount_path=path, read_only=True)
        for secret, path in container.mounted_secrets
    ]
    return mounts


def container_args(
    scope: Scope, container: Container, long_running: bool, scratch_mib: int
) -> core.ContainerArgs:
    r = container.resources
    if scope.workload.critical:
        # Guaranteed QoS: what it may use is what is set aside for it.
        r = replace(
            r,
            cpu_request_millicores=r.cpu_limit_millicores,
            memory_request_mib=r.memory_limit_mib,
        )
    pre_stop = scope.workload.pre_stop_seconds
    return core.ContainerArgs(
        name=container.name,
        image=container.image,
        image_pull_policy="IfNotPresent",
        command=list(container.command) or None,
        args=list(container.args) or None,
        env=[core.EnvVarArgs(name=k, value=v) for k, v in sorted(container.env.items())] or None,
        ports=[
            core.ContainerPortArgs(name=p.name, container_port=p.port, protocol="TCP")
            for p in container.ports
        ]
        or None,
        resources=core.ResourceRequirementsArgs(
            requests={
                "cpu": format_cpu(r.cpu_request_millicores),
                "memory": format_memory(r.memory_request_mib),
                "ephemeral-storage": format_memory(scratch_mib),
            },
            limits={
                "cpu": format_cpu(r.cpu_limit_millicores),
                "memory": format_memory(r.memory_limit_mib),
            },
        ),
        startup_probe=probe(container.checks.startup) if long_running else None,
        # The main container's readiness is the pod's: a sidecar's (an exporter, a backup
        # agent) would take the server out of its Service whenever the sidecar is slow.
        readiness_probe=(
            probe(container.checks.readiness)
            if long_running and container is scope.workload.main
            else None
        ),
        liveness_probe=probe(container.checks.liveness) if long_running else None,
        lifecycle=core.LifecycleArgs(
            pre_stop=core.LifecycleHandlerArgs(sleep=core.SleepActionArgs(seconds=pre_stop))
        )
        if long_running and pre_stop > 0
        else None,
        security_context=container_security_context(container),
        volume_mounts=volume_mounts(scope, container),
    )


def probe(spec: Probe) -> core.ProbeArgs:
    """An HTTP probe where the workload serves one (cheaper than exec), else its command."""
    http = None
    if spec.http_path is not None and spec.port is not None:
        http = core.HTTPGetActionArgs(path=spec.http_path, port=spec.port)
    return core.ProbeArgs(
        http_get=http,
        exec_=None if http else core.ExecActionArgs(command=list(spec.command)),
        period_seconds=spec.period_seconds,
        timeout_seconds=spec.timeout_seconds,
        failure_threshold=spec.failure_threshold,
    )


def files_digest(containers: tuple[Container, ...]) -> pulumi.Output[str]:
    """A digest of every file the pods read, as far as their servers read it only at start
    (Container.restart_files), so a changed ConfigMap or Secret rolls them; a change the
    servers take in place (the kubelet updates mounted files) does not.

    It is not secret: a SHA-256 over high-entropy secrets reveals nothing of them, and a
    secret annotation would hide the whole pod template from `pulumi preview` diffs.
    """
    names = [f"{c.name}/{path}" for c in containers for path, _ in c.restart_files]
    contents = [view for c in containers for _, view in c.restart_files]

    def digest(values: list[str]) -> str:
        hasher = hashlib.sha256()
        for name, value in zip(names, values, strict=True):
            hasher.update(f"{name}\0{value}\0".encode())
        return hasher.hexdigest()

    return pulumi.Output.unsecret(pulumi.Output.all(*contents).apply(digest))
