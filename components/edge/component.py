"""prodstack:index:Edge — nginx in front of the API: TLS, security headers, rate limits.

The only public entry to the stack: a LoadBalancer Service (Kubernetes) or the only published
ports (Docker).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.alerts import Alert
from components.edge.alerts import alerts
from components.edge.cors import CorsPolicy
from components.edge.nginx import (
    HTTP_PORT,
    HTTPS_PORT,
    STATUS_PORT,
    EdgeConfig,
    FrontendRoute,
    Rate,
    Route,
)
from components.edge.settings import EdgeSettings, RequestRate
from components.exporters import NGINX_STATUS, after_stale_socket, nginx_exporter
from components.images import version_label
from components.nginx_config import worker_processes
from components.platform.labels import labels_for
from components.platform.placement import ManagedCertificate, NameServer, Placement
from components.settings import workload_resources, workload_scaling
from components.tls.certificates import self_signed, supplied
from components.watch import DELIVERED, watched, watcher_file
from components.workload import (
    CONFIG_DIR,
    Checks,
    Container,
    File,
    LoadBalancer,
    Peer,
    PlacedWorkload,
    Port,
    Probe,
    Target,
    TlsFiles,
    Workload,
)

NAME = "edge"
# Any user runs nginx-unprivileged (it writes only to /tmp): one above 10000, as Checkov asks,
# which no host account shares.
NGINX_UID = 10101
EXPORTER_UID = 10102


@dataclass(frozen=True)
class FrontendUpstream:
    """The frontend as the edge serves it: where it answers, its pages' CSP, and the paths
    that stay the API's."""

    workload: PlacedWorkload
    port_name: str
    csp: str
    api_prefixes: tuple[str, ...]
    api_exact_paths: tuple[str, ...]
    # Files named by their content (a regular expression, and prefixes), which the edge
    # keeps serving from its cache for `previous_assets_hours` after their release is gone.
    hashed_name: str = ""
    immutable_prefixes: tuple[str, ...] = ()
    previous_assets_hours: int = 0


@dataclass(frozen=True)
class EdgeArgs:
    settings: EdgeSettings
    domain: str
    stack: str
    namespace: str
    # Where the API answers: the edge proxies to it.
    api: PlacedWorkload
    api_port_name: str
    # In-stack services published under a path (Grafana, when settings say so).
    extra_routes: tuple[Route, ...] = ()
    # The single-page app at / (components/frontend), when the stack has one.
    frontend: FrontendUpstream | None = None
    # The API's paths for the stack alone (its metrics), never proxied from outside.
    internal_paths: tuple[str, ...] = ()
    # PEM chain and key, when the certificate source is `supplied`.
    supplied_cert: pulumi.Input[str] | None = None
    supplied_key: pulumi.Input[str] | None = None


class Edge(pulumi.ComponentResource):
    """The public edge; `url` is where the stack answers, `ca_cert_pem` what to trust (dev)."""

    url: pulumi.Output[str]
    ca_cert_pem: pulumi.Output[str] | None
    # The edge inside the stack: Prometheus scrapes its exporter, the prober its HTTPS port.
    endpoint: PlacedWorkload
    scrape_targets: tuple[Target, ...]
    alerts: tuple[Alert, ...]

    def __init__(
        self,
        name: str,
        args: EdgeArgs,
        placement: Placement,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("prodstack:index:Edge", name, None, opts)
        tls = self._certificate(name, args, placement)
        self.endpoint = placement.place(
            edge_workload(args, tls, placement.name_server), parent=self
        )
        self.scrape_targets = (Target(self.endpoint, "edge-metrics"),)
        # Its alerts select the job it is scraped under: its workload's name.
        self.alerts = alerts(self.endpoint.name)

        self.url = pulumi.Output.from_input(public_origin(args))
        self.ca_cert_pem = tls.ca_cert_pem
        self.register_outputs({"url": self.url, "caCertPem": self.ca_cert_pem})

    def _certificate(self, name: str, args: EdgeArgs, placement: Placement) -> TlsFiles:
        source = args.settings.certificate
        if source.source == "self-signed":
            return self_signed(f"{name}-tls", args.domain, args.stack, parent=self)
        if source.source == "cert-manager" and source.issuer:  # the model insists on one
            labels = labels_for(NAME, "edge", version_label(args.settings.image), args.stack)
            return placement.managed_certificate(
                ManagedCertificate(
                    f"{name}-tls",
                    args.domain,
                    source.issuer,
                    labels,
                    parent=self,
                    setting="edge.certificate.source",
                )
            )
        if args.supplied_cert is None or args.supplied_key is None:
            raise ValueError("a supplied certificate needs its PEM chain and key")
        return supplied(args.supplied_cert, args.supplied_key)


def public_origin(args: EdgeArgs) -> str:
    """https://<domain>[:port]: where browsers find the stack, and its pages' origin."""
    https = args.settings.public_ports.https
    return f"https://{args.domain}" + ("" if https == 443 else f":{https}")


def _rate(zone: str, rate: RequestRate) -> Rate:
    return Rate(zone, rate.rate, rate.per, rate.burst)


def cors_policy(args: EdgeArgs) -> CorsPolicy:
    cors = args.settings.cors
    return CorsPolicy(
        # Unset: the stack's own origin, where its frontend is served.
        origins=tuple(cors.allowed_origins or (public_origin(args),)),
        credentials=cors.allow_credentials,
        methods=tuple(cors.allowed_methods),
        headers=tuple(cors.allowed_headers),
        exposed=tuple(cors.exposed_headers),
        max_age_seconds=cors.max_age_seconds,
    )


def frontend_route(args: EdgeArgs) -> FrontendRoute | None:
    frontend = args.frontend
    if frontend is None:
        return None
    return FrontendRoute(
        address=frontend.workload.address(frontend.port_name),
        csp=frontend.csp,
        rate=_rate("frontend", args.settings.rate_limits.frontend),
        api_prefixes=frontend.api_prefixes,
        api_exact_paths=frontend.api_exact_paths,
        hashed_name=frontend.hashed_name,
        immutable_prefixes=frontend.immutable_prefixes,
        previous_assets_hours=frontend.previous_assets_hours,
    )


def edge_config(args: EdgeArgs, tls: TlsFiles, name_server: NameServer) -> EdgeConfig:
    s = args.settings
    limits = s.rate_limits
    major, minor = (int(part) for part in s.nginx_version.split("."))
    return EdgeConfig(
        nginx_version=(major, minor),
        worker_processes=worker_processes(workload_resources(s.resources)),
        server_names=(args.domain,),
        upstream=args.api.address(args.api_port_name),
        cert_file=tls.cert_file,
        key_file=tls.key_file,
        tls_profile=s.tls_profile,
        ocsp_stapling=tls.ocsp_stapling,
        hsts_max_age=s.hsts.max_age_seconds,
        hsts_include_subdomains=s.hsts.include_subdomains,
        hsts_preload=s.hsts.preload,
        content_security_policy=s.content_security_policy,
        permissions_policy=s.permissions_policy,
        api_rate=_rate("api", limits.api),
        auth_rate=_rate("auth", limits.auth),
        auth_paths=tuple(limits.auth_paths),
        connections_per_client=limits.connections_per_client,
        zone_size_mib=limits.zone_size_mib,
        max_body_mib=s.client.max_body_mib,
        header_timeout=s.client.header_timeout_seconds,
        body_timeout=s.client.body_timeout_seconds,
        send_timeout=s.client.send_timeout_seconds,
        keepalive_timeout=s.client.keepalive_timeout_seconds,
        proxy_connect_timeout=s.upstream.connect_timeout_seconds,
        proxy_send_timeout=s.upstream.send_timeout_seconds,
        proxy_read_timeout=s.upstream.read_timeout_seconds,
        resolver=name_server.address,
        resolver_valid_seconds=name_server.valid_seconds,
        allow=tuple(s.allow),
        deny=tuple(s.deny),
        trusted_proxies=tuple(s.trusted_proxies),
        proxy_protocol_sources=tuple(s.load_balancer.proxy_sources),
        extra_routes=args.extra_routes,
        frontend=frontend_route(args),
        cors=cors_policy(args),
        internal_paths=args.internal_paths,
    )


def upstream_peers(args: EdgeArgs) -> tuple[Peer, ...]:
    """The edge opens connections to the API and, when there is one, the frontend."""
    upstreams = [(args.api, args.api_port_name)]
    if args.frontend is not None:
        upstreams.append((args.frontend.workload, args.frontend.port_name))
    return tuple(Peer(workload, (workload.port(port),)) for workload, port in upstreams)


def edge_command(conf: str, tls: TlsFiles, script: str = DELIVERED) -> tuple[str, ...]:
    """nginx under the watcher: reloaded when its configuration or certificate changes
    (new workers take them, old ones finish their connections, and the listening sockets
    stay open, so a change drops nothing), once the new configuration passes `nginx -t`;
    stopped gracefully (quit) on SIGTERM."""
    nginx = f"nginx -c {conf}"
    return watched(
        ("nginx", "-c", conf, "-g", "daemon off;"),
        files=(conf, tls.cert_file, tls.key_file),
        reload=f"{nginx} -t -q && {nginx} -s reload",
        stop=f"{nginx} -s quit",
        script=script,
    )


# How long the platform's own routing (kube-proxy, the edge's Service endpoints) takes to
# leave a stopping replica, with no load balancer to wait for.
MIN_PRE_STOP_SECONDS = 5


def edge_workload(args: EdgeArgs, tls: TlsFiles, name_server: NameServer) -> Workload:
    s = args.settings
    healthy = Probe.loopback_http(STATUS_PORT, "/healthz", period_seconds=5)

    server = Container(
        name="edge",
        image=s.image,
        resources=workload_resources(s.resources),
        checks=Checks.around(healthy, startup_seconds=30, startup_period=1, liveness_period=10),
        command=after_stale_socket(edge_command(f"{CONFIG_DIR}/nginx.conf", tls)),
        ports=(
            Port("http", HTTP_PORT, s.public_ports.http, str(s.public_ports.address)),
            Port("https", HTTPS_PORT, s.public_ports.https, str(s.public_ports.address)),
        ),
        config_files=(
            File("nginx.conf", edge_config(args, tls, name_server).render()),
            watcher_file(),
        ),
        tls=tls,
        reloads_files=True,
        mounts=(NGINX_STATUS.name,),
        run_as_user=NGINX_UID,
    )
    exporter = nginx_exporter(s.exporter_image, "edge-metrics", EXPORTER_UID)
    return Workload(
        name=NAME,
        component="edge",
        version=version_label(s.image),
        main=server,
        sidecars=(exporter,),
        scratch=(NGINX_STATUS,),
        scaling=workload_scaling(s.replicas, s.autoscaling),
        # Routed services (Grafana) admit the edge themselves: they are placed after it.
        connects_to=upstream_peers(args),
        load_balancer=LoadBalancer(
            deregistration_seconds=s.load_balancer.deregistration_seconds,
            annotations=dict(s.load_balancer.annotations),
        ),
        # A stopping replica serves on until its load balancer has stopped sending to it (and
        # at least as long as the platform takes to route around it); then nginx quits
        # gracefully: it closes its listeners and idle keep-alive connections, answers the
        # requests in flight with Connection: close, and waits for the slowest upstream reply.
        pre_stop_seconds=max(MIN_PRE_STOP_SECONDS, s.load_balancer.deregistration_seconds),
        shutdown_grace_seconds=s.upstream.read_timeout_seconds + 5,
    )
