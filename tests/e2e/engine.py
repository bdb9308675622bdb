"""Test support: create what `prodstack render` writes for a Docker stack on a real engine,
exactly as the pulumi-docker provider would. Not a deploy path: users run `pulumi up`.

Followed from the provider's source (kreuzwerker/terraform-provider-docker, which
pulumi-docker bridges: `resourceDockerContainerCreate`):
- the container is created with its config and host config, disconnected from the default
  bridge and connected to each of `networksAdvanced` with its aliases;
- each upload is one tar holding one file (name = the `file` path, mode = `permissions`,
  owner and group as numeric IDs, modification time now), extracted at `/`
  (`CopyToContainer(id, "/", ...)`), before the container starts;
- it is started when `start` is true and, with `wait`, waited healthy for `waitTimeout` s.
A rendered field this module does not know fails the run, so it cannot silently drift from
what the program renders.
"""

from __future__ import annotations

import contextlib
import io
import json
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
from docker.errors import NotFound
from docker.models.containers import Container
from docker.types import LogConfig, Mount

CONTAINER_FIELDS = {
    "attach", "capabilities", "command", "cpus", "entrypoints", "envs", "healthcheck",
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
# What the mock runtime gives a resource as its ID (infra/render/mock_runtime.py).
MOCK_ID_SUFFIX = "-id"


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
    """docker/*.json and resources.json of a rendered Docker stack."""

    root: Path
    images: list[dict[str, Any]] = field(default_factory=list)
    networks: list[dict[str, Any]] = field(default_factory=list)
    volumes: list[dict[str, Any]] = field(default_factory=list)
    containers: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Container name -> names of the containers it depends on (dependsOn and network mode).
    after: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, root: Path) -> RenderedStack:
        stack = cls(root)
        kinds = {"image": stack.images, "network": stack.networks, "volume": stack.volumes}
        for path in sorted((root / "docker").glob("*.json")):
            kind = path.name.split("-", 1)[0]
            spec = json.loads(path.read_text())
            if kind == "container":
                _known("container", spec, CONTAINER_FIELDS)
                stack.containers[spec["name"]] = spec
            elif kind in kinds:
                kinds[kind].append(spec)
            else:
                raise UnknownFieldError(
                    f"{path.name}: a Docker resource kind the mirror cannot create"
                )
        containers = [
            r
            for r in json.loads((root / "resources.json").read_text())
            if r["type"] == "docker:index/container:Container"
        ]
        by_urn = {r["urn"]: r["name"] for r in containers}
        for resource in containers:
            name = resource["inputs"]["name"]
            if stack.containers[name].get("networkMode", "").startswith("container:"):
                # The stack gives every container a namespace of its own (docker/network.py).
                raise UnknownFieldError(f"{name}: joins another container's network namespace")
            stack.after[name] = {by_urn[u] for u in resource["options"]["dependsOn"] if u in by_urn}
        return stack

    def waves(self) -> list[list[str]]:
        """Containers in waves: each wave needs only earlier ones. The engine creates the
        members of a wave in parallel, so none waits for a sibling it does not depend on
        (the API waits healthy for a database it reaches but does not depend on)."""
        done: set[str] = set()
        waves: list[list[str]] = []
        pending = dict(self.after)
        while pending:
            ready = sorted(n for n, needs in pending.items() if needs <= done)
            if not ready:
                raise AssertionError(f"a dependency cycle among {sorted(pending)}")
            waves.append(ready)
            done.update(ready)
            for name in ready:
                del pending[name]
        return waves


@dataclass
class Engine:
    """Creates a rendered stack and remembers what it created, to remove it all again."""

    client: docker.DockerClient = field(default_factory=docker.from_env)
    created: dict[str, Container] = field(default_factory=dict)
    network_names: list[str] = field(default_factory=list)
    volume_names: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)

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

    def network(self, spec: dict[str, Any]) -> None:
        _known("network", spec, NETWORK_FIELDS)
        self.client.networks.create(
            spec["name"],
            driver=spec.get("driver", "bridge"),
            internal=bool(spec.get("internal")),
            labels=labels_of(spec),
        )
        self.network_names.append(spec["name"])

    def volume(self, spec: dict[str, Any]) -> None:
        _known("volume", spec, VOLUME_FIELDS)
        self.client.volumes.create(
            spec["name"],
            driver=spec.get("driver", "local"),
            driver_opts=spec.get("driverOpts") or {},
            labels=labels_of(spec),
        )
        self.volume_names.append(spec["name"])

    # -- containers ----------------------------------------------------------------------

    def real_id(self, value: str) -> str:
        """A mock ID (`NAME-id`) of a container this engine created, as the engine's ID."""
        name = value.removesuffix(MOCK_ID_SUFFIX)
        return self.created[name].id if name in self.created else value  # type: ignore[return-value]

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
        created = api.create_container(
            spec["image"],
            command=spec.get("command"),
            entrypoint=spec.get("entrypoints"),
            user=spec.get("user"),
            environment=spec.get("envs"),
            labels=labels,
            healthcheck=self.healthcheck(spec.get("healthcheck")),
            ports=[tuple(k.split("/")) for k in bindings] or None,
            stop_timeout=spec.get("stopTimeout"),
            host_config=host_config,
            name=spec["name"],
        )
        container = self.client.containers.get(created["Id"])
        self.created[spec["name"]] = container
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

    @staticmethod
    def healthcheck(spec: dict[str, Any] | None) -> dict[str, Any] | None:
        if spec is None:
            return None
        _known("healthcheck", spec, HEALTHCHECK_FIELDS)
        check: dict[str, Any] = {"test": spec["tests"]}
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
        return check

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

    # -- the whole stack -----------------------------------------------------------------

    def apply(self, stack: RenderedStack) -> None:
        for image in stack.images:
            self.image(image)
        for network in stack.networks:
            self.network(network)
        for volume in stack.volumes:
            self.volume(volume)
        for wave in stack.waves():
            started = time.monotonic()
            waited = []
            for name in wave:
                spec = stack.containers[name]
                container = self.container(spec)
                if spec.get("start", True) and spec.get("wait"):
                    waited.append((container, int(spec.get("waitTimeout", DEFAULT_WAIT_SECONDS))))
            for container, timeout in waited:  # the provider's `wait`, per container
                self.wait_healthy(container, max(1.0, timeout - (time.monotonic() - started)))
            self.log.append(f"{len(wave)} containers: {time.monotonic() - started:.1f} s")

    def destroy(self) -> None:
        """Remove everything created, containers first; safe to call after a failed apply."""
        for container in reversed(list(self.created.values())):
            with contextlib.suppress(NotFound):
                container.remove(force=True, v=False)
        self.created.clear()
        for name in self.volume_names:
            with contextlib.suppress(NotFound):
                self.client.volumes.get(name).remove(force=True)
        for name in self.network_names:
            with contextlib.suppress(NotFound):
                self.client.networks.get(name).remove()
        self.volume_names.clear()
        self.network_names.clear()

    def running(self) -> Iterator[Container]:
        for container in self.created.values():
            container.reload()
            yield container
