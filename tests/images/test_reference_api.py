"""The reference API in images/api, run as a process from its own source on loopback."""

from __future__ import annotations

import json
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.images.reference_api import (
    API_SOURCE,
    REDIS_PASSWORD,
    RunningApi,
    dependency,
    start_api,
)
from tests.live import free_port


class FakeRedis(socketserver.BaseRequestHandler):
    """Answers AUTH app <password> and PING like Redis does."""

    password = REDIS_PASSWORD

    def handle(self) -> None:
        while chunk := self.request.recv(1024):
            if b"AUTH" in chunk:
                if self.password.encode() not in chunk:
                    self.request.sendall(b"-WRONGPASS invalid username-password pair\r\n")
                    return
                self.request.sendall(b"+OK\r\n")
            if b"PING" in chunk:
                self.request.sendall(b"+PONG\r\n")
                return


class FakePostgres(socketserver.BaseRequestHandler):
    """Answers a startup message with an authentication request, like Postgres does."""

    def handle(self) -> None:
        self.request.recv(1024)
        self.request.sendall(b"R\x00\x00\x00\x0c\x00\x00\x00\x0a")


@dataclass
class Fakes:
    redis_port: int
    postgres_port: int


@pytest.fixture(scope="module")
def fakes() -> Iterator[Fakes]:
    servers = [
        socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
        for handler in (FakeRedis, FakePostgres)
    ]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield Fakes(servers[0].server_address[1], servers[1].server_address[1])
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def api(tmp_path: Path, fakes: Fakes) -> Iterator[RunningApi]:
    secrets = tmp_path / "secrets"
    running = start_api(
        tmp_path,
        [
            dependency(
                "redis",
                fakes.redis_port,
                {"password": str(secrets / "redis-password"), "user": str(secrets / "redis-user")},
            ),
            dependency("postgres", fakes.postgres_port),
        ],
    )
    yield running
    running.process.kill()
    running.process.wait()


def test_liveness_and_readiness_with_every_dependency_up(api: RunningApi) -> None:
    assert api.get("/health/live") == (200, '{"status": "alive"}')
    status, body = api.get("/health/ready")
    assert status == 200, body
    assert json.loads(body) == {"status": "ready", "failures": {}}


def test_readiness_fails_and_names_the_dependency_that_is_down(tmp_path: Path) -> None:
    closed = free_port()
    running = start_api(tmp_path, [dependency("redis", closed)])
    try:
        status, body = running.get("/health/ready")
        assert status == 503
        assert "redis" in json.loads(body)["failures"]
        assert running.get("/health/live")[0] == 200  # alive, only not ready
    finally:
        running.process.kill()
        running.process.wait()


def test_it_listens_only_once_its_dependencies_answer(tmp_path: Path) -> None:
    """The edge on Docker sends a request to any replica whose port is open: a replica
    that cannot serve yet keeps its port closed (the edge tries the next one)."""
    closed = free_port()
    running = start_api(tmp_path, [dependency("redis", closed)], ready_wait_seconds=30)
    try:
        time.sleep(1.5)
        with pytest.raises(OSError):
            running.get("/health/live")
        running.process.send_signal(signal.SIGTERM)
        output, _ = running.process.communicate(timeout=10)
        events = [json.loads(line)["event"] for line in output.splitlines() if "event" in line]
        assert events[0] == "waiting for dependencies" and "listening" not in events
        assert events[-1] == "stopped" and running.process.returncode == 0
    finally:
        if running.process.poll() is None:
            running.process.kill()


def test_readiness_fails_on_a_wrong_redis_password(tmp_path: Path, fakes: Fakes) -> None:
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-password")
    running = start_api(tmp_path, [dependency("redis", fakes.redis_port, {"password": str(wrong)})])
    try:
        status, body = running.get("/health/ready")
        assert status == 503
        assert "WRONGPASS" in json.loads(body)["failures"]["redis"]
    finally:
        running.process.kill()
        running.process.wait()


def test_a_dependency_lost_after_start_keeps_the_replica_in_rotation(tmp_path: Path) -> None:
    """Readiness gates on the dependencies only until they first answer (a new release or
    password that cannot log in never takes traffic); after that a shared outage must not
    take every replica out of its Service at once, and the prober's hits cost the database
    nothing. The old API checked Postgres on every readiness hit and went unready with it."""
    postgres = socketserver.ThreadingTCPServer(("127.0.0.1", 0), FakePostgres)
    threading.Thread(target=postgres.serve_forever, daemon=True).start()
    running = start_api(tmp_path, [dependency("postgres", postgres.server_address[1])])
    try:
        assert running.get("/health/ready")[0] == 200
        postgres.shutdown()
        postgres.server_close()  # the database is gone
        status, body = running.get("/health/ready")
        assert (status, json.loads(body)["status"]) == (200, "ready")
    finally:
        running.process.kill()
        running.process.wait()


def test_a_stopping_replica_leaves_rotation(api: RunningApi) -> None:
    """On SIGTERM it answers readiness 503 while its requests in flight finish, so nothing
    that still asks (a kubelet, the edge's prober) keeps sending it new ones."""
    assert api.get("/health/ready")[0] == 200
    connection = socket.create_connection(("127.0.0.1", int(api.base.rsplit(":", 1)[1])))
    connection.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
    connection.recv(1024)  # a kept-alive connection, open across the signal
    api.process.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    connection.sendall(b"GET /health/ready HTTP/1.1\r\nHost: x\r\n\r\n")
    reply = b""
    while chunk := connection.recv(1024):  # until it closes: draining, Connection: close
        reply += chunk
    connection.close()
    # (the first reply's body may arrive in this read too)
    _, _, second = reply.decode().partition("HTTP/1.1 503 ")
    assert '{"status": "stopping", "failures": {}}' in second, reply


def test_metrics_count_requests_by_route_template(api: RunningApi) -> None:
    api.get("/api/items")
    api.get("/api/items/3")
    api.get("/api/items/99")
    api.get("/nowhere")
    status, text = api.get("/metrics")
    assert status == 200
    families = {f.name: f for f in text_string_to_metric_families(text)}
    counts = {
        (s.labels["method"], s.labels["route"], s.labels["status"]): s.value
        for s in families["http_requests"].samples
        if s.name == "http_requests_total"
    }
    assert counts[("GET", "/api/items/{id}", "200")] == 1
    assert counts[("GET", "/api/items/{id}", "404")] == 1
    assert counts[("GET", "unmatched", "404")] == 1
    histogram = families["http_request_duration_seconds"]
    assert histogram.type == "histogram"
    buckets = [s for s in histogram.samples if s.name.endswith("_bucket")]
    assert any(s.labels["le"] == "+Inf" for s in buckets)


def test_login_issues_a_token_signed_with_the_signing_key(api: RunningApi) -> None:
    status, body = api.post("/api/auth/login", {"username": "ann"})
    assert status == 200
    token = body["token"]
    assert api.get("/api/auth/whoami", {"Authorization": f"Bearer {token}"}) == (
        200,
        '{"username": "ann"}',
    )
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert api.get("/api/auth/whoami", {"Authorization": f"Bearer {forged}"})[0] == 401


def test_request_id_is_returned(api: RunningApi) -> None:
    request = urllib.request.Request(api.base + "/api/items", headers={"X-Request-ID": "abc-123"})
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.headers["X-Request-ID"] == "abc-123"


def test_sigterm_stops_gracefully_with_json_logs(api: RunningApi) -> None:
    api.get("/api/items")
    api.process.send_signal(signal.SIGTERM)
    output, _ = api.process.communicate(timeout=10)
    assert api.process.returncode == 0
    events = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert events[0]["event"] == "listening"
    assert any(e.get("route") == "/api/items" and e.get("status") == 200 for e in events)
    assert events[-1]["event"] == "stopped"


def test_healthcheck_program_reports_the_readiness_status(api: RunningApi) -> None:
    healthcheck = API_SOURCE / "api-healthcheck"
    ok = subprocess.run([sys.executable, healthcheck, api.base + "/health/ready"], check=False)
    down = subprocess.run(
        [sys.executable, healthcheck, f"http://127.0.0.1:{free_port()}/health/ready"], check=False
    )
    assert (ok.returncode, down.returncode) == (0, 1)


def test_notes_need_text_and_answer_503_when_a_store_refuses(api: RunningApi) -> None:
    request = urllib.request.Request(api.base + "/api/notes", data=b'{"x": 1}', method="POST")
    with pytest.raises(urllib.error.HTTPError) as bad:
        urllib.request.urlopen(request, timeout=5)
    assert bad.value.code == 400
    # The fake Postgres asks for a password it cannot check: the note is refused, not lost.
    request = urllib.request.Request(
        api.base + "/api/notes", data=b'{"text": "hello"}', method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 503
    assert api.get("/api/notes/abc")[0] == 404


def test_sigterm_does_not_wait_for_an_idle_kept_alive_connection(api: RunningApi) -> None:
    """A scraper keeps its connection open between scrapes: the API closes an idle one after
    KEEPALIVE_SECONDS, so a stop takes that long at most, not the runtime's grace period."""
    host, port = api.base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as idle:
        idle.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        assert idle.recv(4096).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        api.process.send_signal(signal.SIGTERM)
        api.process.communicate(timeout=15)
        assert api.process.returncode == 0
        assert time.monotonic() - started < 8
