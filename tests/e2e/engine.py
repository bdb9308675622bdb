"""Test support: apply a rendered Docker stack to a real engine, and later renders of it
as updates, exactly as `pulumi up` with the pulumi-docker provider would: in the order of the
engine's plan (plan.py), each step done the provider's way. Not a deploy path: users run
`pulumi up`.

Followed from the provider's source (kreuzwerker/terraform-provider-docker v4.5.0, which
pulumi-docker bridges; internal/provider/resource_docker_container_funcs.go):
- create (`resourceDockerContainerCreate`): the container is created with its config and
  host config, disconnected from the default bridge and connected to each of
  `networksAdvanced` with its aliases; each upload is one tar holding one file (name = the
  `file` path, mode = `permissions`, owner and group as numeric IDs, modification time now),
  extracted at `/` (`CopyToContainer(id, "/", ...)`), before the container starts; it is
  started when `start` is true and, with `wait`, waited healthy for `waitTimeout` s;
- update (`resourceDockerContainerUpdate`): restart policy and memory limits, by
  `ContainerUpdate`; every other changed field is only recorded;
- delete (`resourceDockerContainerDelete`): unless attached, stopped with a timeout of
  `destroyGraceSeconds` (0 when unset: SIGTERM and at once SIGKILL), then removed by force.
A rendered field this module does not know fails the run, so it cannot silently drift from
what the program renders. Every rendered field the engine's API takes is sent, by the raw
API where docker-py drops it (a healthcheck's StartInterval); one this engine's API
version ignores is named once in the run's output.
"""

from __future__ import annotations

import contextlib
import io
import os
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
from docker.errors import NotFound
from docker.models.containers import Container
from docker.types import LogConfig, Mount

from infra.render.mock_runtime import Recording
from infra.render.writer import docker_spec_of
from tests.e2e.plan import Plan, Resource, Step, plan

CONTAINER_FIELDS = {
    "attach", "capabilities", "command", "cpus", "destroyGraceSeconds", "entrypoints", "envs",
    "healthcheck",
    "image", "labels", "logDriver", "logOpts", "logs", "memory", "memoryReservation",
    "memorySwap", "mounts", "mustRun", "name", "networkMode", "networksAdvanced", "ports",
    "privileged", "readOnly", "restart", "securityOpts", "start", "stopTimeout", "tmpfs",
    "uploads", "user", "wait", "waitTimeout",
}  # fmt: skip
MOUNT_FIELDS = {"readOnly", "source", "target", "type"}
NETWORK_ATTACHMENT_FIELDS = {"aliases", "name"}
PORT_FIELDS = {"external", "internal", "ip", "protocol"}
HEALTHCHECK_FIELDS = {"interval", "retries", "startInterval", "startPeriod", "tests", "timeout"}
UPLOAD_FIELDS = {"content", "file", "group", "owner", "permissions"}
VOLUME_FIELDS = {"driver", "driverOpts", "labels", "name"}
NETWORK_FIELDS = {"driver", "internal", "labels", "name"}
IMAGE_FIELDS = {"build", "buildOnPreview", "imageName", "skipPush"}
BUILD_FIELDS = {"args", "context", "dockerfile"}
# The provider's default wait for a healthy container (resource_docker_container.go).
DEFAULT_WAIT_SECONDS = 60
# How many steps run at once: the Pulumi CLI's default `--parallel`, four per CPU
# (pulumi/pulumi pkg/cmd/pulumi/operations/up.go, defaultParallel).
PARALLEL_STEPS = 4 * (os.cpu_count() or 1)
# What the mock runtime gives a resource as its ID (infra/render/mock_runtime.py).
MOCK_ID_SUFFIX = "-id"


# The Docker Engine API version that first honours a healthcheck's StartInterval.
START_INTERVAL_API = (1, 44)


class UnknownFieldError(AssertionError):
    """The program renders a field the mirror does not create: teach it, or it would lie."""


class NotHealthyError(AssertionError):
    pass


def _known(kind: str, spec: dict[str, Any], allowed: set[str]) -> None:
    unknown = set(spec) - allowed
    if unknown:
        raise UnknownFieldError(f"{kind} {spec.get('name', '?')}: unknown fields {sorted(unknown)}")


def _seconds(text: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    for unit in ("ms", "s", "m", "h"):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * units[unit]
    raise UnknownFieldError(f"duration {text!r}")


def labels_of(spec: dict[str, Any]) -> dict[str, str]:
    return {x["label"]: x["value"] for x in spec.get("labels", [])}


def upload_tar(upload: dict[str, Any]) -> bytes:
    """One upload as the provider sends it: a tar of one file, extracted at `/`."""
    _known("upload", upload, UPLOAD_FIELDS)
    content = upload["content"].encode()
    info = tarfile.TarInfo(upload["file"])
    info.size = len(content)
    info.mode = int(upload.get("permissions", "0644"), 8)
    info.uid = int(upload.get("owner", "0"))
    info.gid = int(upload.get("group", "0"))
    info.mtime = int(time.time())
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


@dataclass
class RenderedStack:
    """Every resource of a rendered stack, in registration order; Docker ones with their
    full inputs (secret files in the clear: in memory only)."""

    resources: dict[str, Resource] = field(default_factory=dict)

    @classmethod
    def of(cls, recording: Recording) -> RenderedStack:
        stack = cls()
        for recorded in recording.resources:
            entry = recorded.as_json()
            inputs = docker_spec_of(recorded, reveal_secrets=True)
            if recorded.type == "docker:index/container:Container":
                _known("container", inputs, CONTAINER_FIELDS)
                if str(inputs.get("networkMode", "")).startswith("container:"):
                    # The stack gives every container a namespace of its own (network.py).
                    raise UnknownFieldError(f"{recorded.name}: joins another's network namespace")
            stack.resources[recorded.urn] = Resource.of(entry, inputs)
        return stack

    def named(self, name: str) -> Resource:
        return next(r for r in self.resources.values() if r.name == name)


@dataclass
class Engine:
    """Applies rendered stacks and remembers what it made, to remove it all again."""

    client: docker.DockerClient = field(default_factory=docker.from_env)
    # What each resource is on the engine: a container, a network's or a volume's name.
    live: dict[str, Any] = field(default_factory=dict)
    applied: RenderedStack = field(default_factory=RenderedStack)
    log: list[str] = field(default_factory=list)
    say: Callable[[str], None] = print
    _ignored_said: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # Deletes before replacement under way in this update, by URN.
    _deleting: dict[str, threading.Event] = field(default_factory=dict)

    @property
    def created(self) -> dict[str, Container]:
        """The live containers, by their resource name (the name is the URN's last part)."""
        with self._lock:
            live = list(self.live.items())
        return {urn.rsplit("::", 1)[1]: obj for urn, obj in live if isinstance(obj, Container)}

    # -- the whole stack -----------------------------------------------------------------

    def apply(self, stack: RenderedStack) -> Plan:
        """`pulumi up` from what was applied before (nothing, the first time) to `stack`."""
        update = plan(self.applied.resources.values(), stack.resources.values())
        self.say(update.render())
        self._deleting.clear()
        condemned = {
            s.resource.urn: self.live.get(s.resource.urn) for c in update.deletes for s in c
        }
        self.run_changes(update)
        for chain in update.deletes:  # each antichain in parallel, as the engine does
            with ThreadPoolExecutor(max_workers=max(1, len(chain))) as pool:
                deleting = [
                    pool.submit(self.delete, s.resource, condemned.get(s.resource.urn))
                    for s in chain
                ]
            for future in deleting:
                future.result()  # a failed delete fails the update, as it would the engine's
            with self._lock:
                for step in chain:
                    if self.live.get(step.resource.urn) is condemned.get(step.resource.urn):
                        self.live.pop(step.resource.urn, None)
        self.applied = stack
        return update

    def run_changes(self, update: Plan) -> None:
        """Every create, update and replacement, each begun as soon as the steps of what it
        depends on are done (the engine's step executor), and done the provider's way: a
        container with `wait` is done once healthy. The first failure stops the update."""
        steps = {s.resource.urn: s for s in update.changes}
        waiting = dict(steps)
        done: set[str] = set()
        running: dict[Future[None], str] = {}
        with ThreadPoolExecutor(max_workers=PARALLEL_STEPS) as pool:
            while waiting or running:
                for urn, step in list(waiting.items()):
                    if not step.resource.depends_on & (steps.keys() - done):
                        running[pool.submit(self.change, update, step)] = urn
                        del waiting[urn]
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    urn = running.pop(future)
                    future.result()
                    done.add(urn)

    def change(self, update: Plan, step: Step) -> None:
        started = time.monotonic()
        for old in update.deleted_first.get(step.resource.urn, []):
            self.delete_once(old)
        if step.op == "update":
            self.update(step)
            return
        made = self.create(step.resource)
        spec = step.resource.inputs
        if isinstance(made, Container) and spec.get("start", True) and spec.get("wait"):
            # The provider's `wait`: the step ends when the container is healthy.
            timeout = int(spec.get("waitTimeout", DEFAULT_WAIT_SECONDS))
            self.wait_healthy(made, max(1.0, timeout - (time.monotonic() - started)))
            self.log.append(f"{step.resource.name}: {time.monotonic() - started:.1f} s")

    # -- one resource --------------------------------------------------------------------

    def create(self, resource: Resource) -> Any:
        spec = resource.inputs
        made: Any = None
        if resource.type == "docker:index/image:Image":
            self.image(spec)
        elif resource.type == "docker:index/network:Network":
            made = self.network(spec)
        elif resource.type == "docker:index/volume:Volume":
            made = self.volume(spec)
        elif resource.type == "docker:index/container:Container":
            made = self.container(spec)
        with self._lock:
            self.live[resource.urn] = made
        return made

    def update(self, step: Step) -> None:
        """What the provider's update applies; the rest is only recorded."""
        if step.unapplied:
            self.log.append(f"{step.resource.name}: recorded, never applied: {step.unapplied}")
        if step.resource.type == "docker:index/image:Image":
            self.image(step.resource.inputs)
            return
        container = self.live[step.resource.urn]
        spec = step.resource.inputs
        if {"restart", "memory", "memoryReservation", "memorySwap"} & set(step.keys):
            container.update(
                restart_policy={"Name": spec.get("restart", "no")},
                mem_limit=f"{spec['memory']}m" if spec.get("memory") else None,
                mem_reservation=(
                    f"{spec['memoryReservation']}m" if spec.get("memoryReservation") else None
                ),
                memswap_limit=f"{spec['memorySwap']}m" if spec.get("memorySwap") else None,
            )
        if "mustRun" in step.keys and spec.get("mustRun") and spec.get("start", True):
            container.start()

    def delete_once(self, old: Resource) -> None:
        """Delete `old` before a replacement, once: two replacements may share a dependent
        (the edge mounts two volumes that are both replaced), and the second waits for the
        first's delete of it, so nothing is deleted while something still uses it."""
        with self._lock:
            deleting = self._deleting.get(old.urn)
            mine = deleting is None
            if deleting is None:
                deleting = self._deleting[old.urn] = threading.Event()
                made = self.live.get(old.urn)
        if not mine:
            deleting.wait(DEFAULT_WAIT_SECONDS)
            return
        try:
            self.delete(old, made)
            with self._lock:  # forgotten only once gone: a failed delete is left to destroy()
                if self.live.get(old.urn) is made:
                    self.live.pop(old.urn, None)
        finally:
            deleting.set()

    def delete(self, resource: Resource, made: Any) -> None:
        if made is None or resource.retain_on_delete:
            return
        with contextlib.suppress(NotFound):
            if isinstance(made, Container):
                if not resource.inputs.get("attach"):
                    made.stop(timeout=int(resource.inputs.get("destroyGraceSeconds") or 0))
                made.remove(force=True, v=False)
            elif resource.type == "docker:index/volume:Volume":
                self.client.volumes.get(made).remove(force=True)
            elif resource.type == "docker:index/network:Network":
                self.client.networks.get(made).remove()

    # -- images, networks, volumes -------------------------------------------------------

    def image(self, spec: dict[str, Any]) -> None:
        _known("image", spec, IMAGE_FIELDS)
        build = spec["build"]
        _known("image build", build, BUILD_FIELDS)
        name = spec["imageName"]
        try:
            self.client.images.get(name)
            return  # tagged by content: built before, unchanged since
        except NotFound:
            pass
        context = Path(build["context"])
        self.client.images.build(
            path=str(context),
            dockerfile=str(Path(build["dockerfile"]).relative_to(context)),
            tag=name,
            buildargs=build.get("args") or None,
            rm=True,
        )

    def network(self, spec: dict[str, Any]) -> str:
        _known("network", spec, NETWORK_FIELDS)
        self.client.networks.create(
            spec["name"],
            driver=spec.get("driver", "bridge"),
            internal=bool(spec.get("internal")),
            labels=labels_of(spec),
        )
        return str(spec["name"])

    def volume(self, spec: dict[str, Any]) -> str:
        _known("volume", spec, VOLUME_FIELDS)
        self.client.volumes.create(
            spec["name"],
            driver=spec.get("driver", "local"),
            driver_opts=spec.get("driverOpts") or {},
            labels=labels_of(spec),
        )
        return str(spec["name"])

    # -- containers ----------------------------------------------------------------------

    def real_id(self, value: str) -> str:
        """A mock ID (`NAME-id`) of a container this engine created, as the engine's ID."""
        name = value.removesuffix(MOCK_ID_SUFFIX)
        created = self.created
        return created[name].id if name in created else value  # type: ignore[return-value]

    def container(self, spec: dict[str, Any]) -> Container:
        api = self.client.api
        mounts = []
        for m in spec.get("mounts", []):
            _known("mount", m, MOUNT_FIELDS)
            mounts.append(
                Mount(m["target"], m["source"], type=m["type"], read_only=bool(m.get("readOnly")))
            )
        bindings: dict[str, list[tuple[str, int]]] = {}
        for p in spec.get("ports") or []:
            _known("port", p, PORT_FIELDS)
            key = f"{p['internal']}/{p.get('protocol', 'tcp')}"
            bindings.setdefault(key, []).append((p.get("ip", "0.0.0.0"), int(p["external"])))
        memory = spec.get("memory")
        host_config = api.create_host_config(
            privileged=bool(spec.get("privileged")),
            restart_policy={"Name": spec.get("restart", "no")},
            mounts=mounts,
            read_only=bool(spec.get("readOnly")),
            log_config=LogConfig(
                type=spec.get("logDriver", "json-file"), config=spec.get("logOpts")
            ),
            tmpfs=spec.get("tmpfs"),
            # Every host binding of a port (docker-py takes a list for several).
            port_bindings={k: v[0] if len(v) == 1 else v for k, v in bindings.items()} or None,
            cap_drop=(spec.get("capabilities") or {}).get("drops"),
            cap_add=(spec.get("capabilities") or {}).get("adds"),
            security_opt=spec.get("securityOpts"),
            mem_limit=f"{memory}m" if memory else None,
            memswap_limit=f"{spec['memorySwap']}m" if spec.get("memorySwap") else None,
            mem_reservation=(
                f"{spec['memoryReservation']}m" if spec.get("memoryReservation") else None
            ),
            nano_cpus=int(float(spec["cpus"]) * 1e9) if spec.get("cpus") else None,
            network_mode=spec.get("networkMode"),
            init=False,
        )
        labels = {k: self.real_id(v) for k, v in labels_of(spec).items()}
        config = api.create_container_config(
            spec["image"],
            command=spec.get("command"),
            entrypoint=spec.get("entrypoints"),
            user=spec.get("user"),
            environment=spec.get("envs"),
            labels=labels,
            ports=[tuple(k.split("/")) for k in bindings] or None,
            stop_timeout=spec.get("stopTimeout"),
            host_config=host_config,
        )
        check = self.healthcheck(spec.get("healthcheck"))
        if check is not None:
            # Raw: docker-py's Healthcheck drops StartInterval.
            config["Healthcheck"] = check
        created = api.create_container_from_config(config, name=spec["name"])
        container = self.client.containers.get(created["Id"])
        if spec.get("networksAdvanced"):
            self.client.networks.get("bridge").disconnect(container)
            for attachment in spec["networksAdvanced"]:
                _known("network attachment", attachment, NETWORK_ATTACHMENT_FIELDS)
                self.client.networks.get(attachment["name"]).connect(
                    container, aliases=attachment.get("aliases")
                )
        for upload in spec.get("uploads") or []:
            api.put_archive(container.id, "/", upload_tar(upload))
        if spec.get("start", True):
            container.start()
        return container

    def healthcheck(self, spec: dict[str, Any] | None) -> dict[str, Any] | None:
        if spec is None:
            return None
        _known("healthcheck", spec, HEALTHCHECK_FIELDS)
        check: dict[str, Any] = {"Test": spec["tests"]}
        for key, api_key in (
            ("interval", "Interval"),
            ("timeout", "Timeout"),
            ("startPeriod", "StartPeriod"),
            ("startInterval", "StartInterval"),
        ):
            if key in spec:
                check[api_key] = int(_seconds(spec[key]) * 1e9)
        if "retries" in spec:
            check["Retries"] = int(spec["retries"])
        if "StartInterval" in check:
            self.ignored("healthcheck startInterval", START_INTERVAL_API)
        return check

    def ignored(self, field_name: str, since: tuple[int, int]) -> None:
        """Name, once per run, a field sent that this engine's API version ignores."""
        version = tuple(int(x) for x in self.client.api.api_version.split("."))
        if version < since and field_name not in self._ignored_said:
            self._ignored_said.add(field_name)
            self.say(
                f"note: {field_name} is sent, and ignored by this engine (API "
                f"{self.client.api.api_version}; honoured from API {since[0]}.{since[1]})"
            )

    def wait_healthy(self, container: Container, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            container.reload()
            state = container.attrs["State"]
            if state.get("Health", {}).get("Status") == "healthy":
                return
            if state["Status"] in ("exited", "dead"):
                break
            time.sleep(0.5)
        container.reload()
        raise NotHealthyError(
            f"{container.name} is not healthy after {timeout:.0f} s "
            f"(state {container.attrs['State']['Status']}, health "
            f"{container.attrs['State'].get('Health', {}).get('Status')}); its logs:\n"
            + container.logs(tail=60).decode(errors="replace")
        )

    def destroy(self) -> None:
        """Remove everything live, containers first; safe to call after a failed apply."""
        containers = [(u, o) for u, o in self.live.items() if isinstance(o, Container)]
        for _, container in reversed(containers):
            with contextlib.suppress(NotFound):
                container.remove(force=True, v=False)
        for urn, made in self.live.items():
            if isinstance(made, str):
                with contextlib.suppress(NotFound):
                    if "volume:Volume" in urn:
                        self.client.volumes.get(made).remove(force=True)
        for urn, made in self.live.items():
            if isinstance(made, str) and "network:Network" in urn:
                with contextlib.suppress(NotFound):
                    self.client.networks.get(made).remove()
        self.live.clear()
        self.applied = RenderedStack()

    def running(self) -> Iterator[Container]:
        for container in self.created.values():
            container.reload()
            yield container
