"""The edge behind a load balancer that sends the client's address by PROXY protocol
(edge.loadBalancer.clientAddress proxy-protocol), run by Debian's nginx on loopback: rate
limits count per client, not per balancer, and only the balancer may state an address."""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.components.edge.server import EdgeAndApi, edge_in_front_of_api, replace_exact
from tests.support import pinned, render

pytestmark = pytest.mark.live

BALANCER = "127.0.0.1"  # the only address the edge takes a PROXY header from
NAMESPACE_API = "api.prodstack-dev.svc.cluster.local:8080;"


def kubernetes_edge_files() -> dict[str, str]:
    """The edge's ConfigMap on Kubernetes behind such a balancer (Docker refuses the mode:
    its prober reaches the edge directly), with the cluster's names swapped for the harness's
    (the API by its Docker name, which the harness points at this machine's API)."""
    recording = render(
        "dev",
        {
            "platform": "kubernetes",
            "api": {"image": pinned("api")},
            "postgres": {"image": pinned("postgres")},
            "edge": {
                "nginxVersion": "1.22",
                "loadBalancer": {"clientAddress": "proxy-protocol", "proxySources": [BALANCER]},
            },
        },
    )
    data = next(r for r in recording.resources if r.name == "edge-edge-config").inputs["data"]
    conf = replace_exact(
        data["nginx.conf"],
        {
            "resolver kube-dns.kube-system.svc.cluster.local ": "resolver 127.0.0.1 ",
            NAMESPACE_API: "api:8080;",
        },
    )
    return {**data, "nginx.conf": conf}


@pytest.fixture(scope="module")
def behind_balancer() -> Iterator[EdgeAndApi]:
    with edge_in_front_of_api(reload_seconds=1, files=kubernetes_edge_files()) as running:
        yield running


def login_through_balancer(running: EdgeAndApi, client: str | None) -> int | None:
    """A login as the balancer passes it on: a PROXY v1 header naming `client`, then TLS
    (None: no header, as a client that bypasses the balancer). The reply's status, or None
    when the edge closed the connection."""
    body = json.dumps({"username": "ann"}).encode()
    context = ssl.create_default_context(cafile=str(Path(running.ca[1])))
    with socket.create_connection((BALANCER, running.edge.https_port), timeout=10) as raw:
        if client is not None:
            raw.sendall(f"PROXY TCP4 {client} {BALANCER} 40000 443\r\n".encode())
        try:
            with context.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(
                    b"POST /api/auth/login HTTP/1.1\r\nHost: localhost\r\n"
                    b"Content-Type: application/json\r\nConnection: close\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                status_line = tls.recv(64).split(b"\r\n")[0]
        except (ssl.SSLError, ConnectionError):
            return None
    return int(status_line.split()[1]) if status_line else None


def test_rate_limits_count_per_client_the_balancer_names(behind_balancer: EdgeAndApi) -> None:
    # Authentication: 5 a minute, per client address.
    first = [login_through_balancer(behind_balancer, "203.0.113.7") for _ in range(6)]
    assert first == [200] * 5 + [429]
    # Another client behind the same balancer has a bucket of its own.
    assert login_through_balancer(behind_balancer, "198.51.100.9") == 200
    # nginx names the client it refused, as the balancer named it.
    log = behind_balancer.edge.log.read_text()
    assert 'by zone "auth", client: 203.0.113.7,' in log, log[-2000:]


def test_a_connection_without_the_header_is_refused(behind_balancer: EdgeAndApi) -> None:
    """Without it a client could not be told from the balancer: nginx closes the
    connection (a broken header) instead of serving it under the balancer's address."""
    assert login_through_balancer(behind_balancer, None) is None
