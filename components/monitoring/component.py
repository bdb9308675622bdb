"""prodstack:index:Monitoring — Prometheus, Alertmanager and a blackbox exporter (and
Grafana, and kube-state-metrics where there is a cluster API).

Prometheus scrapes every workload of the stack (discovered on Kubernetes, by name on Docker),
evaluates the rules of components/monitoring/rules.py and sends alerts to Alertmanager, which
routes them to the receivers from settings. The blackbox exporter probes the public URL. Each
workload is built in its own module under components/monitoring/workloads.
"""

from __future__ import annotations

import pulumi

from components.monitoring.args import PROMETHEUS, PROMETHEUS_PORT, MonitoringArgs
from components.monitoring.workloads.alertmanager import alertmanager
from components.monitoring.workloads.blackbox import blackbox
from components.monitoring.workloads.grafana import GRAFANA, GRAFANA_PORT, grafana
from components.monitoring.workloads.kube_state_metrics import kube_state_metrics
from components.monitoring.workloads.prometheus import prometheus
from components.platform.placement import Placement
from components.workload import Target

__all__ = ["GRAFANA", "GRAFANA_PORT", "Monitoring", "MonitoringArgs"]


class Monitoring(pulumi.ComponentResource):
    prometheus_url: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: MonitoringArgs,
        placement: Placement,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("prodstack:index:Monitoring", name, None, opts)
        # Prometheus last: it scrapes the others, and admits Grafana's queries.
        alertmanager_ref = placement.place(alertmanager(args), parent=self)
        blackbox_ref = placement.place(blackbox(args), parent=self)
        own = [Target(alertmanager_ref, "web")]
        grafana_ref = None
        if args.settings.grafana:
            prometheus_ref = placement.reference(PROMETHEUS, {"web": PROMETHEUS_PORT})
            grafana_ref = placement.place(grafana(args, prometheus_ref), parent=self)
            own.append(Target(grafana_ref, "web"))
        cluster = placement.cluster_api
        if cluster is not None:  # state of what the cluster runs, for its alerts
            ksm_ref = placement.place(kube_state_metrics(args, cluster), parent=self)
            own.append(Target(ksm_ref, "ksm-metrics"))
        placed = placement.place(
            prometheus(
                args,
                cluster,
                scraped=(*args.targets, *own),
                alertmanager=alertmanager_ref,
                blackbox=blackbox_ref,
                grafana=grafana_ref,
            ),
            parent=self,
        )
        self.prometheus_url = pulumi.Output.from_input(f"http://{placed.address('web')}")
        self.register_outputs({"prometheusUrl": self.prometheus_url})
