"""`prodstack smoke`: check a deployed stack's public endpoint the way a client meets it.

Six checks, each independent so one failure does not hide the others: HTTPS with a
certificate valid for the name, plain HTTP redirected to HTTPS, the security headers, the
API's health endpoint, the authentication route's rate limit answering 429, and, where the
stack serves a frontend, its page revalidated so a deploy shows at once.
"""

from __future__ import annotations

import datetime as dt
import http.client
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from policies.frontend import entry_problem

# The edge's certificate alert fires at 14 days (components/monitoring/rules.py).
MIN_CERTIFICATE_DAYS = 14
ONE_YEAR_SECONDS = 31536000
TIMEOUT_SECONDS = 10
REDIRECT_PROBE = "/smoke?check=redirect"


@dataclass(frozen=True)
class Target:
    url: str
    ca_file: Path | None = None
    # Where plain HTTP is served; by default the URL's host on port 80.
    http_url: str | None = None
    # The API's liveness path: public and free (readiness is the stack's own, refused at
    # the edge like metrics).
    health_path: str = "/health/live"
    auth_path: str = "/api/auth/login"
    # The edge allows 5 a minute with a burst of 5: a 429 comes by the 7th request.
    auth_attempts: int = 20
    min_certificate_days: int = MIN_CERTIFICATE_DAYS

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or 443


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class Reply:
    status: int
    headers: http.client.HTTPMessage


def validate_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError(f"--url must be an https:// URL with a host name, got {url!r}")
    return url


def context(target: Target) -> ssl.SSLContext:
    """Verifies the chain (against --ca, else the system's roots) and the host name."""
    if target.ca_file is not None and not target.ca_file.is_file():
        raise ValueError(f"--ca {target.ca_file}: no such file")
    return ssl.create_default_context(cafile=str(target.ca_file) if target.ca_file else None)


def request(target: Target, method: str, path: str, body: bytes | None = None) -> Reply:
    connection = http.client.HTTPSConnection(
        target.host, target.port, context=context(target), timeout=TIMEOUT_SECONDS
    )
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return Reply(response.status, response.headers)
    finally:
        connection.close()


def check_https(target: Target) -> Check:
    with (
        socket.create_connection((target.host, target.port), timeout=TIMEOUT_SECONDS) as raw,
        context(target).wrap_socket(raw, server_hostname=target.host) as tls,
    ):
        certificate = tls.getpeercert() or {}
        version = tls.version()
    expires = dt.datetime.fromtimestamp(
        ssl.cert_time_to_seconds(str(certificate["notAfter"])), tz=dt.UTC
    )
    days = (expires - dt.datetime.now(tz=dt.UTC)).days
    detail = (
        f"{version}, certificate for {target.host} valid until {expires:%Y-%m-%d} ({days} days)"
    )
    if days < target.min_certificate_days:
        return Check(
            "https", False, f"{detail}: renew it, less than {target.min_certificate_days} days left"
        )
    return Check("https", True, detail)


def check_redirect(target: Target) -> Check:
    http_url = urlsplit(target.http_url or f"http://{target.host}")
    connection = http.client.HTTPConnection(
        http_url.hostname or target.host, http_url.port or 80, timeout=TIMEOUT_SECONDS
    )
    try:
        connection.request("GET", REDIRECT_PROBE)
        response = connection.getresponse()
        location = response.headers.get("Location", "")
    finally:
        connection.close()
    shown = f"http://{http_url.netloc}{REDIRECT_PROBE} -> {response.status} {location or '(none)'}"
    to = urlsplit(location)
    permanent = response.status in (301, 308)
    if permanent and to.scheme == "https" and to.hostname == target.host:
        return Check("redirect", True, shown)
    return Check("redirect", False, f"{shown}: expected 301 or 308 to https://{target.host}")


def _hsts_max_age(value: str) -> int:
    for part in value.split(";"):
        name, _, number = part.strip().partition("=")
        if name.lower() == "max-age" and number.strip().isdigit():
            return int(number)
    return 0


def check_headers(target: Target) -> Check:
    # A path nothing serves: the headers must be on error replies too.
    headers = request(target, "GET", "/smoke/not-found").headers
    missing: list[str] = []
    if _hsts_max_age(headers.get("Strict-Transport-Security", "")) < ONE_YEAR_SECONDS:
        missing.append("Strict-Transport-Security with max-age of a year or more")
    if headers.get("X-Content-Type-Options", "").lower() != "nosniff":
        missing.append("X-Content-Type-Options: nosniff")
    csp = headers.get("Content-Security-Policy", "")
    if not csp:
        missing.append("Content-Security-Policy")
    if "frame-ancestors" not in csp and not headers.get("X-Frame-Options"):
        missing.append("X-Frame-Options or CSP frame-ancestors")
    for name in ("Referrer-Policy", "Permissions-Policy"):
        if not headers.get(name):
            missing.append(name)
    if missing:
        return Check("headers", False, "missing: " + "; ".join(missing))
    return Check(
        "headers",
        True,
        "HSTS, CSP, X-Content-Type-Options, frame, referrer and permissions policies",
    )


def check_health(target: Target) -> Check:
    status = request(target, "GET", target.health_path).status
    return Check("health", status == 200, f"GET {target.health_path} -> {status}")


def check_rate_limit(target: Target) -> Check:
    statuses: list[int] = []
    for attempt in range(1, target.auth_attempts + 1):
        statuses.append(request(target, "POST", target.auth_path, b"{}").status)
        if statuses[-1] == 429:
            return Check(
                "rate-limit",
                True,
                f"POST {target.auth_path}: 429 at request {attempt} "
                "(this address is limited there for about a minute)",
            )
    seen = ", ".join(str(s) for s in sorted(set(statuses)))
    return Check(
        "rate-limit",
        False,
        f"POST {target.auth_path}: no 429 in {target.auth_attempts} requests (got {seen})",
    )


def check_frontend(target: Target) -> Check:
    """The page at /, when it is one: revalidated (no-cache or a short max-age) with a
    validator, so browsers see a deploy on their next load."""
    headers = request(target, "GET", "/").headers
    kind = headers.get("Content-Type", "")
    if not kind.startswith("text/html"):
        return Check("frontend", True, f"no frontend: GET / is {kind or 'no content'}")
    cache_control = headers.get("Cache-Control")
    validator = headers.get("ETag") or headers.get("Last-Modified")
    shown = f"GET / -> Cache-Control: {cache_control or '(none)'}"
    # The policy pack's own judgement of an entry point (frontend-entry-cache).
    problem = entry_problem([cache_control] if cache_control else None)
    if problem:
        return Check(
            "frontend",
            False,
            f"{shown}: {problem}; browsers keep an old build after a deploy "
            "(docs/runbooks/frontend.md)",
        )
    if not validator:
        return Check("frontend", False, f"{shown}, without ETag or Last-Modified to revalidate")
    return Check("frontend", True, f"{shown}, revalidated by ETag/Last-Modified")


CHECKS: tuple[Callable[[Target], Check], ...] = (
    check_https,
    check_redirect,
    check_headers,
    check_health,
    check_rate_limit,
    check_frontend,
)


def run_checks(target: Target) -> list[Check]:
    results = []
    for check in CHECKS:
        name = check.__name__.removeprefix("check_").replace("_", "-")
        try:
            results.append(check(target))
        except ssl.SSLCertVerificationError as error:
            results.append(Check(name, False, f"certificate not trusted: {error.verify_message}"))
        except (OSError, http.client.HTTPException) as error:
            results.append(Check(name, False, f"{type(error).__name__}: {error}"))
    return results


def report(target: Target, checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines = [f"smoke test of {target.url}"]
    lines += [f"  {'PASS' if c.passed else 'FAIL'}  {c.name:<{width}}  {c.detail}" for c in checks]
    passed = sum(c.passed for c in checks)
    lines.append(f"{passed} of {len(checks)} checks passed")
    return "\n".join(lines)


def run(target: Target, out: Callable[[str], None] = print) -> int:
    """Run every check, print the report; 0 when all passed, else 1."""
    checks = run_checks(target)
    out(report(target, checks))
    return 0 if all(c.passed for c in checks) else 1
