"""Settings of generated and user-supplied secrets."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from components.settings import ConfigKey, Settings, UniqueList

GeneratedSecret = Literal[
    "databasePassword",
    "databaseMonitorPassword",
    "redisPassword",
    "redisAdminPassword",
    "redisExporterPassword",
    "signingKey",
    "backupCipherPass",
    "grafanaAdminPassword",
]


class SecretsSettings(Settings):
    rotation: str = Field(
        min_length=1,
        max_length=64,
        description=(
            "Change it to regenerate every generated secret (after a breach), except "
            "backupCipherPass, which existing backups need."
        ),
    )
    rotate: dict[GeneratedSecret, Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        description="Rotation key per generated secret, to regenerate one alone."
    )
    from_config: UniqueList[ConfigKey] = Field(
        description=(
            "Names of secret config keys (`pulumi config set --secret NAME VALUE`) "
            "delivered to the API as files."
        )
    )
