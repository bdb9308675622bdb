"""What the Monitoring component's workloads are built from, and what they share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi

from components.alerts import Alert
from components.monitoring.settings import MonitoringSettings
from components.workload import PlacedWorkload, Target

NOBODY = 65534  # the user the prom/* images run as
PROMETHEUS = "prometheus"  # its workload's name; Grafana refers to it before it is placed
PROMETHEUS_PORT, ALERTMANAGER_PORT, BLACKBOX_PORT = 9090, 9093, 9115


@dataclass(frozen=True)
class MonitoringArgs:
    settings: MonitoringSettings
    namespace: str
    # What the other components expose to be scraped, and their alerts; Monitoring adds its
    # own workloads and alerts.
    targets: tuple[Target, ...]
    alerts: tuple[Alert, ...]
    probe_url: str
    # The edge: the prober reaches its pods (components/monitoring/workloads/blackbox.py), and
    # it publishes Grafana when settings say so.
    edge: PlacedWorkload
    # The CA and name to check the probed certificate against, for a self-signed edge.
    probe_ca_pem: pulumi.Input[str] | None
    probe_server_name: str
    receiver_secrets: Mapping[str, pulumi.Input[str]]
    grafana_admin_password: pulumi.Input[str]
    protect: bool
    # The public URL Grafana answers under when settings publish it through the edge.
    grafana_public_url: str = ""
