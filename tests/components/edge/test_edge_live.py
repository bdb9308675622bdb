"""The edge's rendered nginx.conf, run by Debian's nginx on loopback in front of the
reference API, through the rendered entrypoint (the certificate reloader)."""

from __future__ import annotations

import gzip
import http.client
import json
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from infra.program import main as program_main
from infra.render.mock_runtime import run_program
from infra.render.stack_config import load_stack_config
from tests.components.edge.server import (
    DEBIAN_NGINX,
    Edge,
    Reply,
    assert_security_headers,
    edge_in_front_of_api,
    https_request,
    issue,
    nginx_scratch,
    replace_exact,
    stack_files,
)
from tests.images.reference_api import RunningApi
from tests.live import free_port, free_ports, rendered_files
from tests.support import ROOT

pytestmark = pytest.mark.live


@dataclass
class Setup:
    edge: Edge
    ca: tuple[Path, Path]
    api: RunningApi
    root: Path

    def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
        edge: Edge | None = None,
    ) -> Reply:
        return https_request(edge or self.edge, self.ca[1], method, path, headers, body)


@pytest.fixture(scope="module")
def setup() -> Iterator[Setup]:
    with edge_in_front_of_api(reload_seconds=1) as running:
        yield Setup(running.edge, running.ca, running.api, running.root)


def name_server_of(conf: str) -> str:
    """The rendered `resolver` address: nginx resolves it at start when it is a name (the
    cluster's DNS), which this machine does not know."""
    (line,) = [x.strip() for x in conf.splitlines() if x.strip().startswith("resolver ")]
    return line.split()[1]


def shipped_files(stack: str) -> dict[str, str]:
    """A shipped stack's edge files, with only the nginx version set to Debian's: from the
    container on Docker (dev), from the ConfigMap on Kubernetes (prod)."""
    config = load_stack_config(ROOT, stack)
    edge = json.loads(config.values.get("prodstack:edge", "{}"))
    config.values["prodstack:edge"] = json.dumps({**edge, "nginxVersion": DEBIAN_NGINX})
    recording = run_program(config, program_main)
    if stack == "dev":
        return rendered_files(recording, "prodstack-dev-edge-0")
    configmap = next(r for r in recording.resources if r.name == "edge-edge-config")
    return dict(configmap.inputs["data"])


def certificate_paths(conf: str, cert: Path, key: Path) -> dict[str, str]:
    """The certificate's paths, wherever the stack's source puts them (secret files, or
    cert-manager's Secret)."""
    directory = next(d for d in ("/run/prodstack/secrets", "/run/prodstack/tls") if d in conf)
    return {f"{directory}/tls.crt": str(cert), f"{directory}/tls.key": str(key)}


@pytest.mark.parametrize("stack", ["dev", "prod", "dev-with-grafana"])
def test_nginx_accepts_each_shipped_stacks_configuration(stack: str, setup: Setup) -> None:
    files = (
        stack_files({}, {"grafanaPublic": True})
        if stack == "dev-with-grafana"
        else shipped_files(stack)
    )
    http, https, status = free_ports(3)
    (setup.root / "tmp").mkdir(exist_ok=True)
    conf = replace_exact(
        files["nginx.conf"],
        {
            "listen 8080": f"listen 127.0.0.1:{http}",
            "listen 8443 ssl": f"listen 127.0.0.1:{https} ssl",
            **nginx_scratch(setup.root, status, files["nginx.conf"]),
            **certificate_paths(files["nginx.conf"], setup.edge.cert, setup.edge.key),
            # In-stack addresses (the API, the frontend, Grafana) are resolved per request;
            # the name server itself at start: here one on loopback.
            f"resolver {name_server_of(files['nginx.conf'])} ": "resolver 127.0.0.1 ",
        },
    )

    path = setup.root / f"nginx-{stack}.conf"
    path.write_text(conf)
    result = subprocess.run(
        ["/usr/sbin/nginx", "-t", "-c", str(path), "-e", "/dev/stderr"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")  # offered on purpose
@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1])
def test_old_tls_versions_are_refused(setup: Setup, version: ssl.TLSVersion) -> None:
    context = setup.edge.context(setup.ca[1], version)
    with (
        socket.create_connection(("127.0.0.1", setup.edge.https_port), timeout=5) as raw,
        pytest.raises(ssl.SSLError) as refused,
    ):
        context.wrap_socket(raw, server_hostname="localhost")
    assert (
        "PROTOCOL_VERSION" in str(refused.value).upper()
        or "UNSUPPORTED" in str(refused.value).upper()
    )


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_tls_1_2_and_1_3_succeed_with_the_ca(setup: Setup, version: ssl.TLSVersion) -> None:
    context = setup.edge.context(setup.ca[1], version)
    expected = {ssl.TLSVersion.TLSv1_2: "TLSv1.2", ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version]
    with (
        socket.create_connection(("127.0.0.1", setup.edge.https_port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        assert tls.version() == expected


def test_plain_http_is_permanently_redirected(setup: Setup) -> None:
    connection = http.client.HTTPConnection("localhost", setup.edge.http_port, timeout=5)
    connection.request("GET", "/api/items?page=2")
    response = connection.getresponse()
    assert response.status == 308
    assert response.headers["Location"] == "https://localhost/api/items?page=2"


def test_proxied_replies_carry_security_headers_and_a_request_id(setup: Setup) -> None:
    ok = setup.request("GET", "/api/items", {"X-Request-ID": "req-123"})
    assert ok.status == 200 and json.loads(ok.body)[0]["id"] == 1
    assert_security_headers(ok)
    # Once: the API echoes the id too, and the edge hides the echo.
    assert ok.headers.get_all("X-Request-ID") == ["req-123"]
    generated = setup.request("GET", "/api/items/1")
    (made,) = generated.headers.get_all("X-Request-ID")
    assert len(made) == 32
    missing = setup.request("GET", "/nowhere")
    assert missing.status == 404
    assert_security_headers(missing)


def test_oversized_body_gets_413_with_headers(setup: Setup) -> None:
    reply = setup.request("POST", "/api/items", {"Content-Length": str(11 * 1024 * 1024)}, b"")
    assert reply.status == 413
    assert_security_headers(reply)


def test_unreachable_upstream_gets_502_with_headers(setup: Setup) -> None:
    dead = Edge(setup.root / "dead", setup.edge.files, f"127.0.0.1:{free_port()}")
    dead.root.mkdir()
    dead.prepare(setup.ca)
    dead.start()
    try:
        reply = setup.request("GET", "/api/items", edge=dead)
    finally:
        dead.stop()
    assert reply.status == 502
    assert_security_headers(reply)


def drain_rate_limits() -> None:
    """All tests are one client: let its API bucket (10 r/s, burst 20) empty again."""
    time.sleep(2.5)


def test_api_burst_is_served_then_refused_with_429(setup: Setup) -> None:
    drain_rate_limits()
    # One keep-alive connection, so the 40 requests arrive faster than the bucket refills.
    connection = http.client.HTTPSConnection(
        "localhost", setup.edge.https_port, context=setup.edge.context(setup.ca[1]), timeout=10
    )
    statuses = []
    last: http.client.HTTPResponse | None = None
    for _ in range(40):
        connection.request("GET", "/api/items")
        last = connection.getresponse()
        last.read()
        statuses.append(last.status)
    connection.close()
    assert statuses[:20] == [200] * 20  # burst 20: served at once
    assert statuses[-1] == 429 and last is not None
    assert_security_headers(Reply(last.status, last.headers, b""))
    time.sleep(1.2)  # 10 r/s: within the limit again
    assert setup.request("GET", "/api/items").status == 200
    drain_rate_limits()


def test_sixth_authentication_request_in_a_minute_gets_429_whatever_its_case(
    setup: Setup,
) -> None:
    drain_rate_limits()
    login = json.dumps({"username": "ann"}).encode()
    headers = {"Content-Type": "application/json"}
    statuses = [setup.request("POST", "/api/auth/login", headers, login).status for _ in range(5)]
    assert statuses == [200] * 5
    # Spelled otherwise, or with a doubled slash, it is the same path to an API that
    # routes case-insensitively, and the same bucket at the edge.
    for variant in ("/API/AUTH/login", "/api//Auth/login"):
        assert setup.request("POST", variant, headers, login).status == 429, variant


def test_a_host_the_stack_does_not_serve_is_refused_at_the_edge(setup: Setup) -> None:
    assert setup.request("GET", "/api/items", {"Host": "evil.example"}).status == 421
    plain = http.client.HTTPConnection("127.0.0.1", setup.edge.http_port, timeout=5)
    plain.request("GET", "/api/items", headers={"Host": "evil.example"})
    assert plain.getresponse().status == 421
    plain.close()
    # The name it serves still works, on both ports.
    assert setup.request("GET", "/api/items").status == 200


def test_a_handshake_for_a_name_the_stack_does_not_serve_is_refused(setup: Setup) -> None:
    context = setup.edge.context(setup.ca[1])
    context.check_hostname = False
    for name in ("evil.example", None):
        with (
            socket.create_connection(("127.0.0.1", setup.edge.https_port), timeout=5) as raw,
            pytest.raises(ssl.SSLError, match=r"UNRECOGNIZED_NAME|unrecognized name"),
        ):
            context.wrap_socket(raw, server_hostname=name)


def test_internal_paths_are_refused_in_any_case(setup: Setup) -> None:
    """The API's metrics and its readiness are the stack's: each readiness hit may cost the
    database a connection (until the replica first answered), so not the public's."""
    for path in (
        "/metrics",
        "/METRICS",
        "/Metrics/",
        "//metrics",
        "/health/ready",
        "/HEALTH/Ready",
    ):
        assert setup.request("GET", path).status == 404, path
    assert setup.request("GET", "/health/live").status == 200


def test_access_log_is_one_json_object_per_line(setup: Setup) -> None:
    setup.request("GET", "/api/items", {"X-Request-ID": "log-check"})
    time.sleep(1.5)  # the log is flushed every second

    lines = [line for line in setup.edge.log.read_text().splitlines() if line.startswith("{")]
    entries = [json.loads(line) for line in lines]
    assert entries
    mine = [e for e in entries if e["request_id"] == "log-check"]
    assert mine and mine[-1]["status"] == 200 and mine[-1]["uri"] == "/api/items"
    assert mine[-1]["tls"] in ("TLSv1.2", "TLSv1.3")


def test_json_is_compressed(setup: Setup) -> None:
    reply = setup.request("GET", "/api/items", {"Accept-Encoding": "gzip"})
    assert reply.status == 200
    assert reply.headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(reply.body))[49]["id"] == 50


def test_status_port_answers_health_and_stub_status(setup: Setup) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", setup.edge.status_port, timeout=5)
    connection.request("GET", "/healthz")
    assert connection.getresponse().read() == b"ok"
    connection.request("GET", "/stub_status")
    assert b"Active connections" in connection.getresponse().read()


def serial_of(setup: Setup) -> int:
    context = setup.edge.context(setup.ca[1])
    with (
        socket.create_connection(("127.0.0.1", setup.edge.https_port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        certificate = tls.getpeercert()
    assert certificate
    return int(str(certificate["serialNumber"]), 16)


def test_a_renewed_certificate_is_picked_up_without_dropping_a_request(setup: Setup) -> None:
    before = serial_of(setup)
    context = setup.edge.context(setup.ca[1])
    raw = socket.create_connection(("127.0.0.1", setup.edge.https_port), timeout=10)
    with context.wrap_socket(raw, server_hostname="localhost") as in_flight:
        # A request whose body is still arriving while the certificate is renewed.
        in_flight.sendall(
            b"POST /api/items HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Length: 20\r\nConnection: close\r\n\r\n0123456789"
        )
        key, cert = issue(setup.edge.root, setup.ca, "renewed")
        setup.edge.install_certificate(cert, key)
        deadline = time.monotonic() + 15
        while serial_of(setup) == before and time.monotonic() < deadline:
            time.sleep(0.3)
        assert serial_of(setup) != before, setup.edge.log.read_text()[-2000:]
        in_flight.sendall(b"0123456789")  # the rest of the body, after the reload
        reply = in_flight.recv(4096)
    # Answered by the old worker (the API says 404 to POST /api/items): not dropped.
    assert reply.startswith(b"HTTP/1.1 404"), reply[:200]
    assert "prodstack-watch: files changed, reloaded" in setup.edge.log.read_text()


def test_sigterm_stops_nginx_gracefully_and_closes_idle_keepalive_connections(
    setup: Setup,
) -> None:
    """After its preStop, a stopping edge quits gracefully: a client's idle kept-alive
    connection is closed at once, so its next request opens a new one (which the load
    balancer sends to a replica that stays), instead of finding a dead pod."""
    other = Edge(setup.root / "stopping", setup.edge.files, setup.edge.upstream)
    other.root.mkdir()
    other.prepare(setup.ca)
    other.start()
    context = other.context(setup.ca[1])
    raw = socket.create_connection(("127.0.0.1", other.https_port), timeout=10)
    with context.wrap_socket(raw, server_hostname="localhost") as tls:
        tls.sendall(b"GET /api/items HTTP/1.1\r\nHost: localhost\r\n\r\n")
        reply = tls.recv(65536)
        assert reply.startswith(b"HTTP/1.1 200") and b"Connection: close" not in reply
        started = time.monotonic()
        assert other.stop() == 0
        # The kept-alive connection was closed by the server, well before any timeout.
        try:
            closed = tls.recv(1024) == b""
        except (ssl.SSLError, ConnectionError):
            closed = True
        assert closed
        assert time.monotonic() - started < 10
