"""The stack's secrets: generated ones (pulumi-random) and user-supplied ones (config secrets).

Every value leaves this component as a Pulumi secret output and reaches workloads only as a
file. Changing `secrets.rotation` regenerates all generated secrets; `secrets.rotate.<name>`
regenerates one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_random as random

from components.secrets.settings import SecretsSettings
from components.workload import File

PASSWORD_LENGTH = 32
# 48 random bytes: 384 bits, above the 256 bits the seed plans ask of the signing key.
SIGNING_KEY_BYTES = 48


@dataclass(frozen=True)
class SecretsArgs:
    settings: SecretsSettings
    # Values of the config keys listed in settings.from_config, read by the composition root.
    user_supplied: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)


class Secrets(pulumi.ComponentResource):
    """prodstack:index:Secrets: passwords, the signing key and user-supplied secrets."""

    database_password: pulumi.Output[str]
    redis_password: pulumi.Output[str]
    signing_key: pulumi.Output[str]
    user_supplied: dict[str, pulumi.Output[str]]

    def __init__(
        self, name: str, args: SecretsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("prodstack:index:Secrets", name, None, opts)
        settings = args.settings
        child = pulumi.ResourceOptions(parent=self, additional_secret_outputs=["result"])

        def keepers(secret: str) -> dict[str, pulumi.Input[str]]:
            return {"rotation": settings.rotation, "rotate": settings.rotate.get(secret, "")}  # type: ignore[call-overload]

        self.database_password = pulumi.Output.secret(
            random.RandomPassword(
                f"{name}-database-password",
                length=PASSWORD_LENGTH,
                special=False,
                keepers=keepers("databasePassword"),
                opts=child,
            ).result
        )
        self.redis_password = pulumi.Output.secret(
            random.RandomPassword(
                f"{name}-redis-password",
                length=PASSWORD_LENGTH,
                special=False,
                keepers=keepers("redisPassword"),
                opts=child,
            ).result
        )
        self.signing_key = pulumi.Output.secret(
            random.RandomBytes(
                f"{name}-signing-key",
                length=SIGNING_KEY_BYTES,
                keepers=keepers("signingKey"),
                opts=pulumi.ResourceOptions(
                    parent=self, additional_secret_outputs=["base64", "hex"]
                ),
            ).base64
        )
        self.user_supplied = {
            key: pulumi.Output.secret(value) for key, value in args.user_supplied.items()
        }
        self.register_outputs(
            {
                "databasePassword": self.database_password,
                "redisPassword": self.redis_password,
                "signingKey": self.signing_key,
                **{f"user.{k}": v for k, v in self.user_supplied.items()},
            }
        )

    def api_files(self) -> tuple[File, ...]:
        """The secrets the API reads: its signing key and every user-supplied secret."""
        return (
            File("signing-key", self.signing_key),
            *(File(_file_name(key), value) for key, value in sorted(self.user_supplied.items())),
        )


def _file_name(config_key: str) -> str:
    """stripeApiKey -> stripe-api-key: the file name the API reads."""
    return "".join(f"-{c.lower()}" if c.isupper() else c for c in config_key)
