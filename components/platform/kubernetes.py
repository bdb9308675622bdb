"""The Kubernetes placement: a restricted namespace, and every workload turned into
ServiceAccount, ConfigMap, Secret, Deployment or StatefulSet, Service, PodDisruptionBudget,
HorizontalPodAutoscaler, NetworkPolicy and CronJobs, each hardened the same way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.platform import hardening
from components.platform.labels import (
    NAME,
    TASK_LABEL,
    WAIVER_PREFIX,
    recommended_labels,
    selector_labels,
    stack_labels,
)
from components.platform.placement import PlacedWorkload
from components.quantities import format_cpu, format_memory
from components.workload import (
    ANY_WORKLOAD,
    CONFIG_DIR,
    SECRETS_DIR,
    ApiAccess,
    Container,
    Probe,
    ReleaseTask,
    ScheduledJob,
    Workload,
)

core = k8s.core.v1
meta = k8s.meta.v1
apps = k8s.apps.v1

# Pod Security Standards: enforce, audit and warn at `restricted` for the whole namespace.
POD_SECURITY_LABELS = {
    f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")
}
FILES_DIGEST_ANNOTATION = "prodstack.dev/files-sha256"
SECRET_FILE_MODE = 0o440
CONFIG_FILE_MODE = 0o444
RELEASE_JOB_TTL_SECONDS = 7 * 86400


@dataclass(frozen=True)
class KubernetesPlatformArgs:
    stack: str
    namespace: str
    topology_keys: tuple[str, ...]
    expires_at: str | None = None


class KubernetesPlatform(pulumi.ComponentResource):
    """The stack's namespace with default-deny networking, and the placement into it."""

    namespace: pulumi.Output[str]

    def __init__(
        self, name: str, args: KubernetesPlatformArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("prodstack:index:KubernetesPlatform", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        namespace = core.Namespace(
            name,
            metadata=meta.ObjectMetaArgs(
                name=args.namespace,
                labels={**POD_SECURITY_LABELS, **stack_labels(args.stack, args.expires_at)},
            ),
            opts=child,
        )
        self.namespace = namespace.metadata.name
        k8s.networking.v1.NetworkPolicy(
            f"{name}-default-deny",
            metadata=meta.ObjectMetaArgs(name="default-deny", namespace=self.namespace),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=meta.LabelSelectorArgs(),
                policy_types=["Ingress", "Egress"],
            ),
            opts=child,
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-allow-dns",
            metadata=meta.ObjectMetaArgs(name="allow-dns", namespace=self.namespace),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=meta.LabelSelectorArgs(),
                policy_types=["Egress"],
                egress=[
                    k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                        to=[
                            k8s.networking.v1.NetworkPolicyPeerArgs(
                                namespace_selector=meta.LabelSelectorArgs(
                                    match_labels={"kubernetes.io/metadata.name": "kube-system"}
                                ),
                                pod_selector=meta.LabelSelectorArgs(
                                    match_labels={"k8s-app": "kube-dns"}
                                ),
                            )
                        ],
                        ports=[
                            k8s.networking.v1.NetworkPolicyPortArgs(protocol=p, port=53)
                            for p in ("UDP", "TCP")
                        ],
                    )
                ],
            ),
            opts=child,
        )
        self.placement = KubernetesPlacement(args, self.namespace)
        self.register_outputs({"namespace": self.namespace})


class KubernetesPlacement:
    platform = "kubernetes"

    def __init__(self, args: KubernetesPlatformArgs, namespace: pulumi.Output[str]) -> None:
        self.stack = args.stack
        self._args = args
        self._namespace = namespace

    def host_of(self, workload: str) -> str:
        return f"{workload}.{self._args.namespace}.svc.cluster.local"

    def place(
        self,
        workload: Workload,
        parent: pulumi.Resource,
        after: Sequence[pulumi.Resource] = (),
    ) -> PlacedWorkload:
        _WorkloadResources(workload, self._args, self._namespace, parent).create(after)
        return PlacedWorkload.at(workload, self.host_of(workload.name))


class _WorkloadResources:
    """The resources of one workload; one method per Kubernetes object."""

    def __init__(
        self,
        workload: Workload,
        args: KubernetesPlatformArgs,
        namespace: pulumi.Output[str],
        parent: pulumi.Resource,
    ) -> None:
        self.w = workload
        self.args = args
        self.namespace = namespace
        self.labels = recommended_labels(workload, args.stack)
        self.selector = selector_labels(workload.name, args.stack)
        self.opts = pulumi.ResourceOptions(parent=parent)

    def metadata(self, name: str | None = None) -> meta.ObjectMetaArgs:
        return meta.ObjectMetaArgs(
            name=name or self.w.name, namespace=self.namespace, labels=self.labels
        )

    def controller_metadata(self) -> meta.ObjectMetaArgs:
        """The Deployment's or StatefulSet's: a singleton by design says why, as a waiver of
        the pack's replicas rule."""
        metadata = self.metadata()
        if self.w.singleton:
            metadata.annotations = {WAIVER_PREFIX + "availability-replicas": self.w.singleton}
        return metadata

    def create(self, after: Sequence[pulumi.Resource]) -> None:
        self.service_account()
        for container in self.w.containers + tuple(j.container for j in self.w.jobs):
            self.files(container)
        task = self.w.release_task
        if task is not None:
            self.files(task.container)
        # The rollout waits for the release task: Pulumi awaits the Job's completion and
        # fails the update, leaving the running release alone, when the Job fails.
        self.workload(depends_on=[self.release_job(task, after)] if task else [])
        if self.w.ports:
            self.service()
        # Even a singleton's budget matters: it lets node drains evict it (one at a time).
        self.disruption_budget()
        if self.w.scaling.autoscale:
            self.autoscaler()
        self.network_policy()
        for job in self.w.jobs:
            self.cron_job(job)

    # -- identity and files -------------------------------------------------------------

    def service_account(self) -> None:
        """A dedicated account; a token only for a workload that declares API access, with a
        Role granting exactly that access in the namespace, and a ClusterRole for what has no
        namespace."""
        core.ServiceAccount(
            self.w.name,
            metadata=self.metadata(),
            automount_service_account_token=bool(self.w.api_access),
            opts=self.opts,
        )
        rbac = k8s.rbac.v1
        namespaced = [a for a in self.w.api_access if not a.cluster]
        if namespaced:
            self.grant(rbac.Role, rbac.RoleBinding, self.w.name, self.metadata(), namespaced)
        cluster = [a for a in self.w.api_access if a.cluster]
        if cluster:
            # Cluster-scoped names are shared by every stack in the cluster: prefix the namespace.
            name = f"{self.args.namespace}-{self.w.name}"
            metadata = meta.ObjectMetaArgs(name=name, labels=self.labels)
            self.grant(rbac.ClusterRole, rbac.ClusterRoleBinding, name, metadata, cluster)

    def grant(
        self,
        role: type[k8s.rbac.v1.Role] | type[k8s.rbac.v1.ClusterRole],
        binding: type[k8s.rbac.v1.RoleBinding] | type[k8s.rbac.v1.ClusterRoleBinding],
        name: str,
        metadata: meta.ObjectMetaArgs,
        access: Sequence[ApiAccess],
    ) -> None:
        rbac = k8s.rbac.v1
        role(
            name,
            metadata=metadata,
            rules=[
                rbac.PolicyRuleArgs(
                    api_groups=list(a.api_groups), resources=list(a.resources), verbs=list(a.verbs)
                )
                for a in access
            ],
            opts=self.opts,
        )
        binding(
            name,
            metadata=metadata,
            role_ref=rbac.RoleRefArgs(
                # The SDK's classes are named after the kinds: Role or ClusterRole.
                api_group="rbac.authorization.k8s.io",
                kind=role.__name__,
                name=name,
            ),
            subjects=[
                rbac.SubjectArgs(kind="ServiceAccount", name=self.w.name, namespace=self.namespace)
            ],
            opts=self.opts,
        )

    def files(self, container: Container) -> None:
        if container.config_files:
            core.ConfigMap(
                f"{self.w.name}-{container.name}-config",
                metadata=self.metadata(f"{self.w.name}-{container.name}-config"),
                data={f.name: f.content for f in container.config_files},
                immutable=False,
                opts=self.opts,
            )
        if container.secret_files:
            core.Secret(
                f"{self.w.name}-{container.name}-secrets",
                metadata=self.metadata(f"{self.w.name}-{container.name}-secrets"),
                type="Opaque",
                string_data={
                    f.name: pulumi.Output.secret(f.content) for f in container.secret_files
                },
                opts=self.opts,
            )

    # -- pods -----------------------------------------------------------------------------

    def pod_spec(
        self, containers: tuple[Container, ...], restart_policy: str | None = None
    ) -> core.PodSpecArgs:
        volumes: list[core.VolumeArgs] = [
            core.VolumeArgs(
                name=scratch.name,
                empty_dir=core.EmptyDirVolumeSourceArgs(
                    medium="Memory" if scratch.in_memory else None,
                    size_limit=format_memory(scratch.size_mib),
                ),
            )
            for scratch in self.w.scratch
            if any(scratch.name in c.mounts for c in containers)
        ]
        for container in containers:
            volumes += self.container_volumes(container)
        if restart_policy is not None:
            # A job's pod is no StatefulSet pod: it mounts the workload's claims by name.
            volumes += [
                core.VolumeArgs(
                    name=name,
                    persistent_volume_claim=core.PersistentVolumeClaimVolumeSourceArgs(
                        claim_name=f"{name}-{self.w.name}-0"
                    ),
                )
                for name in sorted({m for c in containers for m in c.mounts})
                if name in {v.name for v in self.w.volumes}
            ]
        return core.PodSpecArgs(
            service_account_name=self.w.name,
            automount_service_account_token=bool(self.w.api_access) and restart_policy is None,
            enable_service_links=False,
            restart_policy=restart_policy,
            termination_grace_period_seconds=self.w.pre_stop_seconds
            + self.w.shutdown_grace_seconds,
            security_context=core.PodSecurityContextArgs(
                run_as_non_root=True,
                run_as_user=containers[0].run_as_user,
                run_as_group=hardening.group_of(containers[0]),
                fs_group=hardening.group_of(containers[0]),
                fs_group_change_policy="OnRootMismatch",
                seccomp_profile=core.SeccompProfileArgs(type=hardening.SECCOMP_PROFILE),
            ),
            containers=[self.container(c, long_running=restart_policy is None) for c in containers],
            volumes=volumes,
            topology_spread_constraints=[
                core.TopologySpreadConstraintArgs(
                    max_skew=1,
                    topology_key=key,
                    when_unsatisfiable="ScheduleAnyway",
                    label_selector=meta.LabelSelectorArgs(match_labels=self.selector),
                )
                for key in self.args.topology_keys
            ]
            if restart_policy is None
            else None,
        )

    def container_volumes(self, container: Container) -> list[core.VolumeArgs]:
        volumes = [
            core.VolumeArgs(
                name=f"{container.name}-{hardening.scratch_volume_name(path)}",
                empty_dir=core.EmptyDirVolumeSourceArgs(
                    size_limit=format_memory(hardening.TMPFS_SIZE_MIB)
                ),
            )
            for path in container.tmpfs
        ]
        if container.config_files:
            volumes.append(
                core.VolumeArgs(
                    name=f"{container.name}-config",
                    config_map=core.ConfigMapVolumeSourceArgs(
                        name=f"{self.w.name}-{container.name}-config",
                        default_mode=CONFIG_FILE_MODE,
                        # ConfigMap keys are flat; items put files in subdirectories.
                        items=[
                            core.KeyToPathArgs(key=f.name, path=f.relative_path)
                            for f in container.config_files
                        ]
                        if any(f.subdir for f in container.config_files)
                        else None,
                    ),
                )
            )
        if container.secret_files:
            volumes.append(
                core.VolumeArgs(
                    name=f"{container.name}-secrets",
                    secret=core.SecretVolumeSourceArgs(
                        secret_name=f"{self.w.name}-{container.name}-secrets",
                        default_mode=SECRET_FILE_MODE,
                    ),
                )
            )
        volumes += [
            core.VolumeArgs(
                name=f"{container.name}-{secret}",
                secret=core.SecretVolumeSourceArgs(
                    secret_name=secret, default_mode=SECRET_FILE_MODE
                ),
            )
            for secret, _ in container.existing_secrets
        ]
        return volumes

    def container(self, container: Container, long_running: bool) -> core.ContainerArgs:
        mounts = [
            core.VolumeMountArgs(
                name=f"{container.name}-{hardening.scratch_volume_name(path)}", mount_path=path
            )
            for path in container.tmpfs
        ]
        if container.config_files:
            mounts.append(
                core.VolumeMountArgs(
                    name=f"{container.name}-config", mount_path=CONFIG_DIR, read_only=True
                )
            )
        if container.secret_files:
            mounts.append(
                core.VolumeMountArgs(
                    name=f"{container.name}-secrets", mount_path=SECRETS_DIR, read_only=True
                )
            )
        mounts += [
            core.VolumeMountArgs(name=name, mount_path=self.w.mount_path(name))
            for name in container.mounts
        ]
        mounts += [
            core.VolumeMountArgs(name=f"{container.name}-{secret}", mount_path=path, read_only=True)
            for secret, path in container.existing_secrets
        ]
        r = container.resources
        return core.ContainerArgs(
            name=container.name,
            image=container.image,
            image_pull_policy="IfNotPresent",
            command=list(container.command) or None,
            args=list(container.args) or None,
            env=[core.EnvVarArgs(name=k, value=v) for k, v in sorted(container.env.items())]
            or None,
            ports=[
                core.ContainerPortArgs(name=p.name, container_port=p.port, protocol="TCP")
                for p in container.ports
            ]
            or None,
            resources=core.ResourceRequirementsArgs(
                requests={
                    "cpu": format_cpu(r.cpu_request_millicores),
                    "memory": format_memory(r.memory_request_mib),
                },
                limits={
                    "cpu": format_cpu(r.cpu_limit_millicores),
                    "memory": format_memory(r.memory_limit_mib),
                },
            ),
            startup_probe=probe(container.checks.startup) if long_running else None,
            readiness_probe=probe(container.checks.readiness) if long_running else None,
            liveness_probe=probe(container.checks.liveness) if long_running else None,
            lifecycle=core.LifecycleArgs(
                pre_stop=core.LifecycleHandlerArgs(
                    sleep=core.SleepActionArgs(seconds=self.w.pre_stop_seconds)
                )
            )
            if long_running and self.w.pre_stop_seconds > 0
            else None,
            security_context=core.SecurityContextArgs(
                run_as_non_root=True,
                run_as_user=container.run_as_user,
                run_as_group=hardening.group_of(container),
                privileged=False,
                allow_privilege_escalation=False,
                read_only_root_filesystem=True,
                capabilities=core.CapabilitiesArgs(drop=list(hardening.DROPPED_CAPABILITIES)),
                seccomp_profile=core.SeccompProfileArgs(type=hardening.SECCOMP_PROFILE),
            ),
            volume_mounts=mounts,
        )

    def pod_template(self) -> core.PodTemplateSpecArgs:
        return core.PodTemplateSpecArgs(
            metadata=meta.ObjectMetaArgs(
                labels=self.labels,
                annotations={FILES_DIGEST_ANNOTATION: files_digest(self.w.containers)},
            ),
            spec=self.pod_spec(self.w.containers),
        )

    # -- controllers ------------------------------------------------------------------------

    def workload(self, depends_on: list[pulumi.Resource]) -> None:
        scaling = self.w.scaling
        # The autoscaler owns the replica count once it exists; `pulumi up` must not reset it.
        ignore = ["spec.replicas"] if scaling.autoscale else None
        opts = pulumi.ResourceOptions.merge(
            self.opts, pulumi.ResourceOptions(ignore_changes=ignore, depends_on=depends_on)
        )
        if not self.w.stateful:
            apps.Deployment(
                self.w.name,
                metadata=self.controller_metadata(),
                spec=apps.DeploymentSpecArgs(
                    replicas=scaling.baseline,
                    revision_history_limit=5,
                    selector=meta.LabelSelectorArgs(match_labels=self.selector),
                    strategy=apps.DeploymentStrategyArgs(
                        type="RollingUpdate",
                        rolling_update=apps.RollingUpdateDeploymentArgs(
                            max_surge=1, max_unavailable=0
                        ),
                    ),
                    template=self.pod_template(),
                ),
                opts=opts,
            )
            return
        protect = any(v.protect for v in self.w.volumes)
        retention = "Retain" if protect else "Delete"
        apps.StatefulSet(
            self.w.name,
            metadata=self.controller_metadata(),
            spec=apps.StatefulSetSpecArgs(
                replicas=scaling.baseline,
                service_name=self.w.name,
                revision_history_limit=5,
                selector=meta.LabelSelectorArgs(match_labels=self.selector),
                update_strategy=apps.StatefulSetUpdateStrategyArgs(type="RollingUpdate"),
                persistent_volume_claim_retention_policy=apps.StatefulSetPersistentVolumeClaimRetentionPolicyArgs(
                    when_deleted=retention, when_scaled=retention
                ),
                template=self.pod_template(),
                volume_claim_templates=[
                    core.PersistentVolumeClaimArgs(
                        metadata=meta.ObjectMetaArgs(name=v.name, labels=self.labels),
                        spec=core.PersistentVolumeClaimSpecArgs(
                            access_modes=["ReadWriteOnce"],
                            resources=core.VolumeResourceRequirementsArgs(
                                requests={"storage": f"{v.size_gib}Gi"}
                            ),
                        ),
                    )
                    for v in self.w.volumes
                ],
            ),
            opts=pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(protect=protect, retain_on_delete=protect)
            ),
        )

    def service(self) -> None:
        public = self.w.tier == "edge"
        core.Service(
            self.w.name,
            metadata=self.metadata(),
            spec=core.ServiceSpecArgs(
                # Only the edge is public; LoadBalancer with Local keeps the client address.
                type="LoadBalancer" if public else "ClusterIP",
                external_traffic_policy="Local" if public else None,
                selector=self.selector,
                # The public Service carries only the public ports; status and metrics ports
                # stay reachable by pod address for the declared clients (NetworkPolicy).
                ports=[
                    core.ServicePortArgs(
                        name=p.name,
                        port=p.public_port if public and p.public_port else p.port,
                        target_port=p.name,
                        protocol="TCP",
                    )
                    for p in self.w.ports
                    if p.public_port or not public
                ],
            ),
            opts=self.opts,
        )

    def disruption_budget(self) -> None:
        k8s.policy.v1.PodDisruptionBudget(
            self.w.name,
            metadata=self.metadata(),
            spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                max_unavailable=1,
                # A release task's pod has no scalable controller; counted, it would stop
                # the budget from allowing any eviction.
                selector=meta.LabelSelectorArgs(
                    match_labels=self.selector,
                    match_expressions=[
                        meta.LabelSelectorRequirementArgs(key=TASK_LABEL, operator="DoesNotExist")
                    ],
                ),
            ),
            opts=self.opts,
        )

    def autoscaler(self) -> None:
        s = self.w.scaling
        hpa = k8s.autoscaling.v2

        def utilization(resource: str, percent: int) -> hpa.MetricSpecArgs:
            return hpa.MetricSpecArgs(
                type="Resource",
                resource=hpa.ResourceMetricSourceArgs(
                    name=resource,
                    target=hpa.MetricTargetArgs(type="Utilization", average_utilization=percent),
                ),
            )

        hpa.HorizontalPodAutoscaler(
            self.w.name,
            metadata=self.metadata(),
            spec=hpa.HorizontalPodAutoscalerSpecArgs(
                scale_target_ref=hpa.CrossVersionObjectReferenceArgs(
                    api_version="apps/v1",
                    kind="StatefulSet" if self.w.stateful else "Deployment",
                    name=self.w.name,
                ),
                min_replicas=s.min_replicas,
                max_replicas=s.max_replicas,
                metrics=[
                    utilization("cpu", s.target_cpu_percent),
                    utilization("memory", s.target_memory_percent),
                ],
                behavior=hpa.HorizontalPodAutoscalerBehaviorArgs(
                    # Scale up fast, scale down slowly: flapping costs more than idle replicas.
                    scale_up=hpa.HPAScalingRulesArgs(
                        stabilization_window_seconds=0,
                        select_policy="Max",
                        policies=[
                            hpa.HPAScalingPolicyArgs(type="Percent", value=100, period_seconds=60),
                            hpa.HPAScalingPolicyArgs(type="Pods", value=4, period_seconds=60),
                        ],
                    ),
                    scale_down=hpa.HPAScalingRulesArgs(
                        stabilization_window_seconds=s.scale_down_window_seconds,
                        select_policy="Min",
                        policies=[
                            hpa.HPAScalingPolicyArgs(type="Percent", value=50, period_seconds=60),
                            hpa.HPAScalingPolicyArgs(type="Pods", value=2, period_seconds=60),
                        ],
                    ),
                ),
            ),
            opts=self.opts,
        )

    def network_policy(self) -> None:
        net = k8s.networking.v1
        ingress: list[net.NetworkPolicyIngressRuleArgs] = []
        if self.w.tier == "edge":
            ingress.append(
                net.NetworkPolicyIngressRuleArgs(
                    ports=[
                        net.NetworkPolicyPortArgs(port=p.port)
                        for p in self.w.ports
                        if p.public_port
                    ]
                )
            )
        # One rule per client, so that each reaches only its own ports.
        ingress += [
            net.NetworkPolicyIngressRuleArgs(
                from_=[
                    net.NetworkPolicyPeerArgs(
                        pod_selector=meta.LabelSelectorArgs(match_labels={NAME: client.workload})
                    )
                ],
                ports=[
                    net.NetworkPolicyPortArgs(port=port)
                    for port in client.ports or [p.port for p in self.w.ports]
                ],
            )
            for client in self.w.allowed_clients
            if self.w.ports
        ]
        egress = [
            net.NetworkPolicyEgressRuleArgs(
                to=[
                    net.NetworkPolicyPeerArgs(
                        # ANY_WORKLOAD: every pod of the namespace (the stack's own).
                        pod_selector=meta.LabelSelectorArgs(
                            match_labels=None
                            if peer.workload == ANY_WORKLOAD
                            else {NAME: peer.workload}
                        )
                    )
                ],
                ports=[net.NetworkPolicyPortArgs(port=port) for port in peer.ports] or None,
            )
            for peer in self.w.connects_to
        ]
        if self.w.egress_anywhere_ports:
            egress.append(
                net.NetworkPolicyEgressRuleArgs(
                    ports=[
                        net.NetworkPolicyPortArgs(port=port)
                        for port in self.w.egress_anywhere_ports
                    ]
                )
            )
        net.NetworkPolicy(
            self.w.name,
            metadata=self.metadata(),
            spec=net.NetworkPolicySpecArgs(
                pod_selector=meta.LabelSelectorArgs(match_labels=self.selector),
                policy_types=["Ingress", "Egress"],
                ingress=ingress or None,
                egress=egress or None,
            ),
            opts=self.opts,
        )

    def release_job(self, task: ReleaseTask, after: Sequence[pulumi.Resource]) -> k8s.batch.v1.Job:
        """One Job per release, named after it: a new release is a new Job, and the same
        release is never run twice. Its pod runs as the workload (same account, files and
        network access) without serving: it has no ports, so no Service sends it traffic."""
        batch = k8s.batch.v1
        name = f"{self.w.name}-{task.name}"
        labels = {**self.labels, TASK_LABEL: task.name}
        return batch.Job(
            name,
            metadata=meta.ObjectMetaArgs(
                name=task.release().apply(lambda release: f"{name}-{release}"),
                namespace=self.namespace,
                labels=labels,
            ),
            spec=batch.JobSpecArgs(
                # A failed migration is for a person to read, not to run again on its own.
                backoff_limit=0,
                active_deadline_seconds=task.deadline_seconds,
                # Kept a week for its logs. If it is gone when `pulumi up --refresh` runs,
                # the release's migration runs again, which a migration must allow.
                ttl_seconds_after_finished=RELEASE_JOB_TTL_SECONDS,
                template=core.PodTemplateSpecArgs(
                    metadata=meta.ObjectMetaArgs(labels=labels),
                    spec=self.pod_spec((task.container,), restart_policy="Never"),
                ),
            ),
            opts=pulumi.ResourceOptions.merge(
                self.opts,
                pulumi.ResourceOptions(
                    depends_on=list(after),
                    # Pulumi waits for the Job a little longer than the Job may run.
                    custom_timeouts=pulumi.CustomTimeouts(
                        create=f"{task.deadline_seconds + 120}s",
                        update=f"{task.deadline_seconds + 120}s",
                    ),
                ),
            ),
        )

    def cron_job(self, job: ScheduledJob) -> None:
        batch = k8s.batch.v1
        name = f"{self.w.name}-{job.name}"
        batch.CronJob(
            name,
            metadata=self.metadata(name),
            spec=batch.CronJobSpecArgs(
                schedule=job.schedule,
                concurrency_policy="Forbid",
                starting_deadline_seconds=300,
                successful_jobs_history_limit=3,
                failed_jobs_history_limit=3,
                job_template=batch.JobTemplateSpecArgs(
                    spec=batch.JobSpecArgs(
                        backoff_limit=2,
                        active_deadline_seconds=job.deadline_seconds,
                        ttl_seconds_after_finished=86400,
                        template=core.PodTemplateSpecArgs(
                            metadata=meta.ObjectMetaArgs(labels=self.labels),
                            spec=self.pod_spec((job.container,), restart_policy="Never"),
                        ),
                    )
                ),
            ),
            opts=self.opts,
        )


def files_digest(containers: tuple[Container, ...]) -> pulumi.Output[str]:
    """A digest of every file the pods read, so a changed ConfigMap or Secret rolls them.

    It is not secret: a SHA-256 over high-entropy secrets reveals nothing of them, and a
    secret annotation would hide the whole pod template from `pulumi preview` diffs.
    """
    names = [f"{c.name}/{f.name}" for c in containers for f in c.config_files + c.secret_files]
    contents = [f.content for c in containers for f in c.config_files + c.secret_files]

    def digest(values: list[str]) -> str:
        hasher = hashlib.sha256()
        for name, value in zip(names, values, strict=True):
            hasher.update(f"{name}\0{value}\0".encode())
        return hasher.hexdigest()

    return pulumi.Output.unsecret(pulumi.Output.all(*contents).apply(digest))


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
