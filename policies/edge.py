"""The edge: TLS versions, redirect-only HTTP, HSTS, security headers, rate limits, and a
certificate source in prod. Read from the generated nginx.conf wherever it is carried
(ConfigMap on Kubernetes, the container's uploads on Docker)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from policies.rule import EVERYWHERE, PROD_ONLY, Context, Violation, resource_rule, stack_rule
from policies.view import FILE_CARRIERS, Subject, files, get

MODERN_TLS = {"TLSv1.2", "TLSv1.3"}
ONE_YEAR = 31536000
REQUIRED_HEADERS = (
    "X-Content-Type-Options",
    "Referrer-Policy",
    "Permissions-Policy",
    "Content-Security-Policy",
)
AUTH_PATH = re.compile(r"auth|login|token|session|password", re.I)
CERTIFICATE = "kubernetes:cert-manager.io/v1:Certificate"
SELF_SIGNED = "tls:index/selfSignedCert:SelfSignedCert"


@dataclass
class Block:
    """An nginx directive: its name, arguments and, for blocks, the directives inside."""

    name: str
    args: list[str]
    children: list[Block] = field(default_factory=list)

    def all(self, name: str) -> list[Block]:
        return [c for c in self.children if c.name == name]

    def first(self, name: str) -> Block | None:
        found = self.all(name)
        return found[0] if found else None


TOKEN = re.compile(r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[{};]|[^\s{};'"#]+|\#[^\n]*""")


def parse(text: str) -> Block:
    """nginx.conf as a tree of blocks (enough of the grammar for generated configs)."""
    root = Block("main", [])
    stack: list[Block] = [root]
    words: list[str] = []
    for token in TOKEN.findall(text):
        if token.startswith("#"):
            continue
        if token == ";":
            if words:
                stack[-1].children.append(Block(words[0], words[1:]))
            words = []
        elif token == "{":
            block = Block(words[0] if words else "", words[1:])
            stack[-1].children.append(block)
            stack.append(block)
            words = []
        elif token == "}":
            if len(stack) > 1:
                stack.pop()
            words = []
        else:
            words.append(token[1:-1] if token[0] in "'\"" else token)
    return root


def _servers(text: str) -> list[Block]:
    http = parse(text).first("http")
    return http.all("server") if http else []


def _is_tls(server: Block) -> bool:
    return any("ssl" in listen.args for listen in server.all("listen"))


def _refuses_all(server: Block) -> bool:
    """A server that answers every request with an error and serves nothing (the default
    server that refuses hosts the stack does not serve): no headers to send."""
    ret = server.first("return")
    return (
        not server.all("location")
        and ret is not None
        and ret.args[0].isdigit()
        and int(ret.args[0]) >= 400
    )


def _is_status(server: Block) -> bool:
    return any(loc.first("stub_status") for loc in server.all("location"))


def _headers(server: Block) -> dict[str, list[str]]:
    return {h.args[0].lower(): h.args[1:] for h in server.all("add_header") if h.args}


def _nginx_configs(subject: Subject) -> Iterator[str]:
    text = files(subject).get("nginx.conf")
    if text is not None:
        yield text


# Every nginx the stack runs: the edge's and the frontend's configuration files.
NGINX_CONFIG_FILES = ("nginx.conf", "frontend.conf")


@resource_rule(
    "nginx-worker-count",
    "Every nginx of the stack (the edge, the frontend) sets worker_processes to a number.",
    "`auto` counts the host's CPUs, not the container's CPU limit: dozens of workers on a large node, throttled under the limit, each with its own memory.",
    EVERYWHERE,
    FILE_CARRIERS,
    ("nginx docs (worker_processes)", "Kubernetes: CPU limits and runtime CPU counts"),
)
def worker_count(subject: Subject, _: Context) -> Iterator[str]:
    for name in NGINX_CONFIG_FILES:
        text = files(subject).get(name)
        if text is None:
            continue
        workers = parse(text).first("worker_processes")
        if workers is None or not (workers.args and workers.args[0].isdigit()):
            shown = " ".join(workers.args) if workers else "unset"
            yield f"{name}: worker_processes is {shown}, not a number from the CPU limit"


@resource_rule(
    "edge-tls-versions",
    "Every TLS server of the edge allows TLS 1.2 and 1.3 only.",
    "TLS 1.0 and 1.1 are deprecated (RFC 8996) and broken in ways that downgrade or decrypt traffic.",
    EVERYWHERE,
    FILE_CARRIERS,
    ("Mozilla server-side TLS", "testssl.sh"),
)
def tls_versions(subject: Subject, _: Context) -> Iterator[str]:
    for text in _nginx_configs(subject):
        http = parse(text).first("http")
        inherited = http.first("ssl_protocols") if http else None
        for server in _servers(text):
            if not _is_tls(server):
                continue
            directive = server.first("ssl_protocols") or inherited
            protocols = (
                set(directive.args) if directive else {"TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"}
            )
            old = protocols - MODERN_TLS
            if old:
                yield f"nginx.conf allows {', '.join(sorted(old))}"


@resource_rule(
    "edge-http-redirects",
    "Plain-HTTP servers of the edge only redirect to HTTPS (301 or 308).",
    "Anything served over plain HTTP can be read and altered on the way; a redirect is all HTTP should ever say.",
    EVERYWHERE,
    FILE_CARRIERS,
    ("Mozilla observatory (redirection)",),
)
def http_redirects(subject: Subject, _: Context) -> Iterator[str]:
    for text in _nginx_configs(subject):
        for server in _servers(text):
            if _is_tls(server) or _is_status(server):
                continue
            for location in server.all("location"):
                ret = location.first("return")
                if (
                    ret is None
                    or ret.args[0] not in ("301", "308")
                    or not ret.args[1:]
                    or not ret.args[1].startswith("https://")
                ):
                    yield f"the plain-HTTP server serves location {' '.join(location.args)} instead of redirecting to HTTPS"
            if server.first("proxy_pass"):
                yield "the plain-HTTP server proxies requests"


@resource_rule(
    "edge-hsts",
    "TLS servers send Strict-Transport-Security with max-age of at least one year, on every response (always).",
    "HSTS makes browsers refuse plain HTTP for the domain, closing the first-request downgrade window.",
    EVERYWHERE,
    FILE_CARRIERS,
    ("Mozilla observatory (HSTS)",),
)
def hsts(subject: Subject, _: Context) -> Iterator[str]:
    for text in _nginx_configs(subject):
        for server in _servers(text):
            if not _is_tls(server) or _refuses_all(server):
                continue
            header = _headers(server).get("strict-transport-security")
            if header is None:
                yield "a TLS server sends no Strict-Transport-Security"
                continue
            match = re.search(r"max-age=(\d+)", " ".join(header))
            age = int(match.group(1)) if match else 0
            if age < ONE_YEAR:
                yield f"Strict-Transport-Security max-age is {age}, under a year"
            if "always" not in header:
                yield "Strict-Transport-Security is not sent on error responses (always)"


@resource_rule(
    "edge-security-headers",
    "TLS servers send X-Content-Type-Options, X-Frame-Options or CSP frame-ancestors, Referrer-Policy, Permissions-Policy and Content-Security-Policy, always.",
    "They stop MIME sniffing, clickjacking, referrer leaks and script injection in browsers that reach the API.",
    EVERYWHERE,
    FILE_CARRIERS,
    ("Mozilla observatory", "OWASP secure headers"),
)
def security_headers(subject: Subject, _: Context) -> Iterator[str]:
    for text in _nginx_configs(subject):
        for server in _servers(text):
            if not _is_tls(server) or _refuses_all(server):
                continue
            headers = _headers(server)
            missing = [h for h in REQUIRED_HEADERS if h.lower() not in headers]
            csp = " ".join(headers.get("content-security-policy", []))
            if "x-frame-options" not in headers and "frame-ancestors" not in csp:
                missing.append("X-Frame-Options or frame-ancestors")
            if missing:
                yield f"a TLS server does not send {', '.join(missing)}"
            not_always = sorted(h for h, args in headers.items() if "always" not in args)
            if not_always:
                yield f"headers {', '.join(not_always)} are not sent on error responses (always)"


def _rate(value: str) -> float:
    """Requests per second of an nginx rate (10r/s, 5r/m)."""
    match = re.fullmatch(r"rate=(\d+)r/([sm])", value)
    if not match:
        return float("inf")
    return int(match.group(1)) / (1 if match.group(2) == "s" else 60)


@resource_rule(
    "edge-rate-limits",
    "Every proxied location of the edge is rate limited, authentication routes by a stricter zone, and refusals answer 429.",
    "Limits keep one client from exhausting the API; credential stuffing needs a much lower ceiling than ordinary traffic.",
    EVERYWHERE,
    FILE_CARRIERS,
    ("OWASP API4:2023",),
)
def rate_limits(subject: Subject, _: Context) -> Iterator[str]:
    for text in _nginx_configs(subject):
        http = parse(text).first("http")
        if http is None:
            continue
        zones = {}
        for zone in http.all("limit_req_zone"):
            name = next(
                (a.split("=", 1)[1].split(":")[0] for a in zone.args if a.startswith("zone=")), ""
            )
            zones[name] = min(
                (_rate(a) for a in zone.args if a.startswith("rate=")), default=float("inf")
            )
        status = http.first("limit_req_status")
        if status is None or status.args != ["429"]:
            yield "rate-limited requests are not answered with 429"
        general: list[float] = []
        auth: list[tuple[str, float]] = []
        for server in _servers(text):
            if not _is_tls(server):
                continue
            for location in server.all("location"):
                if not location.first("proxy_pass"):
                    continue
                used = [
                    a.split("=", 1)[1]
                    for d in location.all("limit_req")
                    for a in d.args
                    if a.startswith("zone=")
                ]
                path = " ".join(location.args)
                if not used:
                    yield f"location {path} is not rate limited"
                    continue
                strictest = min(zones.get(z, float("inf")) for z in used)
                (
                    auth.append((path, strictest))
                    if AUTH_PATH.search(path)
                    else general.append(strictest)
                )
        if not auth:
            yield "no authentication route has a rate limit of its own"
        for path, rate in auth:
            if general and rate >= min(general):
                yield f"location {path} is limited no more strictly than the API"


# The edge component: its children are the edge's certificate (not the stack's inside ones).
EDGE_TYPE = "prodstack:index:Edge"


@stack_rule(
    "edge-certificate-source",
    "In prod the edge's certificate comes from cert-manager (a Certificate with an issuer) or is supplied; never the stack's self-signed CA.",
    "A self-signed certificate in prod means every client either fails or was told to skip verification.",
    PROD_ONLY,
    (),
)
def certificate_source(subjects: Sequence[Subject], _: Context) -> Iterator[Violation]:
    if not any("nginx.conf" in files(s) for s in subjects if s.type in FILE_CARRIERS):
        return
    # The edge's own: the stack also issues certificates for inside use (components/tls).
    edge = [s for s in subjects if EDGE_TYPE in s.parent]
    for s in edge:
        if s.type == SELF_SIGNED:
            yield Violation("the edge's certificate is signed by the stack's own CA", s)
            return
    issued = [
        s for s in edge if s.type == CERTIFICATE and get(s.props, "spec", "issuerRef", "name")
    ]
    supplied = [
        s for s in subjects if any(name in ("tls.crt", "edge-tls.crt") for name in files(s))
    ]
    if not issued and not supplied:
        yield Violation(
            "the edge has no certificate source (cert-manager Certificate or supplied certificate)"
        )


# An origin no stack allows: a CORS setup that lets it in lets in any origin.
STRANGER = "https://stranger.invalid"
ALLOW_ORIGIN = "access-control-allow-origin"
ALLOW_CREDENTIALS = "access-control-allow-credentials"


def _maps(http: Block) -> dict[str, Block]:
    """The http block's maps, by the variable each one sets."""
    return {m.args[1]: m for m in http.all("map") if len(m.args) == 2}


def _map_values(variable: str, maps: dict[str, Block], origin: str | None) -> list[str]:
    """What `variable` can be: for `origin` (None: for any request), through its map."""
    block = maps.get(variable)
    if block is None:
        return [variable]
    values = []
    for entry in block.children:
        key, value = entry.name, (entry.args[0] if entry.args else "")
        if origin is None or key == "default":
            values.append(value)
        elif key.startswith("~"):
            flags = re.IGNORECASE if key.startswith("~*") else 0
            if re.search(key.lstrip("~*"), origin, flags):
                values.append(value)
        elif key == origin:
            values.append(value)
    return values


def _admits_any_origin(value: str, maps: dict[str, Block]) -> bool:
    """Whether Access-Control-Allow-Origin set to `value` admits an origin nobody listed:
    *, or the request's Origin echoed back unchecked."""
    if value in ("*", "$http_origin"):
        return True
    return any(v in ("*", "$http_origin") for v in _map_values(value, maps, STRANGER))


def _cors_locations(text: str) -> Iterator[tuple[str, Block, dict[str, Block]]]:
    """Each place that sends Access-Control-Allow-Origin: (where, the block, the maps)."""
    http = parse(text).first("http")
    if http is None:
        return
    maps = _maps(http)
    for server in _servers(text):
        for block in (server, *server.all("location")):
            if ALLOW_ORIGIN in _headers(block):
                where = " ".join(block.args) if block is not server else "server"
                yield where, block, maps


@resource_rule(
    "edge-cors-origins",
    "In prod, CORS lets only named origins call the API: never *, nor the request's Origin echoed back.",
    "Any origin means any site's pages can read the API's replies in a visitor's browser; in prod name the frontends that may.",
    PROD_ONLY,
    FILE_CARRIERS,
    ("OWASP HTML5 security (CORS)", "PortSwigger CORS misconfiguration"),
)
def cors_origins(subject: Subject, _: Context) -> Iterator[str]:
    for text in _nginx_configs(subject):
        for where, block, maps in _cors_locations(text):
            value = _headers(block)[ALLOW_ORIGIN][0]
            if _admits_any_origin(value, maps):
                yield f"location {where}: CORS allows any origin"


@resource_rule(
    "edge-cors-credentials",
    "CORS that allows credentials (cookies, Authorization) names its origins.",
    "With credentials, an origin allowed by wildcard or echo lets any site act as the signed-in visitor and read the answers.",
    EVERYWHERE,
    FILE_CARRIERS,
    ("Fetch standard (CORS protocol)", "PortSwigger CORS misconfiguration"),
)
def cors_credentials(subject: Subject, _: Context) -> Iterator[str]:
    for text in _nginx_configs(subject):
        for where, block, maps in _cors_locations(text):
            headers = _headers(block)
            credentials = headers.get(ALLOW_CREDENTIALS)
            if credentials is None:
                continue
            for_stranger = _map_values(credentials[0], maps, None)
            if "true" not in for_stranger:
                continue
            if _admits_any_origin(headers[ALLOW_ORIGIN][0], maps):
                yield f"location {where}: CORS allows credentials from any origin"
