"""Settings of the two placements."""

from __future__ import annotations

from pydantic import Field

from components.settings import Settings

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"


class KubernetesSettings(Settings):
    namespace: str = Field(pattern=DNS_LABEL, description="Namespace of the stack.")
    schema_version: str = Field(
        pattern=r"^1\.\d{2}$", description="Kubernetes version the offline check validates for."
    )
    topology_keys: list[str] = Field(
        min_length=1, description="Node labels replicas are spread across."
    )


class DockerSettings(Settings):
    name_prefix: str = Field(
        pattern=r"^[a-z0-9][a-z0-9-]{0,40}$",
        description="Prefix of container, network and volume names on the host.",
    )
    log_max_size: str = Field(pattern=r"^\d+[kmg]$", description="json-file log size per file.")
    log_max_files: int = Field(ge=1, le=20, description="json-file log files kept.")
