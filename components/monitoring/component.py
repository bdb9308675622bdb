"""prodstack:index:Monitoring — Prometheus, Alertmanager and a blackbox exporter.

Prometheus scrapes every workload of the stack (discovered on Kubernetes, by name on Docker),
evaluates the rules of components/monitoring/rules.py and sends alerts to Alertmanager, which
routes them to the receivers from settings. The blackbox exporter probes the public URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pulumi
import yaml

from components.images import version_label
from components.monitoring import rules
from components.monitoring.alertmanager import AlertmanagerConfig, Receiver
from components.monitoring.prometheus import PrometheusConfig, Target
from components.monitoring.settings import MonitoringSettings, ReceiverSettings
from components.platform.placement import ClusterApi, Placement
from components.workload import (
    CONFIG_DIR,
    KEEPS_IMAGE_USER,
    SECRETS_DIR,
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
    ScannerWaiver,
    Workload,
)

NOBODY = 65534  # the user the prom/* images run as
PROMETHEUS = "prometheus"  # its workload's name; Grafana refers to it before it is placed
PROMETHEUS_PORT, ALERTMANAGER_PORT, BLACKBOX_PORT = 9090, 9093, 9115
POD_DISCOVERY = ApiAccess(("",), ("pods", "services", "endpoints"))
# Node discovery and the kubelets' metrics have no namespace: the one cluster-wide grant.
KUBELET_ACCESS = (
    ApiAccess(("",), ("nodes",), ("list", "watch"), cluster=True),
    ApiAccess(("",), ("nodes/metrics",), ("get",), cluster=True),
)
NOTIFICATION_PORTS = (443, 587)


@dataclass(frozen=True)
class MonitoringArgs:
    settings: MonitoringSettings
    namespace: str
    # What the other components expose to be scraped; Monitoring adds its own workloads.
    targets: tuple[Target, ...]
    probe_url: str
    # The edge, when the prober reaches it inside the stack (Docker) rather than by its
    # public address.
    probe_edge: PlacedWorkload | None
    # The edge, which publishes Grafana when settings say so.
    edge: PlacedWorkload
    # The CA and name to check the probed certificate against, for a self-signed edge.
    probe_ca_pem: pulumi.Input[str] | None
    probe_server_name: str
    receiver_secrets: Mapping[str, pulumi.Input[str]]
    grafana_admin_password: pulumi.Input[str]
    protect: bool
    # The public URL Grafana answers under when settings publish it through the edge.
    grafana_public_url: str = ""


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


def scrape_peers(targets: tuple[Target, ...]) -> tuple[Peer, ...]:
    """One connection per scraped workload, on exactly the ports scraped."""
    ports: dict[str, set[int]] = {}
    refs: dict[str, PlacedWorkload] = {}
    for t in targets:
        refs[t.job] = t.workload
        ports.setdefault(t.job, set()).add(t.workload.port(t.port_name))
    return tuple(Peer(refs[job], tuple(sorted(ports[job]))) for job in refs)


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
        checks=Checks.around(Probe.http(PROMETHEUS_PORT, "/-/ready"), startup_seconds=300),
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
            File("rules.yml", rules.render(cluster is not None, s.runbook_base_url)),
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


def receiver(name: str, settings: ReceiverSettings) -> tuple[Receiver, tuple[str, ...]]:
    """The receiver, and the secret config key of its credential file (if any)."""
    secret = settings.secret_config
    return (
        Receiver(
            name=name,
            kind=settings.kind,
            secret_file=f"{SECRETS_DIR}/{name}-credential" if secret else None,
            url=settings.url,
            channel=settings.channel,
            to=settings.to,
            from_=settings.sender,
            smarthost=settings.smarthost,
            username=settings.username,
        ),
        (secret,) if secret else (),
    )


def alertmanager(args: MonitoringArgs) -> Workload:
    s = args.settings
    built = {n: receiver(n, getattr(s.receivers, n)) for n in ("paging", "chat", "heartbeat")}
    config = AlertmanagerConfig(
        paging=built["paging"][0], chat=built["chat"][0], heartbeat=built["heartbeat"][0]
    )
    credentials = tuple(
        File(f"{name}-credential", args.receiver_secrets[key])
        for name, (_, keys) in built.items()
        for key in keys
    )
    server = Container(
        name="alertmanager",
        image=s.alertmanager_image,
        resources=Resources(50, 64, 500, 256),
        checks=Checks.around(Probe.http(ALERTMANAGER_PORT, "/-/ready"), startup_seconds=60),
        args=(
            f"--config.file={CONFIG_DIR}/alertmanager.yml",
            "--storage.path=/alertmanager",
            f"--web.listen-address=:{ALERTMANAGER_PORT}",
            "--cluster.listen-address=",  # one instance: no gossip port
        ),
        ports=(Port("web", ALERTMANAGER_PORT),),
        config_files=(File("alertmanager.yml", config.render()),),
        secret_files=credentials,
        mounts=("data",),
        run_as_user=NOBODY,
    )
    return Workload(
        name="alertmanager",
        singleton="one Alertmanager; a cluster of them needs gossip peers, not yet configured",
        component="monitoring",
        version=version_label(s.alertmanager_image),
        main=server,
        volumes=(PersistentVolume("data", "/alertmanager", 1, protect=args.protect),),
        # Notifications leave the stack.
        outbound=(Outbound(NOTIFICATION_PORTS),),
    )


DASHBOARDS = Path(__file__).with_name("dashboards")
GRAFANA = "grafana"  # its workload's name; the edge routes to it before it is placed
GRAFANA_PORT = 3000
GRAFANA_UID = 472  # the grafana user of the official image


def grafana(args: MonitoringArgs, prometheus: PlacedWorkload) -> Workload:
    """Dashboards provisioned from components/monitoring/dashboards, Prometheus as the data
    source. Reached only inside the stack (not published)."""
    s = args.settings
    datasource = {
        "apiVersion": 1,
        "datasources": [
            {
                "name": "Prometheus",
                "uid": "prometheus",
                "type": "prometheus",
                "access": "proxy",
                "url": f"http://{prometheus.address('web')}",
                "isDefault": True,
                "editable": False,
            }
        ],
    }
    provider = {
        "apiVersion": 1,
        "providers": [
            {
                "name": "prodstack",
                "type": "file",
                "disableDeletion": True,
                "editable": False,
                "options": {"path": f"{CONFIG_DIR}/dashboards"},
            }
        ],
    }
    dashboards = tuple(
        File(path.name, path.read_text(), subdir="dashboards")
        for path in sorted(DASHBOARDS.glob("*.json"))
    )
    server = Container(
        name="grafana",
        image=s.grafana_image,
        resources=Resources(100, 128, 500, 512),
        checks=Checks.around(Probe.http(GRAFANA_PORT, "/api/health"), startup_seconds=120),
        env={
            "GF_PATHS_PROVISIONING": f"{CONFIG_DIR}/provisioning",
            "GF_PATHS_DATA": "/var/lib/grafana",
            "GF_SERVER_HTTP_PORT": str(GRAFANA_PORT),
            "GF_SECURITY_ADMIN_USER": "admin",
            # Grafana reads any setting from a file with the __FILE suffix.
            "GF_SECURITY_ADMIN_PASSWORD__FILE": f"{SECRETS_DIR}/grafana-admin-password",
            "GF_USERS_ALLOW_SIGN_UP": "false",
            "GF_AUTH_ANONYMOUS_ENABLED": "false",
            "GF_ANALYTICS_REPORTING_ENABLED": "false",
            "GF_ANALYTICS_CHECK_FOR_UPDATES": "false",
            **(
                {
                    "GF_SERVER_ROOT_URL": args.grafana_public_url,
                    "GF_SERVER_SERVE_FROM_SUB_PATH": "true",
                }
                if s.grafana_public
                else {}
            ),
        },
        ports=(Port("web", GRAFANA_PORT),),
        config_files=(
            File("prometheus.yaml", yaml.safe_dump(datasource), subdir="provisioning/datasources"),
            File("prodstack.yaml", yaml.safe_dump(provider), subdir="provisioning/dashboards"),
            *dashboards,
        ),
        secret_files=(File("grafana-admin-password", args.grafana_admin_password),),
        mounts=("data",),
        run_as_user=GRAFANA_UID,
    )
    return Workload(
        name=GRAFANA,
        scanner_waivers=(
            ScannerWaiver(
                KEEPS_IMAGE_USER, "the grafana user of the image owns the existing data volume"
            ),
        ),
        singleton="Grafana keeps its state in SQLite on one volume",
        component="monitoring",
        version=version_label(s.grafana_image),
        main=server,
        volumes=(PersistentVolume("data", "/var/lib/grafana", 1, protect=args.protect),),
        # Published through the edge, which was placed before it: it admits the edge.
        allowed_clients=(Peer(args.edge, (GRAFANA_PORT,)),) if s.grafana_public else (),
    )


# What kube-state-metrics reads, in the stack's namespace only (--namespaces), and the only
# collectors it runs (--resources): never Secrets, which would let its token read every
# credential of the stack.
KSM_ACCESS = (
    ApiAccess(("",), ("pods", "services", "persistentvolumeclaims", "configmaps")),
    ApiAccess(("apps",), ("deployments", "statefulsets", "replicasets")),
    ApiAccess(("batch",), ("jobs", "cronjobs")),
    ApiAccess(("autoscaling",), ("horizontalpodautoscalers",)),
    ApiAccess(("policy",), ("poddisruptionbudgets",)),
)
KSM_PORT = 8080


def kube_state_metrics(args: MonitoringArgs, cluster: ClusterApi) -> Workload:
    """Pod, deployment, autoscaler and job state as metrics, for the Kubernetes alerts."""
    s = args.settings
    # The image is distroless: nothing for Docker to run (KSM runs on Kubernetes only).
    ready = Probe.http(KSM_PORT, "/healthz", command=("/kube-state-metrics", "--version"))
    server = Container(
        name="kube-state-metrics",
        image=s.kube_state_metrics_image,
        resources=Resources(50, 64, 250, 256),
        checks=Checks.around(ready, startup_seconds=60),
        args=(
            f"--port={KSM_PORT}",
            "--telemetry-port=8081",
            f"--namespaces={args.namespace}",
            "--resources=" + ",".join(r for access in KSM_ACCESS for r in access.resources),
            "--metric-labels-allowlist=pods=[app.kubernetes.io/name]",
        ),
        ports=(Port("ksm-metrics", KSM_PORT),),
        run_as_user=NOBODY,
    )
    return Workload(
        name="kube-state-metrics",
        singleton="a second kube-state-metrics would export every series twice",
        component="monitoring",
        version=version_label(s.kube_state_metrics_image),
        main=server,
        outbound=(Outbound(cluster.ports),),
        api_access=KSM_ACCESS,
    )


def blackbox(args: MonitoringArgs) -> Workload:

    s = args.settings
    tls: dict[str, object] = {"server_name": args.probe_server_name}
    files = []
    if args.probe_ca_pem is not None:
        tls["ca_file"] = f"{CONFIG_DIR}/probe-ca.crt"
        files.append(File("probe-ca.crt", args.probe_ca_pem))
    modules = {
        "modules": {
            "https_2xx": {
                "prober": "http",
                "timeout": "5s",
                "http": {
                    "method": "GET",
                    "valid_status_codes": [200],
                    "fail_if_not_ssl": True,
                    # The edge serves its own name only: on Docker the probe connects to the
                    # edge inside the stack, but asks for the public name as a client would.
                    "headers": {"Host": args.probe_server_name},
                    "preferred_ip_protocol": "ip4",
                    "tls_config": tls,
                },
            }
        }
    }
    server = Container(
        name="blackbox",
        image=s.blackbox_image,
        resources=Resources(25, 32, 250, 128),
        checks=Checks.always(Probe.http(BLACKBOX_PORT, "/-/healthy")),
        args=(f"--config.file={CONFIG_DIR}/blackbox.yml",),
        ports=(Port("web", BLACKBOX_PORT),),
        config_files=(File("blackbox.yml", yaml.safe_dump(modules, sort_keys=False)), *files),
        run_as_user=NOBODY,
    )
    return Workload(
        name="blackbox",
        singleton="a second prober would report every probe twice; the target-down alert covers it",
        component="monitoring",
        version=version_label(s.blackbox_image),
        main=server,
        # It probes the public URL as a client would; on Docker, the edge inside the stack.
        connects_to=(Peer(args.probe_edge, (args.probe_edge.port("https"),)),)
        if args.probe_edge
        else (),
        outbound=(Outbound((443,)),),
    )
