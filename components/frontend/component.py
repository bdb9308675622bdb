"""prodstack:index:Frontend — the single-page app's files, served by nginx behind the edge.

Not public: the edge proxies every path that is not the API's to it (components/edge) and adds
TLS, the security headers and the rate limits. This server sets the cache lifetimes
(components/frontend/nginx.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.alerts import Alert
from components.exporters import NGINX_STATUS, after_stale_socket, nginx_exporter
from components.frontend.alerts import alerts
from components.frontend.nginx import PORT, STATUS_PORT, FrontendConfig
from components.frontend.settings import FrontendSettings
from components.images import image_for, version_label
from components.nginx_config import worker_processes
from components.platform.placement import Placement
from components.settings import workload_resources, workload_scaling
from components.workload import (
    CONFIG_DIR,
    Checks,
    Container,
    File,
    PlacedWorkload,
    Port,
    Probe,
    Target,
    Workload,
)

NAME = "frontend"
PORT_NAME = "http"
CONFIG_FILE = "frontend.conf"
# Any user runs it (nginx writes only to /tmp, the files are world-readable): one above
# 10000 that no host account shares, as for the edge.
NGINX_UID = 10103
EXPORTER_UID = 10104


@dataclass(frozen=True)
class FrontendArgs:
    settings: FrontendSettings
    # The nginx exporter the edge runs too (edge.exporterImage).
    exporter_image: str


class Frontend(pulumi.ComponentResource):
    """The frontend workload; `endpoint` is what the edge proxies to."""

    image: pulumi.Output[str]
    endpoint: PlacedWorkload
    scrape_targets: tuple[Target, ...]
    alerts: tuple[Alert, ...]

    def __init__(
        self,
        name: str,
        args: FrontendArgs,
        placement: Placement,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("prodstack:index:Frontend", name, None, opts)
        settings = args.settings
        if settings.image is None:  # the settings loader refuses this first, naming the key
            raise ValueError("the frontend needs an image")
        self.image = image_for(settings.image, "frontend", parent=self, base=settings.build_base)
        workload = frontend_workload(args, self.image, version_label(settings.image))
        self.endpoint = placement.place(workload, parent=self)
        self.scrape_targets = (Target(self.endpoint, "frontend-metrics"),)
        # Its alerts select the job it is scraped under: its workload's name.
        self.alerts = alerts(self.endpoint.name)
        self.register_outputs({"image": self.image})


def frontend_config(settings: FrontendSettings) -> FrontendConfig:
    return FrontendConfig(
        worker_processes=worker_processes(workload_resources(settings.resources)),
        root=settings.root,
        entry_max_age_seconds=settings.cache.entry_max_age_seconds,
        immutable_paths=tuple(settings.cache.immutable_paths),
    )


def frontend_workload(args: FrontendArgs, image: pulumi.Input[str], version: str) -> Workload:
    settings = args.settings
    healthy = Probe.loopback_http(STATUS_PORT, "/healthz", period_seconds=5)
    server = Container(
        name=NAME,
        image=image,
        resources=workload_resources(settings.resources),
        checks=Checks.around(healthy, startup_seconds=30, startup_period=1, liveness_period=10),
        # The image's own nginx, with this configuration instead of its own.
        command=after_stale_socket(("nginx", "-c", f"{CONFIG_DIR}/{CONFIG_FILE}")),
        ports=(Port(PORT_NAME, PORT),),
        config_files=(File(CONFIG_FILE, frontend_config(settings).render()),),
        mounts=(NGINX_STATUS.name,),
        run_as_user=NGINX_UID,
    )
    exporter = nginx_exporter(args.exporter_image, "frontend-metrics", EXPORTER_UID)
    return Workload(
        name=NAME,
        component="frontend",
        version=version,
        main=server,
        sidecars=(exporter,),
        scratch=(NGINX_STATUS,),
        scaling=workload_scaling(settings.replicas, settings.autoscaling),
        # The edge declares the connection in its `connects_to`: it is placed after this.
        pre_stop_seconds=5,
        shutdown_grace_seconds=15,
    )
