"""prodstack:index:Api — the web API, described once as a workload and placed by the platform."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pulumi

from components.alerts import Alert
from components.api.alerts import alerts
from components.api.config import CONFIG_FILE, ApiConfig, dependency_config
from components.api.settings import ApiSettings
from components.connections import ServiceConnection
from components.images import image_for, version_label
from components.platform.placement import Placement
from components.settings import workload_resources, workload_scaling
from components.workload import (
    CONFIG_DIR,
    SECRETS_DIR,
    Checks,
    Container,
    File,
    PlacedWorkload,
    Port,
    Probe,
    ReleaseTask,
    Target,
    TlsFiles,
    Workload,
)

PORT_NAME = "http"


@dataclass(frozen=True)
class ApiArgs:
    settings: ApiSettings
    secret_files: tuple[File, ...]
    connections: tuple[ServiceConnection, ...] = ()
    # What the migration (settings.migration) waits for: the data stores it migrates.
    migrate_after: tuple[pulumi.Resource, ...] = ()
    # The CA to verify data stores that speak TLS (components/tls).
    tls: TlsFiles | None = None


class Api(pulumi.ComponentResource):
    """The API workload: image, config file, secret files, checks and scaling. `endpoint`
    is what the edge proxies to, `scrape_targets` what Prometheus scrapes."""

    url: pulumi.Output[str]
    image: pulumi.Output[str]
    endpoint: PlacedWorkload
    scrape_targets: tuple[Target, ...]
    alerts: tuple[Alert, ...]

    def __init__(
        self,
        name: str,
        args: ApiArgs,
        placement: Placement,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("prodstack:index:Api", name, None, opts)
        settings = args.settings
        image = image_for(settings.image, "api", parent=self, base=settings.build_base)
        workload = api_workload(name, args, image, version_label(settings.image))
        placed = placement.place(workload, parent=self, after=args.migrate_after)
        self.image = image
        self.endpoint = placed
        self.scrape_targets = (Target(placed, PORT_NAME, settings.metrics_path),)
        # Its alerts select the job it is scraped under: its workload's name.
        self.alerts = alerts(placed.name, args.settings.slo)
        self.url = pulumi.Output.from_input(f"http://{placed.address(PORT_NAME)}")

        self.register_outputs({"url": self.url, "image": self.image})


def api_workload(name: str, args: ApiArgs, image: pulumi.Input[str], version: str) -> Workload:
    settings = args.settings
    tls = args.tls
    config = ApiConfig(
        port=settings.port,
        liveness_path=settings.liveness_path,
        readiness_path=settings.readiness_path,
        metrics_path=settings.metrics_path,
        secrets_dir=SECRETS_DIR,
        dependencies=tuple(
            dependency_config(c, args.tls.ca_file if args.tls else None) for c in args.connections
        ),
    )

    def check(path: str, period: int, failures: int) -> Probe:
        return Probe(
            command=(*settings.health_command, f"http://127.0.0.1:{settings.port}{path}"),
            http_path=path,
            port=settings.port,
            period_seconds=period,
            failure_threshold=failures,
        )

    container = Container(
        name="api",
        image=image,
        resources=workload_resources(settings.resources),
        checks=Checks(
            # Up to 60 s to start; then out of rotation after 15 s unready, restarted after 30 s.
            startup=check(settings.liveness_path, period=2, failures=30),
            readiness=check(settings.readiness_path, period=5, failures=3),
            liveness=check(settings.liveness_path, period=10, failures=3),
        ),
        env={**settings.env, "PRODSTACK_CONFIG": f"{CONFIG_DIR}/{CONFIG_FILE}"},
        ports=(Port(PORT_NAME, settings.port),),
        config_files=(File(CONFIG_FILE, config.render()),),
        secret_files=(*args.secret_files, *(f for c in args.connections for f in c.secret_files)),
        tls=tls,
    )
    migration = settings.migration
    return Workload(
        name=name,
        component="api",
        # The migration runs the API's own image with the API's files and network access.
        release_task=None
        if migration is None
        else ReleaseTask(
            name="migrate",
            container=replace(
                container,
                name="migrate",
                command=tuple(migration.command),
                args=(),
                ports=(),
            ),
            deadline_seconds=migration.timeout_seconds,
        ),
        version=version,
        main=container,
        scaling=workload_scaling(settings.replicas, settings.autoscaling),
        connects_to=tuple(c.peer for c in args.connections),
        pre_stop_seconds=settings.pre_stop_seconds,
        shutdown_grace_seconds=settings.shutdown_grace_seconds,
    )
