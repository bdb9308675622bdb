"""The reference API (images/api) as a process on loopback, from its own source."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.live import free_port
from tests.support import ROOT

API_SOURCE = ROOT / "images" / "api"
REDIS_PASSWORD = "redis-app-password-123"


@dataclass
class RunningApi:
    process: subprocess.Popen[str]
    base: str

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
        request = urllib.request.Request(self.base + path, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def send(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """Any request; the status and the JSON reply, whatever the status."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base + path, data=data, method=method, headers=headers or {}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(
            self.base + path, data=json.dumps(body).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())


def dependency(kind: str, port: int, secret_files: dict[str, str] | None = None) -> dict[str, Any]:
    """One entry of api.json's dependencies, as components/api/config.py writes it."""
    return {
        "name": kind,
        "kind": kind,
        "host": "127.0.0.1",
        "port": port,
        "database": None,
        "user": None,
        "secret_files": secret_files or {},
    }


def start_api(
    tmp_path: Path, dependencies: list[dict[str, Any]], ready_wait_seconds: float = 0
) -> RunningApi:
    """The reference API, started; with `ready_wait_seconds`, only spawned (it listens once
    its dependencies answer, or after that long)."""
    port = free_port()
    secrets = tmp_path / "secrets"
    secrets.mkdir(exist_ok=True)
    (secrets / "signing-key").write_text("test-signing-key-0123456789")
    (secrets / "redis-password").write_text(REDIS_PASSWORD)
    (secrets / "redis-user").write_text("app")
    config = tmp_path / "api.json"
    config.write_text(
        json.dumps(
            {
                "port": port,
                "liveness_path": "/health/live",
                "readiness_path": "/health/ready",
                "metrics_path": "/metrics",
                "secrets_dir": str(secrets),
                "dependencies": dependencies,
            }
        )
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "refapi", str(config)],
        cwd=API_SOURCE,
        env={
            **os.environ,
            "PYTHONPATH": str(API_SOURCE),
            "REFAPI_READY_WAIT_SECONDS": str(ready_wait_seconds),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    api = RunningApi(process, f"http://127.0.0.1:{port}")
    if ready_wait_seconds:
        return api
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if api.get("/health/live")[0] == 200:
                return api
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise AssertionError(f"reference API did not start: {process.communicate()[0]}")
