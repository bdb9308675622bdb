"""Postgres's alerts, its backups' included, selecting the job Prometheus scrapes it under (its workload's name)."""

from __future__ import annotations

from components.alerts import DAY, TWO_SCRAPES, Alert


def alerts(job: str) -> tuple[Alert, ...]:
    return (
        Alert(
            "PostgresDown",
            f'pg_up == 0 or up{{job="{job}"}} == 0',
            TWO_SCRAPES,
            "critical",
            "postgres",
            "Postgres is down",
            "The exporter cannot reach Postgres, or is not scraped, two scrapes in a row.",
            "postgres.md",
        ),
        Alert(
            "PostgresTooManyConnections",
            "sum(pg_stat_activity_count) / max(pg_settings_max_connections) > 0.8",
            "5m",
            "warning",
            "postgres",
            "Postgres connections above 80% of max_connections",
            "{{ $value | humanizePercentage }} of the connections are in use.",
            "postgres.md",
        ),
        Alert(
            "PostgresBackupTooOld",
            f"time() - max(prodstack_backup_last_success_timestamp_seconds) > {26 * 3600}",
            "10m",
            "critical",
            "postgres",
            "No successful backup for 26 hours",
            "The newest backup is {{ $value | humanizeDuration }} old.",
            "postgres-backups.md",
        ),
        # The backup alerts above and below read the agent's metrics: with the agent gone,
        # or unable to read the repository, they have no input and could never fire. This
        # one fires on that absence (a new stack has its first backup within minutes: the
        # agent takes one at start).
        Alert(
            "PostgresBackupAgentDown",
            f'absent(prodstack_backup_last_success_timestamp_seconds{{job="{job}"}})',
            "15m",
            "critical",
            "postgres",
            "No backup state for 15 minutes: the backup agent is gone or cannot read the repository",
            "Backups, their age and the restore drill are unwatched: the backup agent serves no "
            "backup state (it is down, or the repository is unreachable or empty).",
            "postgres-backups.md",
        ),
        Alert(
            "PostgresWalArchivingFailing",
            "increase(prodstack_wal_archive_failed_total_count[15m]) > 0",
            "5m",
            "critical",
            "postgres",
            "WAL archiving is failing",
            "Segments failed to reach the backup repository in the last 15 minutes: "
            "point-in-time recovery is at risk.",
            "postgres-backups.md",
        ),
        Alert(
            "RestoreDrillNotSuccessful",
            "prodstack_restore_drill_success == 0"
            f" or time() - prodstack_restore_drill_last_run_timestamp_seconds > {35 * DAY}",
            "0m",
            "warning",
            "postgres",
            "The restore drill failed or did not run this month",
            "A backup that has not been restored is not known to restore.",
            "postgres-backups.md",
        ),
    )
