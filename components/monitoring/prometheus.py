"""prometheus.yml: what is scraped, how often, where alerts go.

On Docker the targets are the workloads' names on their networks; on Kubernetes they are
discovered from the stack's pods. Either way each target's `job` is its workload's name (api,
edge, postgres, redis), which is what the alert rules select on. On Kubernetes the kubelets are
scraped too (job `kubelet`), for the volume statistics of the stack's claims.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from components.config_values import checked_document
from components.workload import Target

POD_NAME_LABEL = "__meta_kubernetes_pod_label_app_kubernetes_io_name"
PORT_NAME = "__meta_kubernetes_pod_container_port_name"
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
# Of all a kubelet exports, only what the volume-filling alert needs.
KUBELET_METRICS = "kubelet_volume_stats_(available|capacity|used)_bytes"
# Of its cAdvisor's, what shows a container starved by its limits: CPU throttling, CPU and
# memory in use (the limits' consequences, which no other exporter sees).
CADVISOR_METRICS = (
    "container_cpu_cfs_(throttled_)?periods_total|container_cpu_usage_seconds_total"
    "|container_memory_working_set_bytes"
)


@dataclass(frozen=True)
class PrometheusConfig:
    # Finds the stack's pods from the cluster's API (Kubernetes), or scrapes each target
    # by its address.
    discovers_pods: bool
    namespace: str
    targets: tuple[Target, ...]
    rule_files: tuple[str, ...]
    alertmanager: str  # host:port
    public_url: str
    blackbox: str  # host:port of the blackbox exporter
    scrape_interval_seconds: int = 15
    kubelet_metrics: str = "off"  # verify, skip-verify or off (settings: monitoring)
    # With verify: the file of the CA that signs the kubelets' certificates (monitoring.
    # kubeletCaData), else the cluster CA of the service account.
    kubelet_ca_file: str | None = None

    def static_jobs(self) -> list[dict[str, object]]:
        jobs: dict[tuple[str, str], list[str]] = {}
        for target in self.targets:
            jobs.setdefault((target.job, target.path), []).append(target.address)
        return [
            {
                "job_name": job if path == "/metrics" else f"{job}{path.replace('/', '-')}",
                "metrics_path": path,
                "static_configs": [{"targets": sorted(addresses), "labels": {"job": job}}],
            }
            for (job, path), addresses in sorted(jobs.items())
        ]

    def discovered_jobs(self) -> list[dict[str, object]]:
        kubelets = [
            self.kubelet_job("kubelet", "/metrics", KUBELET_METRICS),
            self.kubelet_job("cadvisor", "/metrics/cadvisor", CADVISOR_METRICS),
        ]
        return [self.pods_job(), *(kubelets if self.kubelet_metrics != "off" else [])]

    def kubelet_job(self, job: str, path: str, metrics: str) -> dict[str, object]:
        """What the kubelets serve at `path` (their volume statistics; their cAdvisor's
        container statistics), `metrics` of it, for this stack's namespace only: the nodes
        are shared with other tenants, whose workloads are none of this stack's business."""
        tls: dict[str, object] = (
            {"ca_file": self.kubelet_ca_file or f"{SERVICE_ACCOUNT_DIR}/ca.crt"}
            if self.kubelet_metrics == "verify"
            else {"insecure_skip_verify": True}
        )
        return {
            "job_name": job,
            "metrics_path": path,
            "scheme": "https",
            "authorization": {"credentials_file": f"{SERVICE_ACCOUNT_DIR}/token"},
            "tls_config": tls,
            "kubernetes_sd_configs": [{"role": "node"}],
            "relabel_configs": [
                {"source_labels": ["__meta_kubernetes_node_name"], "target_label": "node"}
            ],
            "metric_relabel_configs": [
                {"source_labels": ["__name__"], "regex": metrics, "action": "keep"},
                {"source_labels": ["namespace"], "regex": self.namespace, "action": "keep"},
            ],
        }

    def pods_job(self) -> dict[str, object]:
        # Each workload's own metrics ports, as pairs: a union of port names would also keep
        # another workload's port of the same name (the edge's plain `http`).
        pairs = "|".join(sorted({f"{t.job};{t.port_name}" for t in self.targets}))
        return {
            "job_name": "pods",
            "kubernetes_sd_configs": [{"role": "pod", "namespaces": {"names": [self.namespace]}}],
            "relabel_configs": [
                {
                    "source_labels": ["__meta_kubernetes_pod_label_app_kubernetes_io_part_of"],
                    "regex": "prodstack",
                    "action": "keep",
                },
                {
                    "source_labels": [POD_NAME_LABEL, PORT_NAME],
                    "separator": ";",
                    "regex": f"({pairs})",
                    "action": "keep",
                },
                {"source_labels": [POD_NAME_LABEL], "target_label": "job"},
                {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
                {"source_labels": [PORT_NAME], "target_label": "port"},
            ],
        }

    @property
    def jobs(self) -> frozenset[str]:
        """The `job` label of every series it scrapes: each target's workload, the probes,
        and the kubelets where it reads them."""
        on = self.discovers_pods and self.kubelet_metrics != "off"
        kubelets = {"kubelet", "cadvisor"} if on else set()
        return frozenset({t.job for t in self.targets} | {"blackbox"} | kubelets)

    def document(self) -> dict[str, object]:
        interval = f"{self.scrape_interval_seconds}s"
        jobs = self.discovered_jobs() if self.discovers_pods else self.static_jobs()
        jobs.append(
            {
                "job_name": "blackbox",
                "metrics_path": "/probe",
                "params": {"module": ["https_2xx"]},
                "static_configs": [{"targets": [self.public_url]}],
                "relabel_configs": [
                    {"source_labels": ["__address__"], "target_label": "__param_target"},
                    {"source_labels": ["__param_target"], "target_label": "instance"},
                    {"target_label": "__address__", "replacement": self.blackbox},
                ],
            }
        )
        return {
            "global": {
                "scrape_interval": interval,
                "evaluation_interval": interval,
                "external_labels": {"stack": self.namespace},
            },
            "rule_files": list(self.rule_files),
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": [self.alertmanager]}]}]},
            "scrape_configs": jobs,
        }

    def render(self) -> str:
        return "# Generated by prodstack (components/monitoring/prometheus.py); do not edit.\n" + (
            yaml.safe_dump(checked_document(self.document(), "prometheus.yml"), sort_keys=False)
        )
