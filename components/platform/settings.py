"""Settings of the two placements."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import AfterValidator, Field

from components.settings import Settings, UniqueList, hinted

DNS_LABEL = hinted(
    r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$",
    "a DNS label: lowercase letters, digits and -, at most 63, starting and ending alphanumeric",
)


# A Kubernetes label key: an optional DNS-subdomain prefix and a name of at most 63.
LabelKey = Annotated[
    str,
    Field(
        pattern=hinted(
            r"^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$",
            "a label key like topology.kubernetes.io/zone",
        )
    ),
]


def _host_address(value: str) -> str:
    ipaddress.ip_address(value)
    return value


HostAddress = Annotated[str, Field(max_length=45), AfterValidator(_host_address)]
Port = Annotated[int, Field(ge=1, le=65535)]


class ClusterDns(Settings):
    """Where the cluster's name server runs, for the namespace's one egress rule to it."""

    @property
    def pod_labels(self) -> dict[str, str]:
        key, value = self.pod_label.split("=", 1)
        return {key: value}

    namespace: str = Field(pattern=DNS_LABEL, description="Namespace of the DNS pods.")
    pod_label: str = Field(
        pattern=hinted(
            r"^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?=[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$",
            "a label like k8s-app=kube-dns",
        ),
        description="The label of the DNS pods, key=value (CoreDNS: k8s-app=kube-dns).",
    )
    ports: UniqueList[Port] = Field(
        min_length=1,
        description="Ports the DNS pods listen on (the policy sees the pod's port, after the Service).",
    )
    addresses: UniqueList[HostAddress] = Field(
        description=(
            "Addresses answered on the node itself: NodeLocal DNSCache's link-local address, "
            "and in its iptables mode the kube-dns Service's ClusterIP, which it intercepts."
        )
    )


class KubernetesSettings(Settings):
    namespace: str = Field(pattern=DNS_LABEL, description="Namespace of the stack.")
    schema_version: str = Field(
        pattern=hinted(r"^1\.\d{2}$", "a Kubernetes minor version like 1.33"),
        description="Kubernetes version the offline check validates for.",
    )
    topology_keys: UniqueList[LabelKey] = Field(
        min_length=1, description="Node labels replicas are spread across."
    )
    dns: ClusterDns
    storage_class: str | None = Field(
        default=None,
        pattern=hinted(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$", "a StorageClass name like gp3"),
        description=(
            "The StorageClass of the data volumes, which must allow volume expansion "
            "(allowVolumeExpansion: true) for a larger storageGib to grow a volume in place. "
            "Unset: the cluster's default, whatever it allows (refused in prod)."
        ),
    )


class DockerSettings(Settings):
    name_prefix: str = Field(
        pattern=hinted(r"^[a-z0-9][a-z0-9-]{0,40}$", "lowercase letters, digits and -, at most 41"),
        description="Prefix of container, network and volume names on the host.",
    )
    log_max_size: str = Field(
        pattern=hinted(r"^\d+[kmg]$", "a size like 10m (k, m or g)"),
        description="json-file log size per file.",
    )
    log_max_files: int = Field(ge=1, le=20, description="json-file log files kept.")
