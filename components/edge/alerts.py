"""The edge's alerts (its public endpoint's are the prober's: components/monitoring/rules.py), selecting the job Prometheus scrapes it under (its workload's name)."""

from __future__ import annotations

from components.alerts import TWO_SCRAPES, Alert


def alerts(job: str) -> tuple[Alert, ...]:
    return (
        Alert(
            "EdgeDown",
            f'up{{job="{job}"}} == 0',
            TWO_SCRAPES,
            "critical",
            "edge",
            "The edge does not answer scrapes",
            "{{ $labels.instance }} has missed two scrapes in a row.",
            "edge.md",
        ),
    )
