"""A container of the stack on Docker: the restricted profile, its limits, volumes, files,
health check and published ports."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_docker as docker

from components.platform.docker.files import Files, files_label
from components.platform.docker.hardening import restricted_args, serving_args
from components.platform.docker.scope import Scope
from components.platform.hardening import restricted
from components.workload import Container, Probe

# On a workload's containers: the release its release task completed (components/workload.py).
RELEASE_LABEL = "prodstack.dev/release"
# On a container: a digest of the fields a change of which the provider would not apply.
UNAPPLIED_FIELDS_LABEL = "prodstack.dev/unapplied-fields"


def container(
    scope: Scope,
    spec: Container,
    replica: int,
    data_volumes: dict[str, docker.Volume],
    spec_files: Files | None,
    main: docker.Container | None = None,
    gate: pulumi.Output[str] | None = None,
    networks: str | None = None,
) -> docker.Container:
    """A long-running container of one replica, on the networks of `networks` (by default
    its own name's; see network.py). A sidecar starts after the replica's `main`. `gate` is
    the release the release task completed: the container is not created or replaced until
    the task succeeded."""
    w = scope.workload
    suffix = (str(replica),) if main is None else (spec.name, str(replica))
    name = scope.resource_name(*suffix)
    check = healthcheck(spec.checks.readiness, spec.checks.startup)
    labels = [*scope.labels, unapplied_fields_label(check, spec)]
    if gate is not None:
        labels.append(docker.ContainerLabelArgs(label=RELEASE_LABEL, value=gate))
    networks = spec.name if networks is None else networks
    grace = w.pre_stop_seconds + w.shutdown_grace_seconds
    return docker.Container(
        name,
        **hardened(scope, spec, scope.physical_name(*suffix), data_volumes, spec_files, labels),
        restart="unless-stopped",
        healthcheck=check,
        wait=True,
        wait_timeout=180,
        stop_timeout=grace,
        # The provider stops a container it removes with this timeout, and with none kills
        # it at once: the grace period is what lets in-flight requests finish.
        destroy_grace_seconds=grace,
        # Every container has a network namespace of its own: a sidecar reaches its main
        # container through the replica's scratch space (a socket), never over loopback.
        network_mode=scope.network_mode(networks),
        networks_advanced=scope.attachments(networks),
        ports=published_ports(spec),
        opts=pulumi.ResourceOptions.merge(
            scope.replaced_opts,
            pulumi.ResourceOptions(
                depends_on=[
                    *([main] if main else []),
                    *([spec_files.carrier] if spec_files else []),
                ]
            ),
        ),
    )


def unapplied_fields_label(
    check: docker.ContainerHealthcheckArgs, spec: Container
) -> docker.ContainerLabelArgs:
    """A digest of the fields the provider neither replaces a container for nor updates
    (healthcheck, tmpfs: neither ForceNew nor applied by resourceDockerContainerUpdate in
    kreuzwerker/terraform-provider-docker v4.5.0): a change would be recorded in the state
    and never reach the container. As a label, which forces a replacement, it does."""
    fields = {
        "healthcheck": vars(check),
        "tmpfs": sorted(restricted(spec).writable_paths),
        "tmpfs_options": restricted(spec).tmpfs_options,
    }
    text = json.dumps(fields, sort_keys=True, default=str)
    return docker.ContainerLabelArgs(
        label=UNAPPLIED_FIELDS_LABEL, value=hashlib.sha256(text.encode()).hexdigest()[:12]
    )


def hardened(
    scope: Scope,
    spec: Container,
    name: pulumi.Input[str],
    data_volumes: dict[str, docker.Volume],
    spec_files: Files | None,
    labels: Sequence[docker.ContainerLabelArgs],
) -> dict[str, Any]:
    """What every container that runs gets, serving or one-shot: the restricted profile,
    its limits, its volumes and its files (read-only, from its carrier)."""
    mounts = [
        docker.ContainerMountArgs(
            type="volume",
            source=data_volumes[volume].name,
            target=scope.workload.mount_path(volume),
        )
        for volume in spec.mounts
    ]
    if spec_files is not None:
        mounts.append(spec_files.mount())
        if not spec.reloads_files:
            labels = [*labels, files_label(spec)]
    s = scope.settings
    return {
        "name": name,
        "image": spec.image,
        "entrypoints": list(spec.command) or None,
        "command": list(spec.args) or None,
        "envs": [pulumi.Output.concat(k, "=", v) for k, v in sorted(spec.env.items())] or None,
        **restricted_args(spec, s.log_max_size, s.log_max_files),
        **serving_args(spec),
        "labels": labels,
        "mounts": mounts,
    }


def published_ports(spec: Container) -> list[docker.ContainerPortArgs] | None:
    published = [
        docker.ContainerPortArgs(
            internal=p.port, external=p.public_port, ip=p.public_address, protocol="tcp"
        )
        for p in spec.ports
        if p.public_port is not None
    ]
    return published or None


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
