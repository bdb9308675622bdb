"""A stack running on a Docker engine, found by its labels: its containers, its edge and its
Alertmanager, and the means to break them on purpose.

Containers are named by the Docker placement (components/platform/docker): a workload's
replica is `<prefix>-<workload>-<n>` and a sidecar of it `<prefix>-<workload>-<sidecar>-<n>`,
either with a release suffix where releases start beside each other; all carry the stack's
`app.kubernetes.io/instance` label and their workload's `app.kubernetes.io/name`.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import docker
from docker.errors import DockerException, NotFound
from docker.models.containers import Container

from components.monitoring.args import ALERTMANAGER_PORT, PROMETHEUS_PORT
from components.platform.labels import INSTANCE, NAME, ROLE_LABEL, TASK_LABEL
from infra.ops.gameday import by_hand
from infra.settings.model import StackSettings

ALERTMANAGER_API = f"http://127.0.0.1:{ALERTMANAGER_PORT}"
PROMETHEUS_API = f"http://127.0.0.1:{PROMETHEUS_PORT}"
# A pause between two looks at something that changes (a container's health, an alert).
POLL_SECONDS = 0.5
# The integration Alertmanager counts a receiver's notifications under, by receiver kind.
INTEGRATIONS = {"webhook": "webhook", "slack": "slack", "pagerduty": "pagerduty", "email": "email"}


class DrillError(Exception):
    """The drill could not do or measure what it set out to: said, and the run fails."""


@dataclass
class LiveStack:
    name: str  # the Pulumi stack: the containers' instance label
    settings: StackSettings
    ca_pem: str | None  # the edge's CA, where it is not publicly trusted
    client: docker.DockerClient = field(default_factory=docker.from_env)
    # Told each fault as the command that does it by hand (by_hand.py).
    log: Callable[[str], None] = lambda _: None

    @property
    def prefix(self) -> str:
        return self.settings.docker.name_prefix

    def _listed(self, **labels: str) -> list[Container]:
        selectors = [f"{INSTANCE}={self.name}", *(f"{k}={v}" for k, v in labels.items())]
        found = self.client.containers.list(all=True, filters={"label": selectors})
        return sorted(
            (c for c in found if ROLE_LABEL not in c.labels and TASK_LABEL not in c.labels),
            key=lambda c: c.name,
        )

    def everything(self) -> list[Container]:
        """Every long-running container of the stack (no files carriers, no task runs)."""
        return self._listed()

    def replicas(self, workload: str, sidecar: str | None = None) -> list[Container]:
        """A workload's replicas (or one sidecar's), found by name among its containers."""
        part = f"{workload}-{sidecar}" if sidecar else workload
        pattern = re.compile(rf"^{re.escape(self.prefix)}-{re.escape(part)}-\d+(-[0-9a-f]{{6,}})?$")
        return [c for c in self._listed(**{NAME: workload}) if pattern.match(c.name)]

    def container(self, workload: str, sidecar: str | None = None) -> Container:
        found = self.replicas(workload, sidecar)
        if not found:
            what = f"{workload}'s {sidecar}" if sidecar else workload
            raise DrillError(f"no {what} container of stack {self.name} on this engine")
        return found[0]

    def exec(self, container: Container, *command: str) -> str:
        result = container.exec_run(list(command))
        output = str(result.output.decode(errors="replace"))
        if result.exit_code != 0:
            raise DrillError(f"{command[0]} in {container.name} failed: {output.strip()}")
        return output

    def psql(self, sql: str) -> str:
        """As the postgres superuser over the server's socket (peer authentication)."""
        return self.exec(
            self.container("postgres"), "psql", "-h", "/var/run/postgresql", "-U", "postgres",
            "-d", self.settings.postgres.database, "-v", "ON_ERROR_STOP=1", "-qAtc", sql,
        ).strip()  # fmt: skip

    # -- faults -----------------------------------------------------------------------------

    def crash(self, container: Container) -> float:
        """SIGKILL to the container's first process from the host, as a crash would: `docker
        kill` counts as a manual stop, which the `unless-stopped` policy does not restart.
        When it was sent (monotonic)."""
        container.reload()
        pid = int(container.attrs["State"]["Pid"])
        if not pid:
            raise DrillError(f"{container.name} is not running")
        self.log(by_hand.crash(container.name))
        try:
            os.kill(pid, signal.SIGKILL)
            return time.monotonic()
        except PermissionError:
            raise DrillError(
                f"cannot signal {container.name}'s process {pid}: run the game day as root "
                "on the engine's host"
            ) from None

    @contextmanager
    def cut_off(self, client: Container, server: Container) -> Iterator[list[str]]:
        """A network partition: `client` leaves every network it shares with `server` for
        the duration of the block, and joins them again after."""
        shared = sorted(set(_networks(client)) & set(_networks(server)))
        if not shared:
            raise DrillError(f"{client.name} shares no network with {server.name}")
        for network in shared:
            self.log(by_hand.disconnect(network, client.name))
            self.client.networks.get(network).disconnect(client)
        try:
            yield shared
        finally:
            for network in shared:
                self.log(by_hand.connect(network, client.name))
                self.client.networks.get(network).connect(client)

    def run_in(self, container: Container, script: str) -> str:
        """A shell script in the container, said as the command that runs it by hand."""
        self.log(by_hand.in_container(container.name, script))
        return self.exec(container, "sh", "-c", script)

    def kill(self, container: Container) -> None:
        self.log(by_hand.kill(container.name))
        container.kill()

    def stop(self, container: Container) -> None:
        self.log(by_hand.stop(container.name))
        container.stop()

    def start(self, container: Container) -> None:
        self.log(by_hand.start(container.name))
        container.start()

    # -- health -----------------------------------------------------------------------------

    def unhealthy(self, containers: list[Container] | None = None) -> list[str]:
        """Those of `containers` (every one of the stack's, by default) that are not running,
        or not healthy by their check."""
        found = []
        for container in self.everything() if containers is None else containers:
            try:
                container.reload()
            except NotFound:
                continue
            state = container.attrs["State"]
            health = state.get("Health", {}).get("Status", "healthy")
            if state["Status"] != "running" or health != "healthy":
                found.append(f"{container.name} ({state['Status']}, {health})")
        return found

    def wait_healthy(self, timeout: float, containers: list[Container] | None = None) -> float:
        """Seconds until every container (or those given) runs healthy; DrillError after
        `timeout`."""
        started = time.monotonic()
        while unhealthy := self.unhealthy(containers):
            if time.monotonic() - started > timeout:
                raise DrillError(f"not healthy after {timeout:.0f} s: {', '.join(unhealthy)}")
            time.sleep(POLL_SECONDS)
        return time.monotonic() - started

    # -- the edge ---------------------------------------------------------------------------

    @property
    def edge(self) -> tuple[int, str]:
        """The edge's HTTPS port on this host, and the name it serves."""
        return self.settings.edge.public_ports.https, self.settings.domain

    # -- Alertmanager -----------------------------------------------------------------------

    def _alertmanager(self, path: str) -> str:
        return self.exec(self.container("alertmanager"), "wget", "-qO-", ALERTMANAGER_API + path)

    def firing(self, receiver: str) -> list[str]:
        """The alerts Alertmanager holds firing for `receiver` (not silenced, not inhibited)."""
        alerts = json.loads(
            self._alertmanager("/api/v2/alerts?active=true&silenced=false&inhibited=false")
        )
        return sorted(
            a["labels"].get("alertname", "")
            for a in alerts
            if receiver in {r["name"] for r in a.get("receivers", [])}
        )

    def targets_down(self) -> list[str]:
        """Prometheus's scrape targets whose last scrape failed (or that it has not scraped)."""
        raw = self.exec(
            self.container("prometheus"), "wget", "-qO-", f"{PROMETHEUS_API}/api/v1/targets"
        )
        return sorted(
            f"{t['labels'].get('job')} {t['scrapeUrl']}"
            for t in json.loads(raw)["data"]["activeTargets"]
            if t["health"] != "up"
        )

    def active(self, alert: str, receiver: str) -> bool:
        return alert in self.firing(receiver)

    def notifications_sent(self, receiver: str) -> int | None:
        """Notifications Alertmanager has delivered through the receiver's kind of
        integration (its metrics count by integration, not by receiver); None for a receiver
        that notifies no one."""
        kind = getattr(self.settings.monitoring.receivers, receiver).kind
        integration = INTEGRATIONS.get(kind)
        if integration is None:
            return None
        metrics = self._alertmanager("/metrics")
        sent = failed = 0.0
        for line in metrics.splitlines():
            if f'integration="{integration}"' not in line:
                continue
            if line.startswith("alertmanager_notifications_total{"):
                sent += float(line.rsplit(" ", 1)[1])
            elif line.startswith("alertmanager_notifications_failed_total{"):
                failed += float(line.rsplit(" ", 1)[1])
        return int(sent - failed)


def _networks(container: Container) -> list[str]:
    container.reload()
    return list(container.attrs["NetworkSettings"]["Networks"])


def connect(name: str, settings: StackSettings, ca_pem: str | None) -> LiveStack:
    """The stack on the engine the environment names (DOCKER_HOST, or the local socket)."""
    try:
        client = docker.from_env()
        client.ping()
    except DockerException as error:
        raise DrillError(f"no Docker engine: {error}") from None
    stack = LiveStack(name, settings, ca_pem, client)
    if not stack.everything():
        raise DrillError(f"no container of stack {name} on this engine: is it up?")
    return stack
