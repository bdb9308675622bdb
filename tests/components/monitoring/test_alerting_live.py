"""Prometheus and Alertmanager from the generated configuration, run on loopback: a metric
crosses a threshold, the alert reaches a webhook receiver with its labels and runbook, then
resolves. Targets, ports, paths and timings are adapted; nothing else."""

from __future__ import annotations

import json
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

from components.monitoring.workloads.grafana import DASHBOARDS
from tests.live import answer_metrics, free_port, rendered_files, require
from tests.support import render

pytestmark = pytest.mark.live
ALERT = "RedisMemoryHigh"


@dataclass
class Stub:
    """A scrape target whose Redis memory the test sets, and the webhook receiver."""

    used: float = 10.0
    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    prometheus: str = ""

    def serve(self) -> ThreadingHTTPServer:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                answer_metrics(
                    self, f"redis_memory_used_bytes {stub.used}\nredis_memory_max_bytes 100\n"
                )

            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                stub.received.append((self.path, json.loads(self.rfile.read(length))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    def wait_for(self, path: str, status: str, timeout: float = 90) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for where, payload in list(self.received):
                alerts = [a for a in payload["alerts"] if a["labels"]["alertname"] == ALERT]
                if where == path and alerts and alerts[0]["status"] == status:
                    return dict(alerts[0])
            time.sleep(0.5)
        raise AssertionError(f"no {status} {ALERT} at {path}; received {self.received}")


def fast(document: dict[str, Any]) -> dict[str, Any]:
    """Timings shortened for a test: the same routes, receivers and inhibitions."""
    route = document["route"]
    route.update({"group_wait": "1s", "group_interval": "2s", "repeat_interval": "1h"})
    for child in route["routes"]:
        child.update({"group_wait": "1s", "group_interval": "2s"})
    return document


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stub]:
    require("prometheus", "prometheus-alertmanager")
    root = tmp_path_factory.mktemp("alerting")
    stub = Stub()
    server = stub.serve()
    hook = f"http://127.0.0.1:{server.server_address[1]}"
    am_port, prom_port = free_port(), free_port()

    # The stack's own files, with webhook receivers set in settings.
    webhook = "https://hooks.example.com"
    recording = render(
        "dev",
        {
            "monitoring": {
                "receivers": {
                    name: {"kind": "webhook", "url": f"{webhook}/{name}"}
                    for name in ("paging", "chat", "heartbeat")
                }
            }
        },
    )
    files = rendered_files(recording, "prodstack-dev-prometheus-0")
    alertmanager_yml = rendered_files(recording, "prodstack-dev-alertmanager-0")["alertmanager.yml"]

    rule_document = yaml.safe_load(files["rules.yml"])
    for rule in rule_document["groups"][0]["rules"]:
        if rule["alert"] == ALERT:
            rule["for"] = "2s"  # 5m in production: shortened for the test
    (root / "rules.yml").write_text(yaml.safe_dump(rule_document))

    # Adapted: the scrape interval, the rule file's path, Alertmanager's address, and the
    # redis job's target (the stub); the other jobs keep their in-stack names and stay down.
    prometheus_yml = yaml.safe_load(files["prometheus.yml"])
    prometheus_yml["global"].update({"scrape_interval": "1s", "evaluation_interval": "1s"})
    prometheus_yml["rule_files"] = [str(root / "rules.yml")]
    prometheus_yml["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] = [
        f"127.0.0.1:{am_port}"
    ]
    redis_job = next(j for j in prometheus_yml["scrape_configs"] if j["job_name"] == "redis")
    redis_job["static_configs"][0]["targets"] = [f"127.0.0.1:{server.server_address[1]}"]
    (root / "prometheus.yml").write_text(yaml.safe_dump(prometheus_yml))

    # Adapted: the receivers' URLs (the local receiver) and the grouping timings.
    (root / "alertmanager.yml").write_text(
        yaml.safe_dump(fast(yaml.safe_load(alertmanager_yml.replace(webhook, hook))))
    )

    am_log = (root / "am.log").open("w")
    prom_log = (root / "prom.log").open("w")
    processes = [
        subprocess.Popen(
            [
                "prometheus-alertmanager",
                f"--config.file={root / 'alertmanager.yml'}",
                f"--storage.path={root / 'am'}",
                f"--web.listen-address=127.0.0.1:{am_port}",
                "--cluster.listen-address=",
            ],
            stdout=subprocess.DEVNULL,
            stderr=am_log,
        ),
        subprocess.Popen(
            [
                "prometheus",
                f"--config.file={root / 'prometheus.yml'}",
                f"--storage.tsdb.path={root / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=prom_log,
        ),
    ]
    stub.prometheus = f"http://127.0.0.1:{prom_port}"
    try:
        yield stub
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
        am_log.close()
        prom_log.close()
        server.shutdown()


def test_alert_reaches_its_receiver_with_labels_and_runbook_then_resolves(pipeline: Stub) -> None:
    pipeline.used = 95.0  # 95% of maxmemory: above the 90% threshold
    fired = pipeline.wait_for("/chat", "firing")
    assert fired["labels"]["severity"] == "warning"
    assert fired["labels"]["service"] == "redis"
    assert fired["labels"]["job"] == "redis"
    runbook = fired["annotations"]["runbook_url"]
    assert runbook == "docs/runbooks/redis.md"
    assert (Path(__file__).resolve().parents[3] / runbook).is_file()
    assert "95%" in fired["annotations"]["description"]

    pipeline.used = 10.0
    resolved = pipeline.wait_for("/chat", "resolved")
    assert resolved["labels"]["alertname"] == ALERT


def test_the_watchdog_reaches_the_heartbeat_receiver(pipeline: Stub) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if any(
            path == "/heartbeat"
            and any(a["labels"]["alertname"] == "Watchdog" for a in p["alerts"])
            for path, p in pipeline.received
        ):
            return
        time.sleep(0.5)
    raise AssertionError(f"no Watchdog at /heartbeat: {pipeline.received}")


def test_every_dashboard_panel_query_is_valid_promql(pipeline: Stub) -> None:
    """Each panel's query, as Grafana would send it, evaluated by the live Prometheus."""
    dashboards = sorted(DASHBOARDS.glob("*.json"))
    assert len(dashboards) == 5
    checked = 0
    for path in dashboards:
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel["targets"]:
                query = target["expr"].replace("$__rate_interval", "1m")
                url = f"{pipeline.prometheus}/api/v1/query?" + urllib.parse.urlencode(
                    {"query": query}
                )
                with urllib.request.urlopen(url, timeout=10) as response:
                    answer = json.loads(response.read())
                assert answer["status"] == "success", (path.name, panel["title"], answer)
                checked += 1
    assert checked >= 20
