"""What a check reports, for the policy pack's offline evaluation and `prodstack check`
alike: findings at a level, grouped in sections."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Level(StrEnum):
    ERROR = "error"  # invalid settings, a manifest the API server would refuse, a leak
    WARNING = "warning"
    MANDATORY = "mandatory"  # a policy violation that stops `pulumi up`
    ADVISORY = "advisory"  # a policy violation that is reported
    WAIVED = "waived"  # a rule a workload waived, with its reason
    NOT_RUN = "not run"  # a rule that needs values the preview does not know yet


FAILING = frozenset({Level.ERROR, Level.MANDATORY})


@dataclass(frozen=True)
class Finding:
    check: str  # the checker's name, or the policy rule's id
    level: Level
    subject: str  # a resource's display name, a file, "stack" or "config"
    message: str


@dataclass
class Section:
    name: str
    summary: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(f.level in FAILING for f in self.findings)
