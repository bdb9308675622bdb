"""Read `Pulumi.<stack>.yaml` the way the Pulumi CLI hands it to the program.

Encrypted values cannot be decrypted without the stack's secrets provider, so each becomes a
placeholder that is still marked secret; the offline render then proves no placeholder leaks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PLACEHOLDER_PREFIX = "offline-placeholder-secret-"


class StackConfigError(Exception):
    """The stack's config file is missing or is not valid YAML."""


@dataclass
class StackConfig:
    project: str
    stack: str
    values: dict[str, str] = field(default_factory=dict)
    secret_keys: set[str] = field(default_factory=set)
    # The stand-ins for encrypted values; they must never appear in a rendered file.
    placeholders: set[str] = field(default_factory=set)


def _replace_secure(value: Any, key: str, found: list[str]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            placeholder = f"{PLACEHOLDER_PREFIX}{key}-{len(found)}"
            found.append(placeholder)
            return placeholder
        return {k: _replace_secure(v, f"{key}.{k}", found) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_secure(v, f"{key}[{i}]", found) for i, v in enumerate(value)]
    return value


def as_config_text(value: Any) -> str:
    """Pulumi hands scalars to programs as text and structured values as JSON text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def project_name(root: Path) -> str:
    project_file = root / "Pulumi.yaml"
    try:
        document = yaml.safe_load(project_file.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise StackConfigError(f"{project_file}: {error}") from None
    return str(document["name"])


def load_stack_config(root: Path, stack: str) -> StackConfig:
    path = root / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        raise StackConfigError(f"no stack file {path.name} in {root}")
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise StackConfigError(f"{path.name}: not valid YAML: {error}") from None
    config = StackConfig(project=project_name(root), stack=stack)
    for key, value in (document.get("config") or {}).items():
        found: list[str] = []
        replaced = _replace_secure(value, str(key), found)
        config.values[str(key)] = as_config_text(replaced)
        if found:
            config.secret_keys.add(str(key))
            config.placeholders.update(found)
    return config
