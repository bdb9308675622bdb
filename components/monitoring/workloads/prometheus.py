"""Prometheus: scrapes the stack's targets and evaluates components/monitoring/rules.py."""

from __future__ import annotations

from components.images import version_label
from components.monitoring import rules
from components.monitoring.args import NOBODY, PROMETHEUS, PROMETHEUS_PORT, MonitoringArgs
from components.monitoring.prometheus import PrometheusConfig
from components.platform.placement import ClusterApi
from components.workload import (
    CONFIG_DIR,
    ApiAccess,
    Checks,
    Container,
    File,
    Outbound,
    Peer,
    PersistentVolume,
    PlacedWorkload,
    Port,
    Probe,
    Resources,
    Target,
    Workload,
)

POD_DISCOVERY = ApiAccess(("",), ("pods", "services", "endpoints"))
# Node discovery and the kubelets' metrics have no namespace: the one cluster-wide grant.
KUBELET_ACCESS = (
    ApiAccess(("",), ("nodes",), ("list", "watch"), cluster=True),
    ApiAccess(("",), ("nodes/metrics",), ("get",), cluster=True),
)


def scrape_peers(targets: tuple[Target, ...]) -> tuple[Peer, ...]:
    """One connection per scraped workload, on exactly the ports scraped."""
    ports: dict[str, set[int]] = {}
    refs: dict[str, PlacedWorkload] = {}
    for t in targets:
        refs[t.job] = t.workload
        ports.setdefault(t.job, set()).add(t.workload.port(t.port_name))
    return tuple(Peer(refs[job], tuple(sorted(ports[job]))) for job in refs)


# The CA of the kubelets' serving certificates, when settings give one
# (monitoring.kubeletCaData).
KUBELET_CA = "kubelet-ca.crt"


def prometheus(
    args: MonitoringArgs,
    cluster: ClusterApi | None,
    scraped: tuple[Target, ...],
    alertmanager: PlacedWorkload,
    blackbox: PlacedWorkload,
    grafana: PlacedWorkload | None,
) -> Workload:
    s = args.settings
    itself = PlacedWorkload(PROMETHEUS, "localhost", {"web": PROMETHEUS_PORT})
    config = PrometheusConfig(
        discovers_pods=cluster is not None,
        namespace=args.namespace,
        targets=(*scraped, Target(itself, "web")),
        rule_files=(f"{CONFIG_DIR}/rules.yml",),
        alertmanager=alertmanager.address("web"),
        public_url=args.probe_url,
        blackbox=blackbox.address("web"),
        scrape_interval_seconds=s.scrape_interval_seconds,
        kubelet_metrics=s.kubelet_metrics if cluster is not None else "off",
        kubelet_ca_file=f"{CONFIG_DIR}/{KUBELET_CA}" if s.kubelet_ca_data else None,
    )
    # Where the platform has a cluster API, it discovers the stack's pods (and the kubelets)
    # from it.
    egress_ports: tuple[int, ...] = ()
    api_access: tuple[ApiAccess, ...] = ()
    if cluster is not None:
        egress_ports, api_access = cluster.ports, (POD_DISCOVERY,)
        if config.kubelet_metrics != "off":
            egress_ports = (*egress_ports, cluster.kubelet_port)
            api_access = (*api_access, *KUBELET_ACCESS)
    server = Container(
        name="prometheus",
        image=s.prometheus_image,
        resources=Resources(200, 512, 1000, 2048),
        checks=Checks.around(
            Probe.http(PROMETHEUS_PORT, "/-/ready"),
            startup_seconds=300,
            alive=Probe.http(PROMETHEUS_PORT, "/-/healthy"),
        ),
        args=(
            f"--config.file={CONFIG_DIR}/prometheus.yml",
            "--storage.tsdb.path=/prometheus",
            f"--storage.tsdb.retention.time={s.retention_days}d",
            f"--storage.tsdb.retention.size={s.retention_size_gib}GB",
            f"--web.listen-address=:{PROMETHEUS_PORT}",
        ),
        ports=(Port("web", PROMETHEUS_PORT),),
        config_files=(
            File("prometheus.yml", config.render()),
            File(
                "rules.yml",
                rules.render(
                    cluster is not None,
                    s.runbook_base_url,
                    config.jobs,
                    args.alerts,
                    s.scrape_interval_seconds,
                ),
            ),
            *((File(KUBELET_CA, s.kubelet_ca_data),) if s.kubelet_ca_data else ()),
        ),
        mounts=("data",),
        run_as_user=NOBODY,
    )
    return Workload(
        name=PROMETHEUS,
        singleton="one Prometheus server; a second would scrape and alert twice (HA needs Thanos or an agent pair)",
        component="monitoring",
        version=version_label(s.prometheus_image),
        main=server,
        volumes=(PersistentVolume("data", "/prometheus", s.storage_gib, protect=args.protect),),
        # What it scrapes, on the scraped ports only; alerts go to Alertmanager's web port,
        # probes through the blackbox exporter's.
        connects_to=scrape_peers((*scraped, Target(blackbox, "web"))),
        allowed_clients=(Peer(grafana, (PROMETHEUS_PORT,)),) if grafana else (),
        outbound=(Outbound(egress_ports),) if egress_ports else (),
        api_access=api_access,
    )
