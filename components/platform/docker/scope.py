"""What every Docker resource of one workload shares: its names, labels, parent and networks."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker

from components.platform.labels import VOLUME_PURPOSE_LABEL, recommended_labels
from components.workload import Workload


@dataclass(frozen=True)
class DockerSettings:
    stack: str
    name_prefix: str
    log_max_size: str
    log_max_files: int


@dataclass(frozen=True)
class Scope:
    workload: Workload
    settings: DockerSettings
    parent: pulumi.Resource
    # The networks its containers join: (network name, joined under the workload's name?).
    networks: tuple[tuple[pulumi.Output[str], bool], ...]
    opts: pulumi.ResourceOptions = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "opts", pulumi.ResourceOptions(parent=self.parent))

    @property
    def labels(self) -> list[docker.ContainerLabelArgs]:
        return [
            docker.ContainerLabelArgs(label=k, value=v)
            for k, v in recommended_labels(self.workload, self.settings.stack).items()
        ]

    def volume_labels(self, purpose: str) -> list[docker.VolumeLabelArgs]:
        """The workload's labels and what the volume holds (data, scratch or files): the
        policy pack holds data volumes to the protection rules."""
        return [
            *(docker.VolumeLabelArgs(label=x.label, value=x.value) for x in self.labels),
            docker.VolumeLabelArgs(label=VOLUME_PURPOSE_LABEL, value=purpose),
        ]

    def resource_name(self, *parts: str) -> str:
        return "-".join((self.settings.name_prefix, self.workload.name, *parts))

    def attachments(
        self, aliases: bool = True
    ) -> list[docker.ContainerNetworksAdvancedArgs] | None:
        """Its networks; on its own it answers to the workload's name. A release task joins
        without the name: nothing must send it the workload's traffic."""
        return [
            docker.ContainerNetworksAdvancedArgs(
                name=network, aliases=[self.workload.name] if aliases and own else None
            )
            for network, own in self.networks
        ] or None

    @property
    def network_mode(self) -> str | None:
        """A container on no network gets none at all, not Docker's default bridge."""
        return None if self.networks else "none"
