"""What every Docker resource of one workload shares: its names, labels, parent and networks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker

from components.platform.docker.network import Attachment
from components.platform.docker.rollout import Rollout
from components.platform.labels import VERSION_LABEL, VOLUME_PURPOSE_LABEL, recommended_labels
from components.platform.settings import DockerSettings
from components.workload import Workload


@dataclass(frozen=True)
class Scope:
    workload: Workload
    stack: str
    settings: DockerSettings
    parent: pulumi.Resource
    # The networks each of its containers joins, by container name (network.CLIENT: its
    # release task and jobs).
    networks: Mapping[str, tuple[Attachment, ...]]
    # How its containers are replaced (rollout.py): it names what a replica is made of.
    rollout: Rollout
    opts: pulumi.ResourceOptions = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "opts", pulumi.ResourceOptions(parent=self.parent))

    @property
    def replaced_opts(self) -> pulumi.ResourceOptions:
        """For what the rollout names: parented, and replaced in the rollout's order."""
        return pulumi.ResourceOptions.merge(self.opts, self.rollout.options)

    def physical_name(self, *parts: str) -> pulumi.Input[str]:
        """The name on the engine of what `resource_name(*parts)` names in the program:
        with the release under a surge rollout."""
        return self.rollout.name(self.resource_name(*parts))

    @property
    def labels(self) -> list[docker.ContainerLabelArgs]:
        return [
            docker.ContainerLabelArgs(label=k, value=v)
            for k, v in recommended_labels(self.workload, self.stack).items()
        ]

    def volume_labels(self, purpose: str) -> list[docker.VolumeLabelArgs]:
        """The workload's labels but its version, and what the volume holds (data, scratch
        or files): the policy pack holds data volumes to the protection rules. A volume's
        labels are ForceNew, so a version among them would replace (delete) a database's
        data volume on every upgrade of its image."""
        return [
            *(
                docker.VolumeLabelArgs(label=x.label, value=x.value)
                for x in self.labels
                if x.label != VERSION_LABEL
            ),
            docker.VolumeLabelArgs(label=VOLUME_PURPOSE_LABEL, value=purpose),
        ]

    def resource_name(self, *parts: str) -> str:
        return "-".join((self.settings.name_prefix, self.workload.name, *parts))

    def attachments(self, container: str) -> list[docker.ContainerNetworksAdvancedArgs] | None:
        """The networks of one of its containers, each under the name it answers to there."""
        return [
            docker.ContainerNetworksAdvancedArgs(
                name=a.network, aliases=[a.alias] if a.alias else None
            )
            for a in self.networks[container]
        ] or None

    def network_mode(self, container: str) -> str | None:
        """A container on no network gets none at all, not Docker's default bridge."""
        return None if self.networks[container] else "none"
