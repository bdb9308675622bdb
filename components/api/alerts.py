"""The API's alerts: down, and burning the error budget of its objectives (components/api/
slo.py), selecting the job Prometheus scrapes it under (its workload's name)."""

from __future__ import annotations

from components.alerts import TWO_SCRAPES, Alert
from components.api.settings import Slo
from components.api.slo import slo_alerts


def alerts(job: str, slo: Slo) -> tuple[Alert, ...]:
    return (
        Alert(
            "ApiDown",
            f'up{{job="{job}"}} == 0',
            TWO_SCRAPES,
            "critical",
            "api",
            "The API does not answer scrapes",
            "{{ $labels.instance }} has missed two scrapes in a row.",
            "api.md",
        ),
        *slo_alerts(job, slo.availability_percent, slo.latency_ms, slo.latency_percent),
    )
