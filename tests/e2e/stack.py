"""The stack the end-to-end suite runs: an ephemeral stack derived from dev, its images built
from Debian's packages, its edge published on free ports of 127.0.0.1 only, rendered with
real secrets and applied to the Docker engine by tests/e2e/engine.py; later changes to its
settings are rendered again and applied as updates, as `pulumi up` would apply them."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import docker
from docker.errors import NotFound
from docker.models.containers import Container

from infra.ops.debian_images import build_all, overrides
from infra.ops.ephemeral_config import derive
from infra.program import main as program_main
from infra.render.mock_runtime import MockRun
from infra.render.stack_config import StackConfig, as_config_text, load_stack_config
from infra.settings.loader import parse_config_text
from tests.e2e.engine import Engine, RenderedStack
from tests.e2e.plan import Plan
from tests.e2e.real_values import RealValues
from tests.live import free_ports
from tests.support import ROOT

RECEIVER = "alert-receiver"
RECEIVER_PORT = 9000
# The receiver the suite runs: prints every notification it gets as one JSON line.
RECEIVER_PROGRAM = """
import json
from http.server import BaseHTTPRequestHandler, HTTPServer
class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        print(json.dumps({"path": self.path, "body": json.loads(body)}), flush=True)
        self.send_response(200)
        self.end_headers()
    def log_message(self, *args):
        pass
HTTPServer(("0.0.0.0", PORT), Receiver).serve_forever()
""".replace("PORT", str(RECEIVER_PORT))


@dataclass
class Notification:
    receiver: str  # paging, chat or heartbeat: the path it was posted to
    status: str  # firing or resolved
    alerts: list[str]  # alert names
    received: float  # when the suite read it (monotonic clock)


@dataclass
class RunningStack:
    stack: str
    prefix: str
    engine: Engine
    https_port: int
    http_port: int
    ca_pem: str
    outputs: dict[str, Any]
    seconds_to_healthy: float
    # What it was rendered from, and its state (the values providers gave its resources).
    config: StackConfig
    state: RealValues
    receiver: Container | None = None

    def update(self, settings: dict[str, dict[str, Any]]) -> Plan:
        """Change settings (by group: {"api": {"env": {...}}}, merged key by key into the
        stack file's), render again with the stack's state, and apply the engine's plan."""
        change_settings(self.config, settings)
        recording = MockRun(self.config, mocks=self.state).run(program_main)
        self.outputs = recording.plain_outputs
        return self.engine.apply(RenderedStack.of(recording))

    def notifications(self) -> list[Notification]:
        """What Alertmanager delivered to the receiver so far."""
        assert self.receiver is not None
        found = []
        for line in self.receiver.logs().decode().splitlines():
            entry = json.loads(line)
            body = entry["body"]
            names = [a["labels"]["alertname"] for a in body["alerts"]]
            found.append(
                Notification(entry["path"].strip("/"), body["status"], names, time.monotonic())
            )
        return found

    def down(self) -> None:
        """Remove the receiver, then everything the engine created."""
        if self.receiver is not None:
            with contextlib.suppress(NotFound):
                self.receiver.remove(force=True)
            self.receiver = None
        self.engine.destroy()

    @property
    def url(self) -> str:
        # By the stack's name (localhost, published on 127.0.0.1): the edge refuses names it
        # does not serve, an address included.
        return f"https://localhost:{self.https_port}"

    def container(self, workload: str, replica: int = 0) -> Any:
        return self.engine.created[f"{self.prefix}-{workload}-{replica}"]

    def exec(self, workload: str, *command: str, user: str | None = None) -> str:
        """Run a command in a workload's container; its output, failing on a non-zero exit."""
        result = self.container(workload).exec_run(list(command), user=user or "")
        output: str = result.output.decode(errors="replace")
        assert result.exit_code == 0, f"{command} in {workload}: {output}"
        return output


def merged(base: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    """`change` over `base`, mappings merged key by key."""
    out = dict(base)
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def change_settings(config: StackConfig, settings: dict[str, dict[str, Any]]) -> None:
    """Settings by group ({"api": {"env": {...}}}) merged key by key into the stack file's."""
    for group, values in settings.items():
        key = f"prodstack:{group}"
        current = parse_config_text(config.values.get(key, "{}")) or {}
        config.values[key] = as_config_text(merged(current, values))


RETIRE_AFTER_IDLE_SECONDS = 10


def e2e_config(name: str, tags: dict[str, str], http: int, https: int) -> StackConfig:
    """dev, derived as `prodstack ephemeral up` derives it, pointed at the Debian images."""
    dev = load_stack_config(ROOT, "dev")
    derived = derive(dev, name, dt.timedelta(hours=1), dt.datetime.now(dt.UTC))
    values = {k: parse_config_text(v) for k, v in derived.config.items()}
    ours: dict[str, dict[str, Any]] = overrides(tags)
    ours["edge"]["publicPorts"] = {"http": http, "https": https, "address": "127.0.0.1"}
    prefix = f"pse2e-{name}"
    ours["docker"] = {"namePrefix": prefix}
    # Encryption to the data stores, as prod has it: shown on the running containers.
    ours.setdefault("postgres", {})["tls"] = True
    ours.setdefault("redis", {})["tls"] = True
    # Room for the day-2 tests' steady traffic from one address (infra/ops/traffic.py).
    roomy = {"rate": 200, "per": "second", "burst": 400}
    ours["edge"]["rateLimits"] = {"api": roomy, "frontend": roomy}
    # A rollover's old logins are retired within the test's patience.
    ours["secrets"] = {"retireAfterIdleSeconds": RETIRE_AFTER_IDLE_SECONDS}
    # The receiver is found by its container name on the egress network.
    base = f"http://{prefix}-{RECEIVER}:{RECEIVER_PORT}"
    ours["monitoring"]["receivers"] = {
        receiver: {"kind": "webhook", "url": f"{base}/{receiver}"}
        for receiver in ("paging", "chat", "heartbeat")
    }
    for group, settings in ours.items():
        key = f"prodstack:{group}"
        values[key] = {**(values.get(key) or {}), **settings}
    config = StackConfig(project=dev.project, stack=derived.stack)
    config.values.update({k: as_config_text(v) for k, v in values.items()})
    return config


@contextmanager
def running_stack() -> Iterator[RunningStack]:
    """Bring the stack up, yield it, and remove every container, network and volume after."""
    tags = build_all()
    name = "e2e-" + secrets.token_hex(3)
    http, https = free_ports(2)
    config = e2e_config(name, tags, http, https)
    state = RealValues()
    recording = MockRun(config, mocks=state).run(program_main)
    engine = Engine()
    try:
        prefix = json.loads(config.values["prodstack:docker"])["namePrefix"]
        started = time.monotonic()
        engine.apply(RenderedStack.of(recording))
        running = RunningStack(
            stack=config.stack,
            prefix=prefix,
            engine=engine,
            https_port=https,
            http_port=http,
            ca_pem=str(recording.plain_outputs["caCertPem"]),
            outputs=recording.plain_outputs,
            seconds_to_healthy=time.monotonic() - started,
            config=config,
            state=state,
        )
        running.receiver = start_receiver(engine.client, running)
        yield running
    finally:
        if "running" in locals():
            running.down()
        engine.destroy()


def start_receiver(client: docker.DockerClient, stack: RunningStack) -> Container:
    """The alert receiver, on the stack's egress network (Alertmanager's way out), built
    from the API's image, which has Python; hardened like the stack's own containers."""
    return client.containers.run(
        str(stack.outputs["apiImage"]),
        ["python3", "-c", RECEIVER_PROGRAM],
        entrypoint=[],
        name=f"{stack.prefix}-{RECEIVER}",
        network=f"{stack.prefix}-egress",
        user="10001:10001",
        read_only=True,
        cap_drop=["ALL"],
        security_opt=["no-new-privileges:true"],
        # Back after an engine restart, like the stack's own (the game day restarts it).
        restart_policy={"Name": "unless-stopped"},
        detach=True,
    )


def leftovers(stack: str) -> list[str]:
    """Containers, networks and volumes on the engine that carry the stack's label."""
    client = docker.from_env()
    label = {"label": f"app.kubernetes.io/instance={stack}"}
    return [
        *(f"container {c.name}" for c in client.containers.list(all=True, filters=label)),
        *(f"network {n.name}" for n in client.networks.list(filters=label)),
        *(f"volume {v.name}" for v in client.volumes.list(filters=label)),
    ]
