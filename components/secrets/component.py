"""The stack's secrets: generated ones (pulumi-random) and user-supplied ones (config secrets).

Every value leaves this component as a Pulumi secret output and reaches workloads only as a
file. Changing `secrets.rotation` regenerates every generated secret but the backup
repository's passphrase (existing backups need it); `secrets.rotate.<name>` regenerates one.

The app's credentials for the data stores (`RolloverSecret`) have two logins each, slot a and
slot b, like the "alternating users" rotation of managed secret stores: a rollover
(`secrets.rollover.<name>` + 1) regenerates only the slot that is idle and makes it the
active one. The data store accepts both while the API's new release takes over, and its
logins keeper retires the other once no client uses it (components/logins.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, cast, get_args

import pulumi
import pulumi_random as random

from components.logins import Credential, Slot, slot_generations
from components.secrets.settings import GeneratedSecret, RolloverSecret, SecretsSettings
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

    # The value of each generated secret; for an app credential, its active slot's.
    generated: dict[GeneratedSecret, pulumi.Output[str]]
    credentials: dict[RolloverSecret, Credential]
    user_supplied: dict[str, pulumi.Output[str]]

    def __init__(
        self, name: str, args: SecretsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("prodstack:index:Secrets", name, None, opts)
        settings = args.settings
        self.generated = {}
        self.credentials = {}
        for spec in GENERATED:
            keepers: dict[str, pulumi.Input[str]] = {"rotate": settings.rotate.get(spec.key, "")}
            if spec.rotates_with_all:
                keepers["rotation"] = settings.rotation
            resource_name = f"{name}-{_kebab(spec.key)}"
            if spec.key not in get_args(RolloverSecret):
                self.generated[spec.key] = _generate(spec, resource_name, keepers, self)
                continue
            key = cast(RolloverSecret, spec.key)
            generation = settings.rollover.get(key, 0)
            passwords: dict[Slot, pulumi.Output[str]] = {}
            for slot, slot_generation in slot_generations(generation).items():
                # Slot a keeps the resource and keepers of a stack from before rollovers
                # until its first rollover to it, so upgrading prodstack changes no password.
                slot_keepers = dict(keepers)
                if slot == "b" or slot_generation > 0:
                    slot_keepers["rollover"] = str(slot_generation)
                slot_name = resource_name if slot == "a" else f"{resource_name}-b"
                passwords[slot] = _generate(spec, slot_name, slot_keepers, self)
            credential = Credential(passwords, active="a" if generation % 2 == 0 else "b")
            self.credentials[key] = credential
            self.generated[spec.key] = credential.password
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


def _generate(
    spec: Generated,
    resource_name: str,
    keepers: Mapping[str, pulumi.Input[str]],
    parent: pulumi.Resource,
) -> pulumi.Output[str]:
    """A new secret of `spec`'s kind, regenerated when `keepers` change."""
    if spec.kind == "password":
        value = random.RandomPassword(
            resource_name,
            length=spec.length,
            special=False,
            keepers=keepers,
            opts=pulumi.ResourceOptions(parent=parent, additional_secret_outputs=["result"]),
        ).result
    else:
        value = random.RandomBytes(
            resource_name,
            length=spec.length,
            keepers=keepers,
            opts=pulumi.ResourceOptions(parent=parent, additional_secret_outputs=["base64", "hex"]),
        ).base64
    return pulumi.Output.secret(value)


def _kebab(name: str) -> str:
    """stripeApiKey -> stripe-api-key: resource and file names."""
    return "".join(f"-{c.lower()}" if c.isupper() else c for c in name)
