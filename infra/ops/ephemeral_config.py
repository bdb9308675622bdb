"""What an ephemeral test stack is: its name, when it expires, and its config, derived from
the dev stack's. Pure functions, so every rule here is unit-tested without Pulumi.

An ephemeral stack is dev with: nothing protected (so `destroy` leaves nothing behind), short
retention (backups and metrics last as long as the stack), an expiry time (a stack tag and a
label on its roots), and public ports of its own so it can share a host with dev.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from infra.render.stack_config import StackConfig, as_config_text
from infra.settings.defaults import merged
from infra.settings.loader import parse_config_text

STACK_PREFIX = "ephemeral-"
# A Pulumi stack tag (at most 40 characters) holding the expiry, as ISO 8601 UTC.
EXPIRES_TAG = "prodstack:expires-at"
DEFAULT_TTL = "24h"
MAX_TTL = dt.timedelta(days=7)
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,18}[a-z0-9]$|^[a-z]$")
_TTL = re.compile(r"^(\d{1,4})([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
# Ports for ephemeral stacks' edges: pairs from here up, picked by name (docs/runbooks).
PORT_BASE = 20000
PORT_PAIRS = 5000

# The ephemeral settings laid over dev's: short retention, nothing protected.
OVERRIDES: dict[str, Any] = {
    "environment": "ephemeral",
    "protectData": False,
    "postgres": {"backup": {"retention": {"full": 1, "fullType": "count", "diff": 1}}},
    "monitoring": {"retentionDays": 1, "retentionSizeGib": 1},
}


class EphemeralError(ValueError):
    """A wrong name, time-to-live or dev config: said before anything is created."""


@dataclass(frozen=True)
class EphemeralStack:
    name: str
    expires_at: dt.datetime
    # Every config key, prodstack:-prefixed, as text (JSON for mappings and lists).
    config: dict[str, str]

    @property
    def stack(self) -> str:
        return stack_name(self.name)

    @property
    def expires_tag(self) -> str:
        return self.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")

    @property
    def http_port(self) -> int:
        return int(json.loads(self.config["prodstack:edge"])["publicPorts"]["http"])


def stack_name(name: str) -> str:
    """`pr-123` -> `ephemeral-pr-123`: ephemeral commands never touch another stack."""
    if not _NAME.match(name):
        raise EphemeralError(
            f"name {name!r}: 1 to 20 lowercase letters, digits and -, starting with a letter "
            "and not ending with - (like pr-123)"
        )
    return STACK_PREFIX + name


def parse_ttl(text: str) -> dt.timedelta:
    match = _TTL.match(text)
    if match is None:
        raise EphemeralError(f"--ttl {text!r}: a number and m, h or d, like 90m, 4h or 2d")
    ttl = dt.timedelta(**{_UNITS[match[2]]: int(match[1])})
    if not dt.timedelta(minutes=10) <= ttl <= MAX_TTL:
        raise EphemeralError(f"--ttl {text!r}: between 10m and {MAX_TTL.days}d")
    return ttl


def label_time(moment: dt.datetime) -> str:
    """The `expiresAt` setting: ISO 8601 basic format, valid as a Kubernetes label value."""
    return moment.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def public_ports(name: str) -> dict[str, int]:
    """A pair of ports of its own for each name, stable across runs, so an ephemeral stack's
    edge does not take dev's 80 and 443 on a shared host."""
    pair = int(hashlib.sha256(name.encode()).hexdigest(), 16) % PORT_PAIRS
    https = PORT_BASE + 2 * pair
    return {"http": https + 1, "https": https}


def derive(dev: StackConfig, name: str, ttl: dt.timedelta, now: dt.datetime) -> EphemeralStack:
    """The ephemeral stack `name` from the dev stack's config."""
    stack_name(name)
    secret = sorted(k for k in dev.secret_keys if k in dev.values)
    if secret:
        raise EphemeralError(
            f"Pulumi.{dev.stack}.yaml has secret values ({', '.join(secret)}), which are "
            "encrypted for that stack alone; ephemeral stacks are derived from plain config. "
            "Generated secrets need no config; for a supplied one, run `pulumi config set "
            f"--secret KEY VALUE --stack {stack_name(name)}` and `prodstack ephemeral up` again"
        )
    expires_at = (now + ttl).astimezone(dt.UTC).replace(microsecond=0)
    values: dict[str, Any] = {key: parse_config_text(text) for key, text in dev.values.items()}
    ours = {
        **OVERRIDES,
        "expiresAt": label_time(expires_at),
        "edge": {"publicPorts": public_ports(name)},
    }
    for key, override in ours.items():
        full = f"prodstack:{key}"
        current = values.get(full)
        if isinstance(override, dict) and isinstance(current, dict):
            values[full] = merged(current, override)
        else:
            values[full] = override
    return EphemeralStack(
        name=name,
        expires_at=expires_at,
        config={key: as_config_text(value) for key, value in sorted(values.items())},
    )
