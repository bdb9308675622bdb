"""The Docker placement: one host, two networks, and every workload turned into hardened
containers (one per replica, sidecars sharing the replica's network namespace like a pod).

Networks: `frontend` carries the edge and the API; `backend` is internal (no route out) and
carries the API, the data stores and monitoring. Only the edge tier publishes host ports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pulumi
import pulumi_docker as docker

from components.platform import cron_runner, hardening
from components.platform.labels import (
    ROLE_LABEL,
    TASK_LABEL,
    VOLUME_PURPOSE_LABEL,
    recommended_labels,
    stack_labels,
)
from components.platform.placement import PlacedWorkload
from components.workload import (
    CONFIG_DIR,
    SECRETS_DIR,
    Checks,
    Container,
    File,
    Probe,
    ReleaseTask,
    ScheduledJob,
    Scratch,
    Tier,
    Workload,
    WorkloadError,
)

# Files reach a container through a volume at FILES_ROOT, written by a files carrier.
# The provider uploads every file as a tar extracted at `/` of the container, and Docker
# refuses any extraction at `/` when the root filesystem is read-only, even when every file
# lands in a volume. So a carrier container, created but never started (no process ever runs
# in it), mounts the volume and receives the uploads; the serving containers mount the same
# volume read-only. Files are owned by root, so no container can change them.
FILES_ROOT = "/run/prodstack"
assert CONFIG_DIR.startswith(FILES_ROOT) and SECRETS_DIR.startswith(FILES_ROOT)
# On a container: the carrier of the files it mounts. The carrier is replaced when a file
# changes, so its ID changes and the containers that read the files are replaced with it.
FILES_LABEL = "prodstack.dev/files"

CRON_RUNNER_FILE = "prodstack-cron.py"
# On a workload's containers: the release its release task completed (components/workload.py).
RELEASE_LABEL = "prodstack.dev/release"

NETWORKS_OF_TIER: dict[Tier, tuple[str, ...]] = {
    "edge": ("frontend",),
    "app": ("frontend", "backend"),
    "internal": ("backend",),
}


@dataclass(frozen=True)
class Files:
    volume: docker.Volume
    carrier: docker.Container


class ReleaseTaskError(RuntimeError):
    """A release task (a migration) exited non-zero: the release stops before the rollout."""


@dataclass(frozen=True)
class DockerPlatformArgs:
    stack: str
    name_prefix: str
    log_max_size: str
    log_max_files: int
    expires_at: str | None = None


class DockerPlatform(pulumi.ComponentResource):
    """The stack's networks on one Docker host, and the placement onto them."""

    frontend_network: pulumi.Output[str]
    backend_network: pulumi.Output[str]

    def __init__(
        self, name: str, args: DockerPlatformArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("prodstack:index:DockerPlatform", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        labels = [
            docker.NetworkLabelArgs(label=k, value=v)
            for k, v in stack_labels(args.stack, args.expires_at).items()
        ]
        frontend = docker.Network(
            f"{name}-frontend",
            name=f"{args.name_prefix}-frontend",
            driver="bridge",
            labels=labels,
            opts=child,
        )
        backend = docker.Network(
            f"{name}-backend",
            name=f"{args.name_prefix}-backend",
            driver="bridge",
            internal=True,
            labels=labels,
            opts=child,
        )
        self.frontend_network = frontend.name
        self.backend_network = backend.name
        self.placement = DockerPlacement(args, {"frontend": frontend.name, "backend": backend.name})
        self.register_outputs(
            {"frontendNetwork": self.frontend_network, "backendNetwork": self.backend_network}
        )


class DockerPlacement:
    platform = "docker"

    def __init__(self, args: DockerPlatformArgs, networks: dict[str, pulumi.Output[str]]) -> None:
        self.stack = args.stack
        self._args = args
        self._networks = networks

    def host_of(self, workload: str) -> str:
        return workload  # the network alias every replica carries

    def place(
        self,
        workload: Workload,
        parent: pulumi.Resource,
        after: Sequence[pulumi.Resource] = (),
    ) -> PlacedWorkload:
        _WorkloadContainers(workload, self._args, self._networks, parent).create(after)
        return PlacedWorkload.at(workload, self.host_of(workload.name))


class _WorkloadContainers:
    def __init__(
        self,
        workload: Workload,
        args: DockerPlatformArgs,
        networks: dict[str, pulumi.Output[str]],
        parent: pulumi.Resource,
    ) -> None:
        self.w = workload
        self.args = args
        self.networks = networks
        self.opts = pulumi.ResourceOptions(parent=parent)
        self.labels = [
            docker.ContainerLabelArgs(label=k, value=v)
            for k, v in recommended_labels(workload, args.stack).items()
        ]

    def volume_labels(self, purpose: str) -> list[docker.VolumeLabelArgs]:
        """The workload's labels and what the volume holds (data, scratch or files): the
        policy pack holds data volumes to the protection rules."""
        return [
            *(docker.VolumeLabelArgs(label=x.label, value=x.value) for x in self.labels),
            docker.VolumeLabelArgs(label=VOLUME_PURPOSE_LABEL, value=purpose),
        ]

    def resource_name(self, *parts: str) -> str:
        return "-".join((self.args.name_prefix, self.w.name, *parts))

    def create(self, after: Sequence[pulumi.Resource]) -> None:
        mounted = [c.name for c in self.w.containers if c.existing_secrets]
        if mounted:
            raise WorkloadError(
                f"workload {self.w.name}: containers {mounted} mount Kubernetes Secrets, which "
                "Docker does not have"
            )
        data_volumes = {v.name: self.data_volume(v.name, v.protect) for v in self.w.volumes}
        schedulers = tuple(scheduler_sidecar(job) for job in self.w.jobs)
        file_volumes = {c.name: self.files(c) for c in (*self.w.containers, *schedulers)}
        task = self.w.release_task
        gate = None if task is None else self.release_gate(task, after)
        for replica in range(self.w.scaling.baseline):
            # Scratch is per replica, like an emptyDir is per pod.
            volumes = data_volumes | {
                s.name: self.scratch_volume(s, replica) for s in self.w.scratch
            }
            main = self.container(
                self.w.main, replica, volumes, file_volumes.get(self.w.main.name), gate=gate
            )
            # Jobs run once per schedule, so only beside the first replica.
            sidecars = self.w.sidecars + (schedulers if replica == 0 else ())
            for sidecar in sidecars:
                self.container(sidecar, replica, volumes, file_volumes.get(sidecar.name), pod=main)

    def data_volume(self, name: str, protect: bool) -> docker.Volume:
        return docker.Volume(
            self.resource_name(name),
            name=self.resource_name(name),
            labels=self.volume_labels("data"),
            opts=pulumi.ResourceOptions.merge(
                self.opts, pulumi.ResourceOptions(protect=protect, retain_on_delete=protect)
            ),
        )

    def scratch_volume(self, scratch: Scratch, replica: int) -> docker.Volume:
        """Shared by the replica's containers; tmpfs-backed when it lives in memory."""
        options = (
            {"type": "tmpfs", "device": "tmpfs", "o": f"size={scratch.size_mib}m,uid=0,mode=1777"}
            if scratch.in_memory
            else None
        )
        return docker.Volume(
            self.resource_name(scratch.name, str(replica)),
            name=self.resource_name(scratch.name, str(replica)),
            driver="local",
            driver_opts=options,
            labels=self.volume_labels("scratch"),
            opts=self.opts,
        )

    def files(self, container: Container) -> Files | None:
        """The volume holding a container's files, and the carrier that writes them; None
        for a container without files."""
        if not (container.config_files or container.secret_files):
            return None
        name = self.resource_name(container.name, "files")
        volume = docker.Volume(name, name=name, labels=self.volume_labels("files"), opts=self.opts)
        carrier = docker.Container(
            name,
            name=name,
            image=container.image,
            # Created, never started: the provider uploads into a created container, and a
            # container that never runs needs no health check, restart policy or network.
            start=False,
            must_run=False,
            # Docker extracts the uploads at `/`, which a read-only root refuses; every
            # file lands in the volume all the same (FILES_ROOT is its mount point).
            read_only=False,
            **self.restricted(container),
            network_mode="none",
            memory=16,
            cpus="0.1",
            labels=[*self.labels, docker.ContainerLabelArgs(label=ROLE_LABEL, value="files")],
            mounts=[
                docker.ContainerMountArgs(type="volume", source=volume.name, target=FILES_ROOT)
            ],
            uploads=self.uploads(container),
            opts=pulumi.ResourceOptions.merge(
                self.opts,
                # Its name is fixed: the old carrier goes before the new one writes.
                pulumi.ResourceOptions(delete_before_replace=True),
            ),
        )
        return Files(volume, carrier)

    def container(
        self,
        spec: Container,
        replica: int,
        data_volumes: dict[str, docker.Volume],
        files: Files | None,
        pod: docker.Container | None = None,
        gate: pulumi.Output[str] | None = None,
    ) -> docker.Container:
        """A long-running container of one replica. `gate` is the release the release task
        completed: the container is not created or replaced until the task succeeded."""
        suffix = (str(replica),) if pod is None else (spec.name, str(replica))
        name = self.resource_name(*suffix)
        labels = self.labels
        if gate is not None:
            labels = [*labels, docker.ContainerLabelArgs(label=RELEASE_LABEL, value=gate)]
        return docker.Container(
            name,
            **self.hardened(spec, name, data_volumes, files, labels),
            restart="unless-stopped",
            healthcheck=healthcheck(spec.checks.readiness, spec.checks.startup),
            wait=True,
            wait_timeout=180,
            stop_timeout=self.w.pre_stop_seconds + self.w.shutdown_grace_seconds,
            # Sidecars join the replica's network namespace, so they reach it on localhost.
            network_mode=pod.id.apply(lambda id_: f"container:{id_}") if pod else None,
            networks_advanced=None if pod else self.attachments(),
            ports=None if pod else self.published_ports(spec),
            opts=pulumi.ResourceOptions.merge(
                self.opts,
                pulumi.ResourceOptions(
                    depends_on=[*([pod] if pod else []), *([files.carrier] if files else [])]
                ),
            ),
        )

    def release_gate(
        self, task: ReleaseTask, after: Sequence[pulumi.Resource]
    ) -> pulumi.Output[str]:
        """Run the release task once, as a one-shot container that Pulumi waits for, and
        return its release once it exited 0. A failure raises here, so the workload's
        containers are never registered with the new release: the old ones keep serving."""
        spec = task.container
        name = self.resource_name(task.name)
        files = self.files(spec)
        task_labels = [*self.labels, docker.ContainerLabelArgs(label=TASK_LABEL, value=task.name)]
        one_shot = docker.Container(
            name,
            **self.hardened(spec, name, {}, files, task_labels),
            # Runs to completion: Pulumi attaches, waits for the exit and records its code.
            restart="no",
            must_run=False,
            attach=True,
            logs=True,
            healthcheck=docker.ContainerHealthcheckArgs(tests=["NONE"]),
            # Not under the workload's name: nothing must send it the workload's traffic.
            networks_advanced=self.attachments(aliases=False),
            opts=pulumi.ResourceOptions.merge(
                self.opts,
                pulumi.ResourceOptions(
                    depends_on=[*after, *([files.carrier] if files else [])],
                    # Its name is fixed, so the next release's container replaces it in turn.
                    delete_before_replace=True,
                    custom_timeouts=pulumi.CustomTimeouts(create=f"{task.deadline_seconds + 120}s"),
                ),
            ),
        )

        def succeeded(release: str, exit_code: int | None) -> str:
            if exit_code != 0:
                raise ReleaseTaskError(
                    f"{self.w.name}: the {task.name} task of release {release} exited with "
                    f"{exit_code}; {self.w.name} was not rolled out. Its output: "
                    f"`docker logs {name}`"
                )
            return release

        return pulumi.Output.all(task.release(), one_shot.exit_code).apply(
            lambda values: succeeded(values[0], values[1])
        )

    def hardened(
        self,
        spec: Container,
        name: str,
        data_volumes: dict[str, docker.Volume],
        files: Files | None,
        labels: Sequence[docker.ContainerLabelArgs],
    ) -> dict[str, Any]:
        """What every container of the stack gets, serving or one-shot: a non-root user, a
        read-only root, no capabilities, no new privileges, limits, rotated logs, its files
        (read-only, from its carrier)."""
        mounts = [
            docker.ContainerMountArgs(
                type="volume",
                source=data_volumes[volume].name,
                target=self.w.mount_path(volume),
            )
            for volume in spec.mounts
        ]
        if files is not None:
            mounts.append(
                docker.ContainerMountArgs(
                    type="volume", source=files.volume.name, target=FILES_ROOT, read_only=True
                )
            )
            labels = [
                *labels,
                docker.ContainerLabelArgs(label=FILES_LABEL, value=files.carrier.id),
            ]
        r = spec.resources
        return {
            "name": name,
            "image": spec.image,
            "entrypoints": list(spec.command) or None,
            "command": list(spec.args) or None,
            "envs": [pulumi.Output.concat(k, "=", v) for k, v in sorted(spec.env.items())] or None,
            **self.restricted(spec),
            "read_only": True,
            "tmpfs": {path: hardening.TMPFS_OPTIONS for path in spec.tmpfs},
            "memory": r.memory_limit_mib,
            "memory_reservation": r.memory_request_mib,
            # No swap beyond the memory limit, as on Kubernetes.
            "memory_swap": r.memory_limit_mib,
            "cpus": f"{r.cpu_limit_millicores / 1000:g}",
            "labels": labels,
            "mounts": mounts,
        }

    def restricted(self, spec: Container) -> dict[str, Any]:
        """What every container gets, files carriers included: a non-root user, no
        capabilities, no new privileges, rotated logs."""
        return {
            "user": f"{spec.run_as_user}:{hardening.group_of(spec)}",
            "capabilities": docker.ContainerCapabilitiesArgs(
                drops=list(hardening.DROPPED_CAPABILITIES)
            ),
            "security_opts": ["no-new-privileges:true"],
            "privileged": False,
            "log_driver": "json-file",
            "log_opts": {
                "max-size": self.args.log_max_size,
                "max-file": str(self.args.log_max_files),
            },
        }

    def attachments(self, aliases: bool = True) -> list[docker.ContainerNetworksAdvancedArgs]:
        return [
            docker.ContainerNetworksAdvancedArgs(
                name=self.networks[network], aliases=[self.w.name] if aliases else None
            )
            for network in NETWORKS_OF_TIER[self.w.tier]
        ]

    def published_ports(self, spec: Container) -> list[docker.ContainerPortArgs] | None:
        published = [
            docker.ContainerPortArgs(
                internal=p.port, external=p.public_port, ip=p.public_address, protocol="tcp"
            )
            for p in spec.ports
            if p.public_port is not None
        ]
        return published or None

    def uploads(self, spec: Container) -> list[docker.ContainerUploadArgs] | None:
        group = str(hardening.group_of(spec))
        files = [
            docker.ContainerUploadArgs(
                file=f"{CONFIG_DIR}/{f.relative_path}",
                content=f.content,
                owner="0",
                group=group,
                permissions="0444",
            )
            for f in spec.config_files
        ] + [
            docker.ContainerUploadArgs(
                file=f"{SECRETS_DIR}/{f.name}",
                content=pulumi.Output.secret(f.content),
                owner="0",
                group=group,
                permissions="0440",
            )
            for f in spec.secret_files
        ]
        return files or None


def scheduler_sidecar(job: ScheduledJob) -> Container:
    """Docker has no scheduler: a job becomes a sidecar that runs it on its schedule with
    prodstack-cron (components/platform/cron_runner.py), delivered as a config file."""
    runner = f"{CONFIG_DIR}/{CRON_RUNNER_FILE}"
    alive = Probe(command=("python3", runner, "--health"), period_seconds=30)
    job_command = (*job.container.command, *job.container.args)
    return replace(
        job.container,
        name=f"{job.name}-cron",
        command=("python3", runner),
        args=(
            "--schedule",
            job.schedule,
            "--deadline-seconds",
            str(job.deadline_seconds),
            "--",
            *job_command,
        ),
        config_files=(*job.container.config_files, File(CRON_RUNNER_FILE, runner_source())),
        checks=Checks.always(alive),
    )


def runner_source() -> str:
    return Path(cron_runner.__file__).read_text()


def healthcheck(readiness: Probe, startup: Probe) -> docker.ContainerHealthcheckArgs:
    """Docker has one health state: readiness decides it, startup gives the grace period."""
    return docker.ContainerHealthcheckArgs(
        tests=["CMD", *readiness.command],
        interval=f"{readiness.period_seconds}s",
        timeout=f"{readiness.timeout_seconds}s",
        retries=readiness.failure_threshold,
        start_period=f"{startup.period_seconds * startup.failure_threshold}s",
        start_interval="1s",
    )
