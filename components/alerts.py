"""An alert rule as a typed value: each with a severity, a summary, a description and a
runbook under docs/runbooks/. Each component contributes the alerts on its workloads, which
select the job Prometheus scrapes them under (the workload's name); Monitoring adds its own
and renders them all (components/monitoring/rules.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Severity = Literal["critical", "warning", "none"]
_JOB = re.compile(r'\bjob="([^"]+)"')
DAY = 86400
# How long an outage alert waits: two scrape intervals, rendered from Monitoring's scrape
# interval (rules.render). One lost scrape (a slow reply, a blip) never pages; a real outage
# pages within about three intervals and Alertmanager's critical group_wait (the default
# 10 s interval: pending at the first evaluation after a failed scrape, firing 20 s later,
# 5 s in Alertmanager: well under a minute from the outage).
TWO_SCRAPES = "two-scrapes"


@dataclass(frozen=True)
class Alert:
    name: str
    expr: str
    for_: str
    severity: Severity
    service: str
    summary: str
    description: str
    runbook: str  # a file under docs/runbooks/
    # On Kubernetes objects (pods, deployments, jobs): only where there are any.
    kubernetes_only: bool = False

    @property
    def jobs(self) -> set[str]:
        """The jobs its expression selects."""
        return set(_JOB.findall(self.expr))

    def rule(self, runbook_base: str, scrape_interval_seconds: int) -> dict[str, object]:
        rule: dict[str, object] = {
            "alert": self.name,
            "expr": self.expr,
            "labels": {"severity": self.severity, "service": self.service},
            "annotations": {
                "summary": self.summary,
                "description": self.description,
                "runbook_url": f"{runbook_base.rstrip('/')}/{self.runbook}",
            },
        }
        if self.for_ == TWO_SCRAPES:
            rule["for"] = f"{2 * scrape_interval_seconds}s"
        elif self.for_ != "0m":
            rule["for"] = self.for_
        return rule
