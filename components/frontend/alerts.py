"""The frontend's alert, selecting the job Prometheus scrapes it under (its workload's name)."""

from __future__ import annotations

from components.alerts import TWO_SCRAPES, Alert


def alerts(job: str) -> tuple[Alert, ...]:
    return (
        Alert(
            "FrontendDown",
            f'up{{job="{job}"}} == 0',
            TWO_SCRAPES,
            "critical",
            "frontend",
            "The frontend does not answer scrapes",
            "{{ $labels.instance }} has missed two scrapes in a row.",
            "frontend.md",
        ),
    )
