"""The rule file (rules.yml): the alerts the components contribute on their workloads, and
Monitoring's own (the public endpoint's probe, the cluster's objects, the monitoring itself).

An alert selects its targets by job, and a job is the name of the workload scraped
(components/workload.py's Target): rendering checks every job an alert selects against the
jobs Prometheus has, so a renamed workload fails the render instead of leaving an alert that
can never fire."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import yaml

from components.alerts import Alert
from components.config_values import ConfigValueError, checked_document

RUNBOOKS_DIR = "docs/runbooks"
# Monitoring's own alerts.
OWN: tuple[Alert, ...] = (
    # -- the public endpoint, as the blackbox exporter probes it ----------------------------
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
    # Three failed probes (one per scrape interval): a probe crosses the network and the
    # edge, so it may fail once on its own; three in a row is an outage.
    Alert(
        "PublicEndpointDown",
        'probe_success{job="blackbox"} == 0',
        "30s",
        "critical",
        "edge",
        "The public HTTPS endpoint fails its probe",
        "{{ $labels.instance }} has failed the blackbox probe for 30 seconds.",
        "edge.md",
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
        "KubeContainerCpuThrottled",
        "sum by (namespace, pod, container) "
        '(rate(container_cpu_cfs_throttled_periods_total{container!=""}[5m]))'
        " / sum by (namespace, pod, container) "
        '(rate(container_cpu_cfs_periods_total{container!=""}[5m])) > 0.25',
        "15m",
        "warning",
        "kubernetes",
        "A container is held back by its CPU limit",
        "{{ $labels.pod }}/{{ $labels.container }} was throttled in more than a quarter of its "
        "CPU periods for 15 minutes.",
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


def alerts_for(kubernetes: bool, contributed: Sequence[Alert]) -> tuple[Alert, ...]:
    """The components' alerts and Monitoring's own, those on Kubernetes objects (pods,
    deployments, jobs) where there are any."""
    return tuple(a for a in (*contributed, *OWN) if kubernetes or not a.kubernetes_only)


def render(
    kubernetes: bool,
    runbook_base: str,
    jobs: Collection[str],
    contributed: Sequence[Alert],
    scrape_interval_seconds: int,
) -> str:
    """The rule file for a stack whose Prometheus has these jobs and scrapes at this interval
    (outage alerts wait two of them: components/alerts.py, TWO_SCRAPES)."""
    alerts = alerts_for(kubernetes, contributed)
    for alert in alerts:
        missing = alert.jobs - set(jobs)
        if missing:
            raise ConfigValueError(
                f"rules.yml: alert {alert.name} selects job {', '.join(sorted(missing))}, which "
                f"Prometheus does not scrape (its jobs: {', '.join(sorted(jobs))})"
            )
    groups = [
        {
            "name": "prodstack",
            "rules": [a.rule(runbook_base, scrape_interval_seconds) for a in alerts],
        }
    ]
    return (
        "# Generated by prodstack (components/monitoring/rules.py); do not edit.\n"
        + yaml.safe_dump(
            checked_document({"groups": groups}, "rules.yml"), sort_keys=False, width=1000
        )
    )
