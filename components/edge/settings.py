"""Edge settings: TLS, security headers, rate limits, client limits, certificates."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, IPvAnyAddress, model_validator

from components.config_values import shown
from components.images import ImageReference
from components.settings import (
    ConfigKey,
    CpuAutoscaling,
    HeaderValue,
    Resources,
    Settings,
    UniqueList,
    UrlPath,
    hinted,
)

ONE_YEAR = 31_536_000


def _cidr(value: str) -> str:
    import ipaddress

    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValueError(
            f"must be an address or network like 10.0.0.0/8, got {shown(value)}"
        ) from None
    if value.split("/")[0] == "255.255.255.255":
        # nginx reads this address as its "invalid address" value (INADDR_NONE) and refuses it.
        raise ValueError(f"must not be the broadcast address 255.255.255.255, got {shown(value)}")
    return value


Cidr = Annotated[str, Field(max_length=64), AfterValidator(_cidr)]


class Hsts(Settings):
    max_age_seconds: int = Field(ge=ONE_YEAR, description="At least one year.")
    include_subdomains: bool = Field(description="Cover every subdomain too.")
    preload: bool = Field(description="Ask browsers' preload lists to include the domain.")


class RequestRate(Settings):
    rate: int = Field(
        ge=1, le=100000, description="Requests allowed per `per`, per client address."
    )
    per: Literal["second", "minute"] = Field(description="The unit of `rate`.")
    burst: int = Field(
        ge=1,
        le=100000,
        description=(
            "Requests one client may send at once before the rate applies; the next is refused "
            "with 429 (nginx's `burst` is this minus one)."
        ),
    )


class RateLimits(Settings):
    api: RequestRate = Field(description="Every proxied request.")
    frontend: RequestRate = Field(
        description=(
            "Requests for the frontend's files (when it is enabled): a first page load asks for "
            "dozens at once."
        )
    )
    auth: RequestRate = Field(description="Authentication routes (stricter).")
    auth_paths: UniqueList[UrlPath] = Field(
        min_length=1, description="Prefixes of authentication routes."
    )
    # nginx refuses a connection limit of 65536 or more.
    connections_per_client: int = Field(ge=1, le=65535, description="Open connections per address.")

    zone_size_mib: int = Field(
        ge=1, le=1024, description="Memory per rate-limit zone (~16k addresses/MiB)."
    )


class ClientLimits(Settings):
    max_body_mib: int = Field(ge=1, le=10240, description="Largest request body.")
    header_timeout_seconds: int = Field(
        ge=1, le=300, description="Time to send the request headers."
    )
    body_timeout_seconds: int = Field(
        ge=1, le=300, description="Longest pause while sending a body."
    )
    send_timeout_seconds: int = Field(
        ge=1, le=300, description="Longest pause while reading a reply."
    )
    keepalive_timeout_seconds: int = Field(ge=0, le=600, description="Idle keep-alive connections.")


class Upstream(Settings):
    connect_timeout_seconds: int = Field(ge=1, le=600, description="proxy_connect_timeout.")
    send_timeout_seconds: int = Field(ge=1, le=3600, description="proxy_send_timeout.")
    read_timeout_seconds: int = Field(ge=1, le=3600, description="proxy_read_timeout.")


# A Kubernetes object name (a DNS subdomain).
ResourceName = Annotated[
    str,
    Field(
        pattern=hinted(
            r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$", "a Kubernetes name like letsencrypt-prod"
        )
    ),
]

CORS_ANY = "*"
_ORIGIN = hinted(
    r"^(\*|https?://[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?(:[0-9]{1,5})?)$",
    "an origin like https://app.example.com (scheme, host and port; no path), or *",
)
_HEADER = hinted(r"^[A-Za-z0-9-]{1,64}$", "a header name like Content-Type")
Origin = Annotated[str, Field(pattern=_ORIGIN)]
HeaderName = Annotated[str, Field(pattern=_HEADER)]
Method = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class Cors(Settings):
    allowed_origins: UniqueList[Origin] | None = Field(
        default=None,
        description=(
            "Origins whose pages may call the API from a browser. Unset: the stack's own "
            "(https://<domain>, where the frontend is served). * allows any origin, never "
            "with credentials and never in prod."
        ),
    )
    allow_credentials: bool = Field(
        description="Let those pages send cookies and Authorization (Access-Control-Allow-Credentials)."
    )
    allowed_methods: UniqueList[Method] = Field(
        min_length=1, description="Methods a preflight allows."
    )
    allowed_headers: UniqueList[HeaderName] = Field(
        description="Request headers a preflight allows."
    )
    exposed_headers: UniqueList[HeaderName] = Field(description="Reply headers pages may read.")
    max_age_seconds: int = Field(
        ge=0,
        le=86400,
        description="How long browsers keep a preflight's answer (Chromium caps it at 7200).",
    )

    @model_validator(mode="after")
    def _any_origin_alone(self) -> Cors:
        origins = self.allowed_origins or []
        if CORS_ANY in origins and len(origins) > 1:
            raise ValueError("* allows every origin: list it alone or list origins")
        if CORS_ANY in origins and self.allow_credentials:
            raise ValueError(
                "* cannot go with allowCredentials: a page from any site could act as the "
                "signed-in user; list the origins"
            )
        return self


class Certificate(Settings):
    source: Literal["self-signed", "cert-manager", "supplied"] = Field(
        description=(
            "self-signed: a CA and certificate from pulumi-tls (dev, ephemeral); cert-manager: a "
            "Certificate from `issuer` (Kubernetes); supplied: PEM files from config secrets."
        )
    )
    issuer: ResourceName | None = Field(
        default=None, description="cert-manager ClusterIssuer name."
    )
    cert_config: ConfigKey | None = Field(
        default=None, description="Secret config key with the PEM chain."
    )
    key_config: ConfigKey | None = Field(
        default=None, description="Secret config key with the PEM key."
    )

    @model_validator(mode="after")
    def _source_needs(self) -> Certificate:
        if self.source == "cert-manager" and not self.issuer:
            raise ValueError("source cert-manager needs issuer (a ClusterIssuer name)")
        if self.source == "supplied" and not (self.cert_config and self.key_config):
            raise ValueError("source supplied needs certConfig and keyConfig (secret config keys)")
        return self


class PublicPorts(Settings):
    http: int = Field(ge=1, le=65535, description="Plain HTTP (only redirects to HTTPS).")
    https: int = Field(ge=1, le=65535, description="HTTPS.")
    address: IPvAnyAddress = Field(
        description=(
            "Docker: the host address the ports are published on; 0.0.0.0 for every "
            "interface, 127.0.0.1 to serve only this host (a shared host, a CI runner)."
        )
    )

    @model_validator(mode="after")
    def _distinct(self) -> PublicPorts:
        if self.http == self.https:
            raise ValueError(f"http and https must differ, both are {self.http}")
        return self


# A Kubernetes annotation key: an optional DNS prefix, then a name.
_ANNOTATION_KEY = hinted(
    r"^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$",
    "an annotation key like service.beta.kubernetes.io/aws-load-balancer-type",
)
AnnotationKey = Annotated[str, Field(pattern=_ANNOTATION_KEY)]
AnnotationValue = Annotated[str, Field(max_length=4096)]


class LoadBalancerSettings(Settings):
    """The load balancer in front of the edge: on Kubernetes the cloud's, for the edge's
    LoadBalancer Service; on Docker whatever the host sits behind, if anything."""

    deregistration_seconds: int = Field(
        ge=0,
        le=600,
        description=(
            "How long the load balancer goes on sending new connections to an edge replica "
            "that has begun to stop: under externalTrafficPolicy Local, until its health "
            "checks fail the node (interval x unhealthy threshold, 20-60 s on the clouds). "
            "A stopping replica keeps serving that long (preStop) before nginx drains."
        ),
    )
    client_address: Literal["preserved", "proxy-protocol"] = Field(
        description=(
            "How the edge learns a client's address, which rate limits count by. preserved: "
            "the load balancer keeps it as the connection's source (an NLB with instance "
            "targets, GKE and AKS with Local); proxy-protocol: the load balancer sends it in "
            "a PROXY protocol header (an NLB with IP targets; a Classic ELB), trusted only "
            "from `proxySources`. Under neither, every client shares the balancer's few "
            "addresses and their rate limits."
        )
    )
    proxy_sources: UniqueList[Cidr] = Field(
        description=(
            "With proxy-protocol: the networks the load balancer connects from (its subnets); "
            "only they may state a client's address."
        )
    )
    annotations: dict[AnnotationKey, AnnotationValue] = Field(
        description=(
            "Kubernetes: annotations of the edge's LoadBalancer Service, which the cloud's "
            "controller reads (its type, targets, PROXY protocol, health checks)."
        )
    )

    @model_validator(mode="after")
    def _sources_with_proxy_protocol(self) -> LoadBalancerSettings:
        if self.client_address == "proxy-protocol" and not self.proxy_sources:
            raise ValueError(
                "clientAddress proxy-protocol needs proxySources: the networks the load "
                "balancer connects from (otherwise anyone could state any address)"
            )
        if self.client_address == "preserved" and self.proxy_sources:
            raise ValueError("proxySources only go with clientAddress proxy-protocol")
        return self


class EdgeSettings(Settings):
    image: ImageReference = Field(description="Unprivileged nginx image (by digest in prod).")
    nginx_version: str = Field(
        pattern=hinted(r"^1\.\d{1,2}$", "an nginx minor version like 1.28"),
        description="nginx version the configuration is rendered for.",
    )
    exporter_image: ImageReference = Field(description="nginx-prometheus-exporter image (sidecar).")
    replicas: int = Field(ge=1, le=100, description="Replicas when autoscaling is off.")
    autoscaling: CpuAutoscaling
    resources: Resources
    tls_profile: Literal["intermediate", "modern"] = Field(
        description="Mozilla profile: intermediate (TLS 1.2 and 1.3) or modern (TLS 1.3 only)."
    )
    hsts: Hsts
    content_security_policy: HeaderValue = Field(description="The Content-Security-Policy.")
    permissions_policy: HeaderValue = Field(description="The Permissions-Policy.")
    rate_limits: RateLimits = Field(
        description=(
            "Per client address and per edge replica: with N replicas a client may get up to N "
            "times the rate when the load balancer spreads its connections."
        )
    )
    client: ClientLimits
    upstream: Upstream
    allow: UniqueList[Cidr] = Field(
        description="If not empty, only these client networks are served."
    )
    deny: UniqueList[Cidr] = Field(description="Client networks refused (403).")
    trusted_proxies: UniqueList[Cidr] = Field(
        description="Proxies in front of the edge whose X-Forwarded-For names the real client."
    )
    cors: Cors = Field(description="Which browser origins may call the API (answered at the edge).")
    certificate: Certificate
    load_balancer: LoadBalancerSettings

    @model_validator(mode="after")
    def _one_source_of_client_addresses(self) -> EdgeSettings:
        if self.load_balancer.client_address == "proxy-protocol" and self.trusted_proxies:
            raise ValueError(
                "trustedProxies (X-Forwarded-For) and loadBalancer.clientAddress proxy-protocol "
                "both name the client's address; nginx takes it from one: choose one"
            )
        return self

    public_ports: PublicPorts = Field(
        description=(
            "Ports the Docker host publishes (or the LoadBalancer serves): 80 and 443, or "
            "others so that several stacks share one host (ephemeral stacks pick their own)."
        )
    )
