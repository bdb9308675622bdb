"""The API's service level objectives as alerts: multi-window, multi-burn-rate alerts on its
error budget, as the Google SRE workbook ("Alerting on SLOs", its table 5-8) sets them for a
30-day objective.

A burn rate is how fast the budget goes: 1 spends it in exactly the 30 days, 14.4 spends 2 %
of it in an hour. Each alert needs its rate over a long window (enough budget spent to
matter) and a short one (it is still burning: the alert resolves minutes after the fix, not
hours). Fast burns page; slow ones are warnings, read during working hours.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from components.alerts import Alert, Severity


@dataclass(frozen=True)
class Burn:
    long: str
    short: str
    rate: float


# (severity, the windows that alert at it), the workbook's recommendation.
BURNS: tuple[tuple[Severity, tuple[Burn, ...]], ...] = (
    # 2 % of the budget in an hour, or 5 % in six: pages.
    ("critical", (Burn("1h", "5m", 14.4), Burn("6h", "30m", 6))),
    # 10 % in a day, or in three: a warning.
    ("warning", (Burn("1d", "2h", 3), Burn("3d", "6h", 1))),
)


def bucket_bound(seconds: float) -> str:
    """A regex for the `le` label of a histogram bucket at `seconds`, as any client writes
    it (Go: 0.5 and 1; Python: 0.5 and 1.0)."""
    short = f"{seconds:g}"
    written = [short] if "." in short else [short, f"{short}.0"]
    return "|".join(re.escape(bound) for bound in written)


def promql_string(text: str) -> str:
    """`text` as the body of a double-quoted PromQL string (its escapes are Go's)."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def error_ratio(job: str, window: str) -> str:
    return (
        f'sum(rate(http_requests_total{{job="{job}",status=~"5.."}}[{window}]))'
        f' / sum(rate(http_requests_total{{job="{job}"}}[{window}]))'
    )


def slow_ratio(job: str, seconds: float, window: str) -> str:
    """The share of requests slower than `seconds`: all of them but those in its bucket."""
    bound = promql_string(bucket_bound(seconds))
    bucket = f'http_request_duration_seconds_bucket{{job="{job}",le=~"{bound}"}}'
    return (
        f"1 - sum(rate({bucket}[{window}]))"
        f' / sum(rate(http_request_duration_seconds_count{{job="{job}"}}[{window}]))'
    )


def burning(ratio: Callable[[str], str], budget: float, burns: tuple[Burn, ...]) -> str:
    """The ratio (over a window) above each burn's rate over both its windows."""
    return " or ".join(
        f"(({ratio(b.long)}) > {b.rate * budget:.6g} and ({ratio(b.short)}) > {b.rate * budget:.6g})"
        for b in burns
    )


def slo_alerts(
    job: str, availability_percent: float, latency_ms: int, latency_percent: float
) -> tuple[Alert, ...]:
    """Availability: the share of requests answered without a 5xx. Latency: the share
    answered within `latency_ms`. Each with its page and its warning."""
    seconds = latency_ms / 1000
    objectives = (
        (
            "ApiErrorBudgetBurn",
            partial(error_ratio, job),
            1 - availability_percent / 100,
            f"{availability_percent:g} % of requests answered without a 5xx",
        ),
        (
            "ApiLatencyBudgetBurn",
            partial(slow_ratio, job, seconds),
            1 - latency_percent / 100,
            f"{latency_percent:g} % of requests answered within {latency_ms} ms",
        ),
    )
    alerts = []
    for name, ratio, budget, objective in objectives:
        for severity, burns in BURNS:
            fast = severity == "critical"
            windows = " or ".join(f"{b.rate:g}x over {b.long} and {b.short}" for b in burns)
            alerts.append(
                Alert(
                    name if fast else f"{name}Slow",
                    burning(ratio, budget, burns),
                    # The short window already holds the burn for minutes: no extra wait.
                    "2m" if fast else "15m",
                    severity,
                    "api",
                    f"The API spends its error budget {'fast' if fast else 'steadily'} "
                    f"(objective: {objective})",
                    f"Burning at {windows}: at this rate the 30-day budget of "
                    f"{budget * 100:g} % of requests goes in "
                    f"{'under 3 days' if fast else 'under 10 days'}.",
                    "api.md",
                )
            )
    return tuple(alerts)
