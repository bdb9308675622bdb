"""The stack's secrets: generated ones (pulumi-random) and user-supplied ones (config secrets).

Every value leaves this component as a Pulumi secret output and reaches workloads only as a
file. Changing `secrets.rotation` regenerates every generated secret but the backup
repository's passphrase (existing backups need it); `secrets.rotate.<name>` regenerates one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

import pulumi
import pulumi_random as random

from components.secrets.settings import GeneratedSecret, SecretsSettings
from components.workload import File


@dataclass(frozen=True)
class Generated:
    key: GeneratedSecret
    kind: Literal["password", "bytes"]
    length: int
    rotates_with_all: bool = True


GENERATED: tuple[Generated, ...] = (
    Generated("databasePassword", "password", 32),
    Generated("databaseMonitorPassword", "password", 32),
    Generated("redisPassword", "password", 32),
    Generated("redisAdminPassword", "password", 32),
    Generated("redisExporterPassword", "password", 32),
    # 48 random bytes: 384 bits, above the 256 bits the seed plans ask of the signing key.
    Generated("signingKey", "bytes", 48),
    Generated("backupCipherPass", "password", 64, rotates_with_all=False),
    Generated("grafanaAdminPassword", "password", 32),
)

assert {g.key for g in GENERATED} == set(get_args(GeneratedSecret))


@dataclass(frozen=True)
class SecretsArgs:
    settings: SecretsSettings
    # Values of the config keys listed in settings.from_config, read by the composition root.
    user_supplied: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)


class Secrets(pulumi.ComponentResource):
    """prodstack:index:Secrets: passwords, keys and user-supplied secrets, all secret outputs."""

    generated: dict[GeneratedSecret, pulumi.Output[str]]
    user_supplied: dict[str, pulumi.Output[str]]

    def __init__(
        self, name: str, args: SecretsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("prodstack:index:Secrets", name, None, opts)
        settings = args.settings
        self.generated = {}
        for spec in GENERATED:
            keepers: dict[str, pulumi.Input[str]] = {"rotate": settings.rotate.get(spec.key, "")}
            if spec.rotates_with_all:
                keepers["rotation"] = settings.rotation
            resource_name = f"{name}-{_kebab(spec.key)}"
            if spec.kind == "password":
                value = random.RandomPassword(
                    resource_name,
                    length=spec.length,
                    special=False,
                    keepers=keepers,
                    opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["result"]),
                ).result
            else:
                value = random.RandomBytes(
                    resource_name,
                    length=spec.length,
                    keepers=keepers,
                    opts=pulumi.ResourceOptions(
                        parent=self, additional_secret_outputs=["base64", "hex"]
                    ),
                ).base64
            self.generated[spec.key] = pulumi.Output.secret(value)
        self.user_supplied = {
            key: pulumi.Output.secret(value) for key, value in args.user_supplied.items()
        }
        self.register_outputs(
            {
                **{key: value for key, value in self.generated.items()},
                **{f"user.{k}": v for k, v in self.user_supplied.items()},
            }
        )

    def __getitem__(self, key: GeneratedSecret) -> pulumi.Output[str]:
        return self.generated[key]

    def api_files(self) -> tuple[File, ...]:
        """The secrets the API reads itself: its signing key and every user-supplied secret."""
        return (
            File("signing-key", self["signingKey"]),
            *(File(_kebab(key), value) for key, value in sorted(self.user_supplied.items())),
        )


def _kebab(name: str) -> str:
    """stripeApiKey -> stripe-api-key: resource and file names."""
    return "".join(f"-{c.lower()}" if c.isupper() else c for c in name)
