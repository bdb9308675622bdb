"""The typed settings of one stack, composed from each component's own settings model.

Defaults live in `defaults.py`, per environment; loading and messages in `loader.py`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from components.api.settings import ApiSettings
from components.edge.settings import EdgeSettings
from components.frontend.settings import FrontendSettings
from components.images import REFERENCE_IMAGE
from components.monitoring.settings import MonitoringSettings
from components.platform.settings import DockerSettings, KubernetesSettings
from components.postgres.settings import PostgresSettings
from components.redis.settings import RedisSettings
from components.secrets.settings import SecretsSettings
from components.settings import HostName, Settings, hinted
from infra.settings.recovery import RecoverySettings

Environment = Literal["dev", "prod", "ephemeral"]
Platform = Literal["docker", "kubernetes"]

__all__ = ["REFERENCE_IMAGE", "Environment", "Platform", "StackSettings"]


class StackSettings(Settings):
    environment: Environment = Field(description="dev, prod or ephemeral.")
    platform: Platform = Field(description="docker or kubernetes.")
    domain: HostName = Field(description="Public host name of the stack.")
    protect_data: bool = Field(description="Protect data volumes from deletion.")
    expires_at: str | None = Field(
        default=None,
        pattern=hinted(r"^\d{8}T\d{6}Z$", "a UTC time like 20261122T180000Z"),
        description=(
            "Ephemeral stacks: when the stack may be destroyed (UTC, like 20261122T180000Z), "
            "labelled on the Docker networks or the namespace. `prodstack ephemeral up` sets it."
        ),
    )
    api: ApiSettings
    edge: EdgeSettings
    frontend: FrontendSettings

    postgres: PostgresSettings
    redis: RedisSettings
    monitoring: MonitoringSettings
    recovery: RecoverySettings

    secrets: SecretsSettings
    kubernetes: KubernetesSettings
    docker: DockerSettings
