"""nginx.conf for the edge, composed from typed values (components/nginx_config.py).

One configuration for Docker and Kubernetes. Directives that only newer nginx versions know
are rendered only for them, so the same generator serves Debian's nginx (the live tests) and
the image's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from components.edge.cors import CorsPolicy
from components.exporters import NGINX_STATUS_SOCKET
from components.nginx_config import (
    Block,
    Comment,
    Directive,
    d,
    hash_sizes,
    http_basics,
    render,
    status_server,
)

HTTP_PORT = 8080
HTTPS_PORT = 8443
STATUS_PORT = 8081
WORKER_CONNECTIONS = 4096
# The edge's cache of earlier frontend releases' hashed files, in its scratch space.
PREVIOUS_ASSETS_ZONE = "previous_assets"
PREVIOUS_ASSETS_MIB = 32
# A name server that does not answer in this time fails the request (502), not hangs it.
RESOLVER_TIMEOUT_SECONDS = 5
SCRATCH = "/tmp"

# Mozilla Server Side TLS, "intermediate" (v5.7) without the DHE suites (no dhparam file).
INTERMEDIATE_CIPHERS = ":".join(
    [
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
    ]
)
JSON_LOG = (
    '{"time":"$time_iso8601","request_id":"$request_id_out","remote_addr":"$remote_addr",'
    '"method":"$request_method","uri":"$request_uri","status":$status,'
    '"bytes_sent":$body_bytes_sent,"request_time":$request_time,'
    '"upstream_addr":"$upstream_addr","upstream_status":"$upstream_status",'
    '"upstream_response_time":"$upstream_response_time","user_agent":"$http_user_agent",'
    '"host":"$host","tls":"$ssl_protocol"}'
)
GZIP_TYPES = (
    "text/plain",
    "text/css",
    "text/xml",
    "application/json",
    "application/javascript",
    "application/xml",
    "application/problem+json",
    "image/svg+xml",
)


@dataclass(frozen=True)
class Rate:
    zone: str
    rate: int
    per: str
    # Requests a client may send at once. nginx admits one request plus `burst` excess ones,
    # so it is given burst - 1: "5 r/min, burst 5" refuses the 6th request of a minute.
    burst: int

    @property
    def nginx_burst(self) -> int:
        return self.burst - 1

    @property
    def burst_arguments(self) -> tuple[str, ...]:
        # nginx refuses burst=0 ("invalid burst value"): no burst is written as none at all.
        return (f"burst={self.nginx_burst}", "nodelay") if self.nginx_burst else ()

    @property
    def expression(self) -> str:
        return f"{self.rate}r/{'s' if self.per == 'second' else 'm'}"


@dataclass(frozen=True)
class Route:
    """Another in-stack service published under a path prefix (Grafana, when enabled)."""

    name: str
    prefix: str
    address: str  # host:port
    csp: str


@dataclass(frozen=True)
class FrontendRoute:
    """The single-page app at /, when the stack has one: every path that is not the API's."""

    address: str  # host:port of the frontend
    csp: str
    rate: Rate
    # Where the API answers instead: prefixes (like /api/) and exact paths (its health).
    api_prefixes: tuple[str, ...]
    api_exact_paths: tuple[str, ...] = ()
    # Files named by their content: a regular expression on the name, and prefixes.
    hashed_name: str = ""
    immutable_prefixes: tuple[str, ...] = ()
    # How long the edge serves a release's hashed files from its cache after the release
    # is gone (0: not kept).
    previous_assets_hours: int = 0

    @property
    def keeps_previous_assets(self) -> bool:
        return bool(self.previous_assets_hours and (self.hashed_name or self.immutable_prefixes))


@dataclass(frozen=True)
class EdgeConfig:
    nginx_version: tuple[int, int]
    # From the container's CPU limit (nginx_config.worker_processes).
    worker_processes: int
    server_names: tuple[str, ...]
    upstream: str  # host:port of the API
    cert_file: str
    key_file: str
    tls_profile: str
    ocsp_stapling: bool
    hsts_max_age: int
    hsts_include_subdomains: bool
    hsts_preload: bool
    content_security_policy: str
    permissions_policy: str
    api_rate: Rate
    auth_rate: Rate
    auth_paths: tuple[str, ...]
    connections_per_client: int
    zone_size_mib: int
    max_body_mib: int
    header_timeout: int
    body_timeout: int
    send_timeout: int
    keepalive_timeout: int
    proxy_connect_timeout: int
    proxy_send_timeout: int
    proxy_read_timeout: int
    # Who resolves the upstreams' names, while nginx runs (components/platform/placement.py).
    resolver: str
    resolver_valid_seconds: int
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    trusted_proxies: tuple[str, ...] = ()
    # The load balancer's networks, when it sends the client's address by PROXY protocol.
    proxy_protocol_sources: tuple[str, ...] = ()
    extra_routes: tuple[Route, ...] = ()
    frontend: FrontendRoute | None = None
    cors: CorsPolicy | None = None
    # The API's own paths that only the stack may call (its metrics): 404 at the edge.
    internal_paths: tuple[str, ...] = ()
    http_port: int = HTTP_PORT
    https_port: int = HTTPS_PORT
    status_port: int = STATUS_PORT
    status_socket: str = NGINX_STATUS_SOCKET
    scratch: str = SCRATCH

    # -- pieces -------------------------------------------------------------------------------

    def rates(self) -> tuple[Rate, ...]:
        frontend = (self.frontend.rate,) if self.frontend else ()
        return (self.api_rate, self.auth_rate, *frontend)

    def since(self, major: int, minor: int) -> bool:
        return self.nginx_version >= (major, minor)

    def tls_protocols(self) -> list[Directive | Block | Comment]:
        """For the whole http block: nginx negotiates the protocol with the port's default
        server's settings before it reads the name the client asks for."""
        modern = self.tls_profile == "modern"
        directives: list[Directive | Block | Comment] = [
            Comment(f"Mozilla {self.tls_profile} profile, for every server of the port"),
            d("ssl_protocols", *(["TLSv1.3"] if modern else ["TLSv1.2", "TLSv1.3"])),
            d("ssl_prefer_server_ciphers", "off"),
            d("ssl_session_cache", f"shared:TLS:{self.zone_size_mib}m"),
            d("ssl_session_timeout", "1d"),
            d("ssl_session_tickets", "off"),
        ]
        if not modern:
            directives.insert(3, d("ssl_ciphers", INTERMEDIATE_CIPHERS))
        return directives

    def tls(self) -> list[Directive | Block | Comment]:
        directives: list[Directive | Block | Comment] = [
            d("ssl_certificate", self.cert_file),
            d("ssl_certificate_key", self.key_file),
        ]
        if self.ocsp_stapling:
            directives += [d("ssl_stapling", "on"), d("ssl_stapling_verify", "on")]
        return directives

    def security_headers(self, csp: str | None = None) -> list[Directive | Block | Comment]:
        hsts = f"max-age={self.hsts_max_age}"
        if self.hsts_include_subdomains:
            hsts += "; includeSubDomains"
        if self.hsts_preload:
            hsts += "; preload"
        headers = {
            "Strict-Transport-Security": hsts,
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "strict-origin-when-cross-origin",
            "Permissions-Policy": self.permissions_policy,
            "Content-Security-Policy": csp or self.content_security_policy,
            "Cross-Origin-Opener-Policy": "same-origin",
            "X-Request-ID": "$request_id_out",
        }
        # `always`: on error replies too. A location with an add_header of its own drops the
        # server's, so a route with its own CSP repeats them all (extra_routes).
        return [
            Comment("security headers, on every reply including errors"),
            *(d("add_header", name, value, "always") for name, value in headers.items()),
        ]

    def access_control(self) -> list[Directive | Block | Comment]:
        rules: list[Directive | Block | Comment] = [d("deny", cidr) for cidr in self.deny]
        rules += [d("allow", cidr) for cidr in self.allow]

        if self.allow:
            rules.append(d("deny", "all"))
        return rules

    def proxy(
        self, rates: list[Rate], upstream: str = "api", next_upstream: tuple[str, ...] = ()
    ) -> list[Directive | Block | Comment]:
        forwarded_for = "$proxy_add_x_forwarded_for" if self.trusted_proxies else "$remote_addr"
        return [
            *(d("limit_req", f"zone={r.zone}", *r.burst_arguments) for r in rates),
            # A variable in proxy_pass makes nginx resolve the name per request, through the
            # resolver, and not once at start: it starts while an upstream is missing
            # (answering 502 for its routes), and follows replicas as they are replaced.
            # Every address of the name is tried in turn; a refused connection, or a
            # replica that closed its listener to stop, is retried on the next (the request
            # was not sent, so a POST is retried too). No keepalive pool: that needs an
            # upstream block, whose names nginx before 1.27.3 resolves only at start.
            d("set", upstream_variable(upstream), self.upstream_addresses()[upstream]),
            d("proxy_pass", f"http://{upstream_variable(upstream)}"),
            d("proxy_next_upstream", "error", "timeout", *next_upstream),
            d("proxy_http_version", "1.1"),
            d("proxy_set_header", "Connection", ""),
            d("proxy_set_header", "Host", "$host"),
            d("proxy_set_header", "X-Real-IP", "$remote_addr"),
            d("proxy_set_header", "X-Forwarded-For", forwarded_for),
            d("proxy_set_header", "X-Forwarded-Proto", "https"),
            d("proxy_set_header", "X-Forwarded-Host", "$host"),
            d("proxy_set_header", "X-Request-ID", "$request_id_out"),
            d("proxy_connect_timeout", f"{self.proxy_connect_timeout}s"),
            d("proxy_send_timeout", f"{self.proxy_send_timeout}s"),
            d("proxy_read_timeout", f"{self.proxy_read_timeout}s"),
            d("proxy_hide_header", "X-Powered-By"),
            d("proxy_hide_header", "Server"),
            # The edge sends the request's id itself (add_header); the upstream's echo of the
            # same id would make it twice.
            d("proxy_hide_header", "X-Request-ID"),
        ]

    def unknown_hosts(self) -> list[Block]:
        """The default server of each public port: a request for a host the stack does not
        serve is refused with 421 and never reaches the API; on HTTPS, a handshake for a
        name it does not serve (or none) is refused before any certificate is shown."""
        https = [*self.https_listen(default=True), d("ssl_reject_handshake", "on")]
        return [
            Block(
                "server",
                children=[*listen, d("server_name", "_"), d("return", 421)],
            )
            for listen in (
                [d("listen", self.http_port, *self.listen_flags, "default_server")],
                https,
            )
        ]

    @property
    def listen_flags(self) -> tuple[str, ...]:
        """Every connection to a public port starts with the load balancer's PROXY protocol
        header when it sends one: nginx reads the client's address from it."""
        return ("proxy_protocol",) if self.proxy_protocol_sources else ()

    def https_listen(self, default: bool = False) -> list[Directive | Block | Comment]:
        flags = (*self.listen_flags, *(("default_server",) if default else ()))
        if self.since(1, 25):
            return [d("listen", self.https_port, "ssl", *flags), d("http2", "on")]
        return [d("listen", self.https_port, "ssl", "http2", *flags)]

    def http_server(self) -> Block:
        return Block(
            "server",
            children=[
                d("listen", self.http_port, *self.listen_flags),
                d("server_name", *self.server_names),
                # No ACME HTTP-01 answers: cert-manager issues the edge's certificate by DNS-01
                # (README, "What prod assumes of its cluster").
                Comment("plain HTTP only redirects, permanently, to HTTPS"),
                Block("location", ("/",), [d("return", 308, "https://$host$request_uri")]),
            ],
        )

    def api_location(self, rates: list[Rate]) -> list[Directive | Block | Comment]:
        """An API location: its own add_header directives replace the server's, so the
        security headers come again, with CORS."""
        cors = self.cors.location() if self.cors else []
        return [*self.security_headers(), *cors, *self.proxy(rates)]

    def frontend_locations(self, frontend: FrontendRoute) -> list[Block]:
        """The API under its prefixes and at its health paths; everything else is the app's,
        under the app's CSP."""
        api = [
            Block("location", ("~*", path_pattern(prefix)), self.api_location([self.api_rate]))
            for prefix in frontend.api_prefixes
        ]
        api += [
            Block("location", ("=", path), self.api_location([self.api_rate]))
            for path in frontend.api_exact_paths
        ]
        app = Block(
            "location",
            ("/",),
            [
                *self.security_headers(frontend.csp),
                *self.proxy([frontend.rate], "frontend"),
            ],
        )
        return [*api, *self.previous_assets(frontend), app]

    def previous_assets(self, frontend: FrontendRoute) -> list[Block]:
        """Hashed files, kept through a release: while two releases' replicas serve side by
        side, a file one of them lacks (404) is asked of the next; and once a file was
        served, the edge keeps serving it from its cache for previous_assets_hours, after
        its release is gone. A page loaded before the deploy still loads what it names."""
        if not frontend.keeps_previous_assets:
            return []
        kept = [
            *self.security_headers(frontend.csp),
            *self.proxy([frontend.rate], "frontend", next_upstream=("http_404",)),
            d("proxy_cache", PREVIOUS_ASSETS_ZONE),
            # The file's own Cache-Control (a year, immutable) is for browsers; the edge
            # keeps it for the grace period only.
            d("proxy_ignore_headers", "Cache-Control", "Expires"),
            d("proxy_cache_valid", 200, f"{frontend.previous_assets_hours}h"),
            d("proxy_cache_key", "$uri"),
        ]
        locations = [Block("location", ("^~", p), kept) for p in frontend.immutable_prefixes]
        if frontend.hashed_name:
            locations.append(Block("location", ("~", frontend.hashed_name), kept))
        return locations

    def cache_paths(self) -> list[Directive | Block | Comment]:
        frontend = self.frontend
        if frontend is None or not frontend.keeps_previous_assets:
            return []
        return [
            Comment("hashed files of earlier frontend releases, kept through a deploy"),
            d(
                "proxy_cache_path",
                f"{self.scratch}/{PREVIOUS_ASSETS_ZONE}",
                "levels=1:2",
                f"keys_zone={PREVIOUS_ASSETS_ZONE}:1m",
                f"max_size={PREVIOUS_ASSETS_MIB}m",
                f"inactive={frontend.previous_assets_hours}h",
                "use_temp_path=off",
            ),
        ]

    def https_server(self) -> Block:
        # Regular expressions, case-insensitive, on the normalised path (nginx decodes and
        # merges slashes before matching): an API that routes /API/AUTH/ like /api/auth/
        # gets it rate limited all the same. The internal paths come first: they win.
        locations = [
            Block("location", ("~*", path_pattern(internal)), [d("return", 404)])
            for internal in self.internal_paths
        ]
        locations += [
            Block(
                "location",
                ("~*", path_pattern(path)),
                self.api_location([self.auth_rate, self.api_rate]),
            )
            for path in self.auth_paths
        ]
        locations += [
            Block(
                "location",
                ("^~", route.prefix),
                [*self.security_headers(route.csp), *self.proxy([self.api_rate], route.name)],
            )
            for route in self.extra_routes
        ]
        if self.frontend is not None:
            locations += self.frontend_locations(self.frontend)
        else:
            locations.append(Block("location", ("/",), self.api_location([self.api_rate])))
        return Block(
            "server",
            children=[
                *self.https_listen(),
                d("server_name", *self.server_names),
                *self.tls(),
                *self.security_headers(),
                *self.access_control(),
                d("limit_conn", "per_client", self.connections_per_client),
                *locations,
            ],
        )

    def http(self) -> Block:
        children: list[Directive | Block | Comment] = [
            *http_basics(self.scratch),
            Block(
                "map",
                ("$http_x_request_id", "$request_id_out"),
                [
                    Comment("a caller's request id is kept if it is sane, else one is made"),
                    d("~^[A-Za-z0-9._:-]{1,128}$", "$http_x_request_id"),
                    d("default", "$request_id"),
                ],
            ),
            d("log_format", "json", "escape=json", JSON_LOG),
            # Buffered to 4 KiB: one write per ~10 lines instead of one per request, and a
            # pipe write of at most PIPE_BUF (4096) is atomic, so workers' lines never mix.
            d("access_log", "/dev/stdout", "json", "buffer=4k", "flush=1s"),
            d("sendfile", "on"),
            d("tcp_nopush", "on"),
            Comment("slow clients: bounded headers, bodies, replies and idle connections"),
            d("client_header_timeout", f"{self.header_timeout}s"),
            d("client_body_timeout", f"{self.body_timeout}s"),
            d("send_timeout", f"{self.send_timeout}s"),
            d("keepalive_timeout", f"{self.keepalive_timeout}s"),
            d("client_max_body_size", f"{self.max_body_mib}m"),
            d("large_client_header_buffers", 4, "8k"),
            d("reset_timedout_connection", "on"),
            d("gzip", "on"),
            d("gzip_min_length", 1024),
            d("gzip_proxied", "any"),
            d("gzip_vary", "on"),
            d("gzip_types", *GZIP_TYPES),
            Comment("rate limits per client address; rejected requests get 429"),
            *(
                d(
                    "limit_req_zone",
                    "$binary_remote_addr",
                    f"zone={r.zone}:{self.zone_size_mib}m",
                    f"rate={r.expression}",
                )
                for r in self.rates()
            ),
            d("limit_conn_zone", "$binary_remote_addr", f"zone=per_client:{self.zone_size_mib}m"),
            d("limit_req_status", 429),
            d("limit_conn_status", 429),
            *self.tls_protocols(),
        ]
        if self.cors is not None:
            children += self.cors.maps()
        if self.proxy_protocol_sources:
            # The address the rate limits count by is the client's, as the balancer saw it;
            # a header from anyone else is refused with the connection (nginx: broken header).
            children += [d("set_real_ip_from", cidr) for cidr in self.proxy_protocol_sources]
            children += [d("real_ip_header", "proxy_protocol")]
        elif self.trusted_proxies:
            children += [d("set_real_ip_from", cidr) for cidr in self.trusted_proxies]
            children += [d("real_ip_header", "X-Forwarded-For"), d("real_ip_recursive", "on")]
        children += [
            *self.cache_paths(),
            Comment("upstream names are resolved while nginx runs (see proxy_pass)"),
            d("resolver", self.resolver, f"valid={self.resolver_valid_seconds}s", "ipv6=off"),
            d("resolver_timeout", f"{RESOLVER_TIMEOUT_SECONDS}s"),
            *self.unknown_hosts(),
            self.http_server(),
            self.https_server(),
            status_server(self.status_port, self.status_socket),
        ]
        return Block("http", children=[*hash_sizes(children, self.server_names), *children])

    def upstream_addresses(self) -> dict[str, str]:
        """host:port of everything the edge proxies to, by name."""
        found = {"api": self.upstream}
        found.update((route.name, route.address) for route in self.extra_routes)
        if self.frontend is not None:
            found["frontend"] = self.frontend.address
        return found

    def render(self) -> str:
        top: list[Directive | Block | Comment] = [
            Comment(f"Rendered for nginx {self.nginx_version[0]}.{self.nginx_version[1]}."),
            d("worker_processes", self.worker_processes),
            d("pid", f"{self.scratch}/nginx.pid"),
            d("error_log", "/dev/stderr", "warn"),
            # A proxied connection holds two descriptors (client and upstream), plus files.
            d("worker_rlimit_nofile", 2 * WORKER_CONNECTIONS + 1024),
            Block("events", children=[d("worker_connections", WORKER_CONNECTIONS)]),
            self.http(),
        ]
        return render(top, "components/edge/nginx.py")


def upstream_variable(name: str) -> str:
    """The variable holding an upstream's host:port (nginx names: letters, digits, _)."""
    return "$upstream_of_" + re.sub(r"[^A-Za-z0-9_]", "_", name)


def path_pattern(prefix: str) -> str:
    """A location regex for a path and everything under it: /metrics matches /metrics,
    /metrics/ and /metrics/x, never /metricsx; /api/auth/ matches what starts with it."""
    escaped = re.escape(prefix.rstrip("/"))
    if prefix.endswith("/"):
        return f"^{escaped}/"
    return f"^{escaped}(/|$)"
