"""Grafana: the dashboards of components/monitoring/dashboards, on Prometheus."""

from __future__ import annotations

from pathlib import Path

from components.images import version_label
from components.monitoring.args import MonitoringArgs
from components.monitoring.grafana import GrafanaProvisioning
from components.workload import (
    CONFIG_DIR,
    KEEPS_IMAGE_USER,
    SECRETS_DIR,
    Checks,
    Container,
    File,
    Peer,
    PersistentVolume,
    PlacedWorkload,
    Port,
    Probe,
    Resources,
    ScannerWaiver,
    Workload,
)

DASHBOARDS = Path(__file__).parents[1] / "dashboards"
GRAFANA = "grafana"  # its workload's name; the edge routes to it before it is placed
GRAFANA_PORT = 3000
GRAFANA_UID = 472  # the grafana user of the official image


def grafana(args: MonitoringArgs, prometheus: PlacedWorkload) -> Workload:
    """Dashboards provisioned from components/monitoring/dashboards, Prometheus as the data
    source. Reached only inside the stack (not published)."""
    s = args.settings
    provisioning = GrafanaProvisioning(
        prometheus_url=f"http://{prometheus.address('web')}",
        dashboards_path=f"{CONFIG_DIR}/dashboards",
    )
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
            File(
                "prometheus.yaml",
                provisioning.render_datasource(),
                subdir="provisioning/datasources",
            ),
            File(
                "prodstack.yaml",
                provisioning.render_dashboards(),
                subdir="provisioning/dashboards",
            ),
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
