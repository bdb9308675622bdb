"""The Pulumi program: load and validate settings, then build the stack and export its outputs."""

from __future__ import annotations

import pulumi

from infra.settings import declared_secret_keys, load_settings
from infra.stack import build


def main() -> dict[str, pulumi.Input[object]]:
    settings = load_settings()  # raises SettingsError before any resource exists
    config = pulumi.Config()
    config_secrets = {name: config.require_secret(name) for name in declared_secret_keys(settings)}
    outputs = build(settings, pulumi.get_stack(), config_secrets)
    for key, value in outputs.items():
        pulumi.export(key, value)
    return outputs
