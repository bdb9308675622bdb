"""The alert rules, as typed values: each with a severity, a summary, a description and a
runbook under docs/runbooks/. Rendered to a Prometheus rule file (rules.yml).

An alert selects its targets by job, and a job is the name of the workload scraped
(components/monitoring/prometheus.py's Target): rendering checks every job an alert selects
against the jobs Prometheus has, so a renamed workload fails the render instead of leaving an
alert that can never fire."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

import yaml

from components.config_values import ConfigValueError, checked_document

Severity = Literal["critical", "warning", "none"]
_JOB = re.compile(r'\bjob="([^"]+)"')
RUNBOOKS_DIR = "docs/runbooks"


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
    kubernetes_only: bool = False
    # The job of a workload the stack may leave out (the frontend): the alert is rendered
    # only where that job is scraped.
    only_with: str | None = None

    @property
    def jobs(self) -> set[str]:
        """The jobs its expression selects."""
        return set(_JOB.findall(self.expr))

    def rule(self, runbook_base: str) -> dict[str, object]:
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
        if self.for_ != "0m":
            rule["for"] = self.for_
        return rule


DAY = 86400
ALERTS: tuple[Alert, ...] = (
    # -- API (the seed plans' thresholds) ----------------------------------------------------
    Alert(
        "ApiDown",
        'up{job="api"} == 0',
        "1m",
        "critical",
        "api",
        "The API does not answer scrapes",
        "{{ $labels.instance }} has been down for 1 minute.",
        "api.md",
    ),
    Alert(
        "ApiHighErrorRate",
        'sum(rate(http_requests_total{job="api",status=~"5.."}[5m]))'
        ' / sum(rate(http_requests_total{job="api"}[5m])) > 0.05',
        "5m",
        "critical",
        "api",
        "More than 5% of API requests fail",
        "5xx ratio is {{ $value | humanizePercentage }} over 5 minutes.",
        "api.md",
    ),
    Alert(
        "ApiSlowResponses",
        'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{job="api"}[5m]))) > 1',
        "5m",
        "warning",
        "api",
        "API p95 latency above 1 s",
        "p95 is {{ $value | humanizeDuration }} over 5 minutes.",
        "api.md",
    ),
    # -- edge ---------------------------------------------------------------------------------
    Alert(
        "EdgeDown",
        'up{job="edge"} == 0',
        "1m",
        "critical",
        "edge",
        "The edge does not answer scrapes",
        "{{ $labels.instance }} has been down for 1 minute.",
        "edge.md",
    ),
    Alert(
        "TlsCertificateExpiringSoon",
        'probe_ssl_earliest_cert_expiry{job="blackbox"} - time() < 14 * 86400',
        "10m",
        "warning",
        "edge",
        "The public certificate expires in under 14 days",
        "{{ $labels.instance }} expires in {{ $value | humanizeDuration }}.",
        "edge.md",
    ),
    Alert(
        "PublicEndpointDown",
        'probe_success{job="blackbox"} == 0',
        "2m",
        "critical",
        "edge",
        "The public HTTPS endpoint fails its probe",
        "{{ $labels.instance }} has failed the blackbox probe for 2 minutes.",
        "edge.md",
    ),
    # -- frontend (when the stack has one) ----------------------------------------------------
    Alert(
        "FrontendDown",
        'up{job="frontend"} == 0',
        "1m",
        "critical",
        "frontend",
        "The frontend does not answer scrapes",
        "{{ $labels.instance }} has been down for 1 minute.",
        "frontend.md",
        only_with="frontend",
    ),
    # -- Postgres -----------------------------------------------------------------------------
    Alert(
        "PostgresDown",
        'pg_up == 0 or up{job="postgres"} == 0',
        "1m",
        "critical",
        "postgres",
        "Postgres is down",
        "The exporter cannot reach Postgres for 1 minute.",
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
    # -- Redis --------------------------------------------------------------------------------
    Alert(
        "RedisDown",
        'redis_up == 0 or up{job="redis"} == 0',
        "1m",
        "critical",
        "redis",
        "Redis is down",
        "The exporter cannot reach Redis for 1 minute.",
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
    # -- Kubernetes (kube-state-metrics) ------------------------------------------------------
    Alert(
        "KubePodCrashLooping",
        "increase(kube_pod_container_status_restarts_total[15m]) > 3",
        "5m",
        "critical",
        "kubernetes",
        "A container is crash-looping",
        "{{ $labels.pod }}/{{ $labels.container }} restarted more than 3 times in 15 minutes.",
        "kubernetes.md",
        kubernetes_only=True,
    ),
    Alert(
        "KubeContainerOOMKilled",
        'kube_pod_container_status_last_terminated_reason{reason="OOMKilled"} == 1',
        "0m",
        "warning",
        "kubernetes",
        "A container was killed for using too much memory",
        "{{ $labels.pod }}/{{ $labels.container }} was OOM-killed.",
        "kubernetes.md",
        kubernetes_only=True,
    ),
    Alert(
        "KubeHpaMaxedOut",
        "kube_horizontalpodautoscaler_status_current_replicas"
        " >= kube_horizontalpodautoscaler_spec_max_replicas",
        "15m",
        "warning",
        "kubernetes",
        "An autoscaler is at its maximum",
        "{{ $labels.horizontalpodautoscaler }} cannot scale further.",
        "kubernetes.md",
        kubernetes_only=True,
    ),
    Alert(
        "KubePersistentVolumeFillingUp",
        "predict_linear(kubelet_volume_stats_available_bytes[6h], 4 * 86400) < 0",
        "1h",
        "warning",
        "kubernetes",
        "A volume will fill within 4 days",
        "{{ $labels.persistentvolumeclaim }} is predicted to be full within 4 days.",
        "kubernetes.md",
        kubernetes_only=True,
    ),
    Alert(
        "KubeDeploymentReplicasMismatch",
        "kube_deployment_spec_replicas != kube_deployment_status_replicas_available",
        "15m",
        "warning",
        "kubernetes",
        "A deployment has fewer available replicas than wanted",
        "{{ $labels.deployment }} has not had its replicas available for 15 minutes.",
        "kubernetes.md",
        kubernetes_only=True,
    ),
    # -- the monitoring itself ----------------------------------------------------------------
    Alert(
        "TargetDown",
        "up == 0",
        "5m",
        "warning",
        "monitoring",
        "A scrape target is down",
        "{{ $labels.job }} at {{ $labels.instance }} has been down for 5 minutes.",
        "monitoring.md",
    ),
    Alert(
        "PrometheusRuleEvaluationFailures",
        "increase(prometheus_rule_evaluation_failures_total[5m]) > 0",
        "0m",
        "critical",
        "monitoring",
        "Prometheus fails to evaluate rules",
        "Alerts may not fire.",
        "monitoring.md",
    ),
    Alert(
        "AlertmanagerFailedToSendAlerts",
        "increase(alertmanager_notifications_failed_total[5m]) > 0",
        "5m",
        "warning",
        "monitoring",
        "Alertmanager fails to send notifications",
        "{{ $labels.integration }} failed {{ $value }} times in 5 minutes.",
        "monitoring.md",
    ),
    Alert(
        "Watchdog",
        "vector(1)",
        "0m",
        "none",
        "monitoring",
        "Always firing: proves the alerting pipeline works end to end",
        "The heartbeat receiver raises the alarm when this stops arriving.",
        "monitoring.md",
    ),
)


def alerts_for(kubernetes: bool) -> tuple[Alert, ...]:
    """Every alert, those on Kubernetes objects (pods, deployments, jobs) where there are any."""
    return tuple(a for a in ALERTS if kubernetes or not a.kubernetes_only)


def render(kubernetes: bool, runbook_base: str, jobs: Collection[str]) -> str:
    """The rule file for a stack whose Prometheus has these jobs."""
    alerts = [a for a in alerts_for(kubernetes) if a.only_with is None or a.only_with in jobs]
    for alert in alerts:
        missing = alert.jobs - set(jobs)
        if missing:
            raise ConfigValueError(
                f"rules.yml: alert {alert.name} selects job {', '.join(sorted(missing))}, which "
                f"Prometheus does not scrape (its jobs: {', '.join(sorted(jobs))})"
            )
    groups = [{"name": "prodstack", "rules": [a.rule(runbook_base) for a in alerts]}]
    return (
        "# Generated by prodstack (components/monitoring/rules.py); do not edit.\n"
        + yaml.safe_dump(
            checked_document({"groups": groups}, "rules.yml"), sort_keys=False, width=1000
        )
    )
