"""Request count and duration histogram in the Prometheus text format (version 0.0.4)."""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
Labels = tuple[str, str, str]  # method, route, status


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class RequestMetrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[Labels, int] = defaultdict(int)
        self._sums: dict[Labels, float] = defaultdict(float)
        self._buckets: dict[Labels, list[int]] = defaultdict(lambda: [0] * len(BUCKETS))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        labels = (method, route, str(status))
        with self._lock:
            self._counts[labels] += 1
            self._sums[labels] += seconds
            index = bisect.bisect_left(BUCKETS, seconds)
            buckets = self._buckets[labels]
            for i in range(index, len(BUCKETS)):
                buckets[i] += 1

    def render(self) -> str:
        lines = [
            "# HELP http_requests_total HTTP requests handled, by method, route and status.",
            "# TYPE http_requests_total counter",
        ]
        with self._lock:
            items = sorted(self._counts.items())
            for (method, route, status), count in items:
                lines.append(
                    f"http_requests_total{{{self._labels(method, route, status)}}} {count}"
                )
            lines += [
                "# HELP http_request_duration_seconds HTTP request duration in seconds.",
                "# TYPE http_request_duration_seconds histogram",
            ]
            for (method, route, status), count in items:
                base = self._labels(method, route, status)
                for bound, cumulative in zip(
                    BUCKETS, self._buckets[(method, route, status)], strict=True
                ):
                    lines.append(
                        f'http_request_duration_seconds_bucket{{{base},le="{bound}"}} {cumulative}'
                    )
                lines.append(f'http_request_duration_seconds_bucket{{{base},le="+Inf"}} {count}')
                lines.append(
                    f"http_request_duration_seconds_sum{{{base}}} {self._sums[(method, route, status)]}"
                )
                lines.append(f"http_request_duration_seconds_count{{{base}}} {count}")
        return "\n".join(lines) + "\n"

    @staticmethod
    def _labels(method: str, route: str, status: str) -> str:
        return f'method="{_escape(method)}",route="{_escape(route)}",status="{_escape(status)}"'
