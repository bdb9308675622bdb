"""The Pulumi program: load and validate settings, then build the stack and export its outputs."""

from __future__ import annotations

import pulumi

from infra.settings import load_settings
from infra.stack import build


def main() -> dict[str, pulumi.Input[object]]:
    settings = load_settings()  # raises SettingsError before any resource exists
    config = pulumi.Config()
    user_secrets = {name: config.require_secret(name) for name in settings.secrets.from_config}
    outputs = build(settings, pulumi.get_stack(), user_secrets)
    for key, value in outputs.items():
        pulumi.export(key, value)
    return outputs
