"""What every Kubernetes object of one workload shares: namespace, labels, metadata, parent."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components.platform.labels import recommended_labels, selector_labels
from components.platform.settings import KubernetesSettings
from components.workload import Workload

meta = k8s.meta.v1


@dataclass(frozen=True)
class Scope:
    workload: Workload
    stack: str
    settings: KubernetesSettings
    namespace: pulumi.Output[str]
    parent: pulumi.Resource
    opts: pulumi.ResourceOptions = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "opts", pulumi.ResourceOptions(parent=self.parent))

    @property
    def labels(self) -> dict[str, str]:
        return recommended_labels(self.workload, self.stack)

    @property
    def selector(self) -> dict[str, str]:
        return selector_labels(self.workload.name, self.stack)

    def metadata(self, name: str | None = None) -> meta.ObjectMetaArgs:
        return meta.ObjectMetaArgs(
            name=name or self.workload.name, namespace=self.namespace, labels=self.labels
        )
