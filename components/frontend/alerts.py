"""The frontend's alert, selecting the job Prometheus scrapes it under (its workload's name)."""

from __future__ import annotations

from components.alerts import Alert


def alerts(job: str) -> tuple[Alert, ...]:
    return (
        Alert(
            "FrontendDown",
            f'up{{job="{job}"}} == 0',
            "1m",
            "critical",
            "frontend",
            "The frontend does not answer scrapes",
            "{{ $labels.instance }} has been down for 1 minute.",
            "frontend.md",
        ),
    )
