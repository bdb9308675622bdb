"""Entry point the Pulumi CLI runs for `--policy-pack policies`: serve the pack."""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script from policies/; the rules import each other as the `policies` package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pulumi_policy import EnforcementLevel, PolicyPack

from policies.pack import PACK_NAME, policies

PolicyPack(name=PACK_NAME, enforcement_level=EnforcementLevel.ADVISORY, policies=policies())
