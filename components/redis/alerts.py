"""Redis's alerts, selecting the job Prometheus scrapes it under (its workload's name)."""

from __future__ import annotations

from components.alerts import TWO_SCRAPES, Alert


def alerts(job: str) -> tuple[Alert, ...]:
    return (
        Alert(
            "RedisDown",
            f'redis_up == 0 or up{{job="{job}"}} == 0',
            TWO_SCRAPES,
            "critical",
            "redis",
            "Redis is down",
            "The exporter cannot reach Redis, or is not scraped, two scrapes in a row.",
            "redis.md",
        ),
        Alert(
            "RedisMemoryHigh",
            "redis_memory_used_bytes / redis_memory_max_bytes > 0.9",
            "5m",
            "warning",
            "redis",
            "Redis memory above 90% of maxmemory",
            "{{ $value | humanizePercentage }} of maxmemory is used.",
            "redis.md",
        ),
        Alert(
            "RedisRejectedConnections",
            "increase(redis_rejected_connections_total[5m]) > 0",
            "0m",
            "warning",
            "redis",
            "Redis rejects connections",
            "{{ $value }} connections were rejected in 5 minutes (maxclients).",
            "redis.md",
        ),
    )
