"""Prod's kubelet and cAdvisor jobs, run by Debian's Prometheus against a stand-in kubelet on
loopback: they present the service account's token, verify the kubelet's certificate against
the cluster CA, and keep only this stack's volume and container statistics. Adapted: node discovery becomes the stand-in's
address (Debian's Prometheus has no Kubernetes discovery), and the token and CA paths become the
test's files; the job is otherwise as rendered."""

from __future__ import annotations

import json
import ssl
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.monitoring.prometheus import SERVICE_ACCOUNT_DIR
from tests.certificates import issue, make_ca
from tests.live import answer_metrics, free_port, require
from tests.support import one, render_shipped

pytestmark = pytest.mark.live
TOKEN = "service-account-token-for-the-test"
NAMESPACE = "prodstack-prod"
# What a kubelet exports, in part: two tenants' volumes, and metrics the stack does not need.
KUBELET_METRICS = f"""\
kubelet_volume_stats_available_bytes{{namespace="{NAMESPACE}",persistentvolumeclaim="data-postgres-0"}} 4e+09
kubelet_volume_stats_capacity_bytes{{namespace="{NAMESPACE}",persistentvolumeclaim="data-postgres-0"}} 1e+10
kubelet_volume_stats_used_bytes{{namespace="{NAMESPACE}",persistentvolumeclaim="data-postgres-0"}} 6e+09
kubelet_volume_stats_inodes{{namespace="{NAMESPACE}",persistentvolumeclaim="data-postgres-0"}} 655360
kubelet_volume_stats_available_bytes{{namespace="another-team",persistentvolumeclaim="cache"}} 1e+09
kubelet_running_pods 42
"""
# What its cAdvisor exports, in part: two tenants' containers, and a series the stack leaves.
CADVISOR_METRICS = f"""\
container_cpu_cfs_throttled_periods_total{{namespace="{NAMESPACE}",pod="api-1",container="api"}} 40
container_cpu_cfs_periods_total{{namespace="{NAMESPACE}",pod="api-1",container="api"}} 100
container_memory_working_set_bytes{{namespace="{NAMESPACE}",pod="api-1",container="api"}} 2e+08
container_cpu_cfs_throttled_periods_total{{namespace="another-team",pod="x-1",container="x"}} 7
container_network_receive_bytes_total{{namespace="{NAMESPACE}",pod="api-1"}} 1e+06
"""
PATHS = {"/metrics": KUBELET_METRICS, "/metrics/cadvisor": CADVISOR_METRICS}


@dataclass
class Kubelet:
    """Answers /metrics and /metrics/cadvisor over TLS, only to a caller presenting the
    token."""

    authorizations: list[str | None] = field(default_factory=list)

    def serve(self, cert: Path, key: Path) -> ThreadingHTTPServer:
        kubelet = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                kubelet.authorizations.append(self.headers.get("Authorization"))
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    self.send_response(401)
                    self.end_headers()
                    return
                answer_metrics(self, PATHS[self.path])

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server


def kubelet_job(name: str, kubelet_address: str, token: Path, ca: Path) -> dict[str, Any]:
    data = one(
        render_shipped("prod"), "kubernetes:core/v1:ConfigMap", "prometheus-prometheus-config"
    ).inputs["data"]
    jobs = {j["job_name"]: j for j in yaml.safe_load(data["prometheus.yml"])["scrape_configs"]}
    job = jobs[name]
    assert job.pop("kubernetes_sd_configs") == [{"role": "node"}]
    job["static_configs"] = [{"targets": [kubelet_address]}]
    assert job["authorization"] == {"credentials_file": f"{SERVICE_ACCOUNT_DIR}/token"}
    job["authorization"]["credentials_file"] = str(token)
    assert job["tls_config"] == {"ca_file": f"{SERVICE_ACCOUNT_DIR}/ca.crt"}
    job["tls_config"]["ca_file"] = str(ca)
    return dict(job)


def query(prometheus: str, expression: str) -> list[dict[str, Any]]:
    url = f"{prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": expression})
    with urllib.request.urlopen(url, timeout=5) as response:
        return list(json.load(response)["data"]["result"])


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Kubelet]]:
    require("prometheus", "openssl")
    root = tmp_path_factory.mktemp("kubelet")
    ca = make_ca(root)
    key, cert = issue(root, ca, "kubelet")
    kubelet = Kubelet()
    server = kubelet.serve(cert, key)
    token = root / "token"
    token.write_text(TOKEN)
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s"},
        "scrape_configs": [
            kubelet_job(name, f"localhost:{server.server_address[1]}", token, ca[1])
            for name in ("kubelet", "cadvisor")
        ],
    }
    (root / "prometheus.yml").write_text(yaml.safe_dump(config))
    log = (root / "prometheus.log").open("w")
    process = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={root / 'prometheus.yml'}",
            f"--storage.tsdb.path={root / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    prometheus = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if len(query(prometheus, 'up{job=~"kubelet|cadvisor"} == 1')) == 2:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        else:
            raise AssertionError((root / "prometheus.log").read_text())
        yield prometheus, kubelet
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
        server.shutdown()


def test_the_kubelet_is_scraped_with_the_token_over_verified_tls(
    scraped: tuple[str, Kubelet],
) -> None:
    prometheus, kubelet = scraped
    assert query(prometheus, 'up{job="kubelet"}')[0]["value"][1] == "1"
    assert set(kubelet.authorizations) == {f"Bearer {TOKEN}"}


def kept_series(prometheus: str, job: str) -> set[tuple[str, str | None]]:
    """(metric name, namespace) of every series the job stored, Prometheus's own aside."""
    series = query(prometheus, f'{{job="{job}", __name__!~"up|scrape_.*"}}')
    return {(s["metric"]["__name__"], s["metric"].get("namespace")) for s in series}


def test_only_this_stacks_volume_statistics_are_kept(scraped: tuple[str, Kubelet]) -> None:
    prometheus, _ = scraped
    assert kept_series(prometheus, "kubelet") == {
        ("kubelet_volume_stats_available_bytes", NAMESPACE),
        ("kubelet_volume_stats_capacity_bytes", NAMESPACE),
        ("kubelet_volume_stats_used_bytes", NAMESPACE),
    }
    # What the volume-filling alert reads, with the claim it names in its description.
    available = query(prometheus, "kubelet_volume_stats_available_bytes")
    assert [s["metric"]["persistentvolumeclaim"] for s in available] == ["data-postgres-0"]


def test_only_this_stacks_container_limits_are_kept_from_cadvisor(
    scraped: tuple[str, Kubelet],
) -> None:
    """What KubeContainerCpuThrottled reads, for this namespace's containers only."""
    prometheus, _ = scraped
    assert kept_series(prometheus, "cadvisor") == {
        ("container_cpu_cfs_throttled_periods_total", NAMESPACE),
        ("container_cpu_cfs_periods_total", NAMESPACE),
        ("container_memory_working_set_bytes", NAMESPACE),
    }
