"""A container's files as a ConfigMap (config) and a Secret (secrets), mounted read-only."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.platform.kubernetes.scope import Scope
from components.workload import Container

core = k8s.core.v1


def config_map_name(scope: Scope, container: Container) -> str:
    return f"{scope.workload.name}-{container.name}-config"


def secret_name(scope: Scope, container: Container) -> str:
    return f"{scope.workload.name}-{container.name}-secrets"


def files(scope: Scope, container: Container) -> None:
    if container.delivered_config_files:
        name = config_map_name(scope, container)
        core.ConfigMap(
            name,
            metadata=scope.metadata(name),
            data={f.name: f.content for f in container.delivered_config_files},
            immutable=False,
            opts=scope.opts,
        )
    if container.delivered_secret_files:
        name = secret_name(scope, container)
        core.Secret(
            name,
            metadata=scope.metadata(name),
            type="Opaque",
            string_data={
                f.name: pulumi.Output.secret(f.content) for f in container.delivered_secret_files
            },
            opts=scope.opts,
        )
