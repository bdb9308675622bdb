"""The API's alerts (the seed plans' thresholds), selecting the job Prometheus scrapes it under (its workload's name)."""

from __future__ import annotations

from components.alerts import TWO_SCRAPES, Alert


def alerts(job: str) -> tuple[Alert, ...]:
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
        Alert(
            "ApiHighErrorRate",
            f'sum(rate(http_requests_total{{job="{job}",status=~"5.."}}[5m]))'
            f' / sum(rate(http_requests_total{{job="{job}"}}[5m])) > 0.05',
            "5m",
            "critical",
            "api",
            "More than 5% of API requests fail",
            "5xx ratio is {{ $value | humanizePercentage }} over 5 minutes.",
            "api.md",
        ),
        Alert(
            "ApiSlowResponses",
            f'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{{job="{job}"}}[5m]))) > 1',
            "5m",
            "warning",
            "api",
            "API p95 latency above 1 s",
            "p95 is {{ $value | humanizeDuration }} over 5 minutes.",
            "api.md",
        ),
    )
