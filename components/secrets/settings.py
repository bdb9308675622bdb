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


# The app's credentials for the data stores: each has two logins, so a rollover can give the
# idle one a new password while the other still serves (components/secrets/component.py).
RolloverSecret = Literal["databasePassword", "redisPassword"]


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
        description=(
            "Rotation key per generated secret, to regenerate one alone. For an app "
            "credential both its logins change at once (after a breach); routine rotation "
            "is `secrets.rollover`."
        )
    )
    rollover: dict[RolloverSecret, Annotated[int, Field(ge=0, le=1_000_000)]] = Field(
        description=(
            "Generation per app credential; add 1 to rotate it without a failed request: the "
            "idle one of its two logins gets a new password and the API a release that uses "
            "it, while the other stays valid until it is retired."
        )
    )
    retire_after_idle_seconds: int = Field(
        ge=10,
        le=86400,
        description=(
            "A login left by a rollover is revoked once no client has used it for this long "
            "(the data store's logins keeper checks every second)."
        ),
    )
    from_config: UniqueList[ConfigKey] = Field(
        description=(
            "Names of secret config keys (`pulumi config set --secret NAME VALUE`) "
            "delivered to the API as files."
        )
    )
