"""The composition root: which components make up a stack and how they are wired together."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import pulumi

from components.alerts import Alert
from components.api import Api, ApiArgs
from components.api.component import PORT_NAME as API_PORT_NAME
from components.edge.component import Edge, EdgeArgs, FrontendUpstream
from components.edge.nginx import Route
from components.frontend.component import PORT_NAME as FRONTEND_PORT_NAME
from components.frontend.component import Frontend, FrontendArgs
from components.frontend.nginx import HASHED_NAME
from components.monitoring.component import GRAFANA, GRAFANA_PORT, Monitoring, MonitoringArgs
from components.platform.placement import Placement
from components.postgres.component import Postgres, PostgresArgs
from components.redis.component import Redis, RedisArgs
from components.secrets import Secrets, SecretsArgs
from components.workload import Target
from infra.settings import StackSettings


class Observed(Protocol):
    """A component as Monitoring sees it: where it is scraped, and its alerts."""

    scrape_targets: tuple[Target, ...]
    alerts: tuple[Alert, ...]


def platform_for(
    settings: StackSettings, stack: str, name: str = "platform"
) -> tuple[pulumi.Resource, Placement]:
    # Each platform's provider is imported only by a stack on it.
    if settings.platform == "kubernetes":
        from components.platform.kubernetes import KubernetesPlatform, KubernetesPlatformArgs

        k8s = KubernetesPlatform(
            name,
            KubernetesPlatformArgs(stack, settings.kubernetes, settings.expires_at),
        )
        return k8s, k8s.placement
    from components.platform.docker import DockerPlatform, DockerPlatformArgs

    host = DockerPlatform(
        name,
        DockerPlatformArgs(stack, settings.docker, settings.expires_at),
    )
    return host, host.placement


def build(
    settings: StackSettings, stack: str, config_secrets: Mapping[str, pulumi.Input[str]]
) -> dict[str, pulumi.Input[object]]:
    """Create every component of the stack; returns the stack outputs."""
    _, placement = platform_for(settings, stack)
    user_supplied = {name: config_secrets[name] for name in settings.secrets.from_config}
    secrets = Secrets(
        "secrets", SecretsArgs(settings=settings.secrets, user_supplied=user_supplied)
    )
    s3 = settings.postgres.backup.repository.s3
    postgres = Postgres(
        "postgres",
        PostgresArgs(
            settings=settings.postgres,
            app_credential=secrets.credentials["databasePassword"],
            retire_after_idle_seconds=settings.secrets.retire_after_idle_seconds,
            monitor_password=secrets["databaseMonitorPassword"],
            cipher_pass=secrets["backupCipherPass"],
            protect=settings.protect_data,
            s3_key=config_secrets.get(s3.key_config) if s3 and s3.key_config else None,
            s3_secret=config_secrets.get(s3.secret_config) if s3 and s3.secret_config else None,
        ),
        placement=placement,
    )
    redis = Redis(
        "redis",
        RedisArgs(
            settings=settings.redis,
            app_credential=secrets.credentials["redisPassword"],
            retire_after_idle_seconds=settings.secrets.retire_after_idle_seconds,
            admin_password=secrets["redisAdminPassword"],
            exporter_password=secrets["redisExporterPassword"],
            protect=settings.protect_data,
        ),
        placement=placement,
    )
    api = Api(
        "api",
        ApiArgs(
            settings=settings.api,
            secret_files=secrets.api_files(),
            connections=(postgres.connection, redis.connection),
            # A migration starts once the stores it migrates are up.
            migrate_after=(postgres, redis),
            # The CA to verify the data stores with, when either speaks TLS.
            tls=(
                placement.certificate("api", "client")
                if settings.postgres.tls or settings.redis.tls
                else None
            ),
        ),
        placement=placement,
    )
    frontend = (
        Frontend(
            "frontend",
            FrontendArgs(settings.frontend, exporter_image=settings.edge.exporter_image),
            placement=placement,
        )
        if settings.frontend.enabled
        else None
    )
    certificate = settings.edge.certificate
    edge = Edge(
        "edge",
        EdgeArgs(
            settings=settings.edge,
            domain=settings.domain,
            stack=stack,
            namespace=settings.kubernetes.namespace,
            api=api.endpoint,
            api_port_name=API_PORT_NAME,
            extra_routes=grafana_route(settings, placement),
            frontend=frontend_upstream(settings, frontend),
            # Readiness is the platform's question (a kubelet's, the engine's), and its
            # first answers cost the database a connection: not the public's.
            internal_paths=(settings.api.metrics_path, settings.api.readiness_path),
            supplied_cert=config_secrets.get(str(certificate.cert_config)),
            supplied_key=config_secrets.get(str(certificate.key_config)),
        ),
        placement=placement,
    )
    monitoring = Monitoring(
        "monitoring",
        monitoring_args(
            settings,
            observed=(api, edge, *((frontend,) if frontend else ()), postgres, redis),
            edge=edge,
            config_secrets=config_secrets,
            grafana_admin_password=secrets["grafanaAdminPassword"],
        ),
        placement=placement,
    )
    # Every component is built: the placement creates the resources, each connection with
    # both its sides.
    placement.finish()
    db = postgres.connection
    return {
        "environment": settings.environment,
        "platform": settings.platform,
        "domain": settings.domain,
        "url": edge.url,
        # The CA to trust for a self-signed edge (dev, ephemeral); none otherwise.
        "caCertPem": edge.ca_cert_pem,
        "apiInternalUrl": api.url,
        "prometheusInternalUrl": monitoring.prometheus_url,
        "apiImage": api.image,
        "postgresEndpoint": f"{db.host}:{db.port}",
        "redisEndpoint": f"{redis.connection.host}:{redis.connection.port}",
        # Connection strings carry credentials, so they are secret like the passwords in them.
        "databaseUrl": pulumi.Output.concat(
            f"postgresql://{db.user}:",
            secrets["databasePassword"],
            f"@{db.host}:{db.port}/{db.database}",
        ),
        "redisUrl": pulumi.Output.concat(
            f"redis://{redis.connection.user}:",
            secrets["redisPassword"],
            f"@{redis.connection.host}:{redis.connection.port}",
        ),
    }


GRAFANA_PREFIX = "/grafana/"
# Grafana's UI needs inline scripts and styles; the rest of the stack keeps the strict policy.
GRAFANA_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
)


def frontend_upstream(
    settings: StackSettings, frontend: Frontend | None
) -> FrontendUpstream | None:
    """The app at /: the API keeps its prefixes and its liveness path (the public prober and
    `prodstack smoke` check the API through the edge)."""
    if frontend is None:
        return None
    return FrontendUpstream(
        workload=frontend.endpoint,
        port_name=FRONTEND_PORT_NAME,
        csp=settings.frontend.content_security_policy,
        api_prefixes=tuple(settings.frontend.api_paths),
        api_exact_paths=(settings.api.liveness_path,),
        hashed_name=HASHED_NAME,
        immutable_prefixes=tuple(settings.frontend.cache.immutable_paths),
        previous_assets_hours=settings.frontend.cache.previous_assets_hours,
    )


def grafana_route(settings: StackSettings, placement: Placement) -> tuple[Route, ...]:
    if not settings.monitoring.grafana_public:
        return ()
    # Grafana is placed after the edge (it queries Prometheus, which scrapes the edge).
    grafana = placement.reference(GRAFANA, {"web": GRAFANA_PORT})
    return (Route(GRAFANA, GRAFANA_PREFIX, grafana.address("web"), GRAFANA_CSP),)


def monitoring_args(
    settings: StackSettings,
    observed: Sequence[Observed],
    edge: Edge,
    config_secrets: Mapping[str, pulumi.Input[str]],
    grafana_admin_password: pulumi.Input[str],
) -> MonitoringArgs:
    """What Prometheus scrapes and alerts on (each component's own targets and alerts), and
    what it probes."""
    # On Docker the public URL is the host's; inside the stack the edge is reached by name.
    docker = settings.platform == "docker"
    host = edge.endpoint.address("https") if docker else settings.domain
    return MonitoringArgs(
        settings=settings.monitoring,
        namespace=settings.kubernetes.namespace,
        targets=tuple(t for c in observed for t in c.scrape_targets),
        alerts=tuple(a for c in observed for a in c.alerts),
        probe_url=f"https://{host}{settings.api.liveness_path}",
        edge=edge.endpoint,
        probe_ca_pem=edge.ca_cert_pem,
        probe_server_name=settings.domain,
        receiver_secrets=config_secrets,
        grafana_admin_password=grafana_admin_password,
        grafana_public_url=f"https://{settings.domain}{GRAFANA_PREFIX}",
        protect=settings.protect_data,
    )
