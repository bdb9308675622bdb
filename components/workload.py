"""One platform-neutral description of a service, placed on Docker or Kubernetes.

Components say *what* runs (image, files, ports, checks, scaling, who may connect); the
placements in components/platform say *how*, and add the hardening once for every workload.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pulumi

from components.quantities import format_cpu, format_memory
from policies.vocabulary import ROLES, Role

_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,30}[a-z0-9])?$")
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$")
_SUBDIR = re.compile(r"^[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_-]*)*$")


# Where every container finds its files, on both platforms.
CONFIG_DIR = "/run/prodstack/config"
SECRETS_DIR = "/run/prodstack/secrets"


class WorkloadError(ValueError):
    """A workload description that no placement could run safely."""


def _check_name(kind: str, name: str) -> None:
    if not _NAME.match(name):
        raise WorkloadError(f"{kind} name {name!r}: lowercase letters, digits and -, at most 32")


@dataclass(frozen=True)
class Port:
    name: str
    port: int
    # The port the host publishes, and on which host address: a public workload (the edge).
    public_port: int | None = None
    public_address: str = "0.0.0.0"

    def __post_init__(self) -> None:
        _check_name("port", self.name)
        if not 1024 <= self.port <= 65535:
            raise WorkloadError(f"port {self.name}: {self.port} is privileged or out of range")


@dataclass(frozen=True)
class File:
    """A file delivered into the container: under CONFIG_DIR, or SECRETS_DIR when secret."""

    name: str
    content: pulumi.Input[str]
    # A subdirectory of CONFIG_DIR, for servers that read a directory layout (Grafana).
    subdir: str = ""
    # What of the content the server reads only when it starts, when that is not all of it:
    # a change elsewhere reaches the running server without a restart (a logins keeper
    # applies a new password: components/logins.py), so a placement need not restart it.
    restart_view: pulumi.Input[str] | None = None

    def __post_init__(self) -> None:
        if not _FILE_NAME.match(self.name):
            raise WorkloadError(f"file name {self.name!r} is not a plain file name")
        if self.subdir and not _SUBDIR.match(self.subdir):
            raise WorkloadError(f"subdirectory {self.subdir!r}: relative, plain names only")

    @property
    def relative_path(self) -> str:
        return f"{self.subdir}/{self.name}" if self.subdir else self.name


@dataclass(frozen=True)
class TlsFiles:
    """A certificate, its key and the CA to trust, as files of a container: what a placement
    issues (Placement.certificate) or a component is given (a supplied certificate). They
    arrive as files the placement delivers, or in a Secret someone else keeps current in
    place (cert-manager), mounted read-only at `mounted_secret`'s directory."""

    cert_file: str
    key_file: str
    # The CA it verifies its peers with (inside the stack); none for the public edge.
    ca_file: str | None = None
    secret_files: tuple[File, ...] = ()
    config_files: tuple[File, ...] = ()
    # (Secret name, directory), Kubernetes only.
    mounted_secret: tuple[str, str] | None = None
    # The CA's certificate, for those outside the stack who must trust it (dev's edge).
    ca_cert_pem: pulumi.Output[str] | None = None
    # Stapling needs a CA with an OCSP responder; a private CA has none.
    ocsp_stapling: bool = False


@dataclass(frozen=True)
class PersistentVolume:
    name: str
    mount_path: str
    size_gib: int
    # Protected volumes survive `pulumi destroy` and refuse deletion (prod data).
    protect: bool

    def __post_init__(self) -> None:
        _check_name("volume", self.name)
        if self.size_gib < 1:
            raise WorkloadError(f"volume {self.name}: size must be at least 1 GiB")


@dataclass(frozen=True)
class Scratch:
    """Space the containers of one replica share and lose on restart (a socket directory, a
    drill's restore target)."""

    name: str
    mount_path: str
    size_mib: int
    in_memory: bool = False

    def __post_init__(self) -> None:
        _check_name("scratch", self.name)


@dataclass(frozen=True)
class Resources:
    cpu_request_millicores: int
    memory_request_mib: int
    cpu_limit_millicores: int
    memory_limit_mib: int

    def __post_init__(self) -> None:
        # Settings (components/settings.py) report these same messages under their keys.
        if self.cpu_request_millicores > self.cpu_limit_millicores:
            raise WorkloadError(
                f"requests.cpu ({format_cpu(self.cpu_request_millicores)}) must not exceed "
                f"limits.cpu ({format_cpu(self.cpu_limit_millicores)})"
            )
        if self.memory_request_mib > self.memory_limit_mib:
            raise WorkloadError(
                f"requests.memory ({format_memory(self.memory_request_mib)}) must not exceed "
                f"limits.memory ({format_memory(self.memory_limit_mib)})"
            )


@dataclass(frozen=True)
class Probe:
    """A health check. Kubernetes uses `http_path` when set; Docker runs `command`."""

    command: tuple[str, ...]
    http_path: str | None = None
    port: int | None = None
    period_seconds: int = 10
    timeout_seconds: int = 3
    failure_threshold: int = 3

    @classmethod
    def http(
        cls,
        port: int,
        path: str,
        period_seconds: int = 10,
        command: tuple[str, ...] | None = None,
    ) -> Probe:
        """An HTTP check: Kubernetes gets it over HTTP; Docker runs `command`, by default
        wget (in the images that have it)."""
        return cls(
            command=command or _wget(port, path),
            http_path=path,
            port=port,
            period_seconds=period_seconds,
        )

    @classmethod
    def loopback_http(cls, port: int, path: str, period_seconds: int = 10) -> Probe:
        """An HTTP check of a port served on the loopback interface alone: run inside the
        container on both platforms (a kubelet's HTTP probe would come from outside the pod),
        with wget (in the images that have it)."""
        return cls(command=_wget(port, path), period_seconds=period_seconds)

    def __post_init__(self) -> None:
        if not self.command:
            raise WorkloadError("a probe needs a command (Docker runs it as the healthcheck)")

        if self.http_path is not None and self.port is None:
            raise WorkloadError("an HTTP probe needs a port")


def _wget(port: int, path: str) -> tuple[str, ...]:
    return ("wget", "-q", "-O", "/dev/null", f"http://127.0.0.1:{port}{path}")


@dataclass(frozen=True)
class Checks:
    """Startup gates the others; readiness takes a replica out of rotation; liveness restarts it."""

    startup: Probe
    readiness: Probe
    liveness: Probe

    @classmethod
    def always(cls, probe: Probe) -> Checks:
        """One check for helpers whose only state is up or down. Liveness waits twice as long
        as readiness, so a replica that is briefly unready is not restarted for it."""
        return cls(
            startup=probe,
            readiness=probe,
            liveness=replace(probe, failure_threshold=probe.failure_threshold * 2),
        )

    @classmethod
    def around(
        cls,
        ready: Probe,
        *,
        startup_seconds: int,
        startup_period: int = 2,
        liveness_period: int = 20,
        liveness_failures: int = 3,
        alive: Probe | None = None,
    ) -> Checks:
        """The same check three ways: up to `startup_seconds` to come up, then out of
        rotation when it fails, and restarted when it keeps failing for longer. A server
        with a health endpoint of its own besides readiness gives it as `alive`: not ready
        (replaying its log, reloading) is no reason to restart it."""
        return cls(
            startup=replace(
                ready,
                period_seconds=startup_period,
                failure_threshold=max(1, startup_seconds // startup_period),
            ),
            readiness=ready,
            liveness=replace(
                alive or ready, period_seconds=liveness_period, failure_threshold=liveness_failures
            ),
        )


@dataclass(frozen=True)
class Container:
    name: str
    image: pulumi.Input[str]
    resources: Resources
    checks: Checks
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    env: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    ports: tuple[Port, ...] = ()
    config_files: tuple[File, ...] = ()
    secret_files: tuple[File, ...] = ()
    # Writable scratch paths; the root filesystem is read-only.
    tmpfs: tuple[str, ...] = ("/tmp",)
    # Persistent volumes and scratch spaces of the workload this container mounts, by name.
    mounts: tuple[str, ...] = ()
    # Its certificate (a server's) or the CA it verifies servers with (a client's): the
    # placement delivers its files with the container's own.
    tls: TlsFiles | None = None
    # Its server takes changed config and secret files without a restart (nginx under the
    # watcher, components/watch.py): a placement need not replace it when they change.
    reloads_files: bool = False

    run_as_user: int = 10001

    @property
    def delivered_config_files(self) -> tuple[File, ...]:
        """Its config files, its certificate's included."""
        return self.config_files + (self.tls.config_files if self.tls else ())

    @property
    def delivered_secret_files(self) -> tuple[File, ...]:
        """Its secret files, its certificate's included."""
        return self.secret_files + (self.tls.secret_files if self.tls else ())

    @property
    def restart_files(self) -> tuple[tuple[str, pulumi.Input[str]], ...]:
        """(path under the files root, what of it the server reads only at start) for each
        delivered file: when one of these changes, a placement restarts the container (a
        new container on Docker, a rolled pod on Kubernetes)."""
        return tuple(
            (f"{kind}/{f.relative_path}", f.content if f.restart_view is None else f.restart_view)
            for kind, files in (
                ("config", self.delivered_config_files),
                ("secrets", self.delivered_secret_files),
            )
            for f in files
        )

    @property
    def mounted_secrets(self) -> tuple[tuple[str, str], ...]:
        """Secrets someone else keeps current, mounted read-only: (name, directory)."""
        return (self.tls.mounted_secret,) if self.tls and self.tls.mounted_secret else ()

    def __post_init__(self) -> None:
        _check_name("container", self.name)
        if self.run_as_user == 0:
            raise WorkloadError(f"container {self.name}: must not run as root")
        for files in (self.delivered_config_files, self.delivered_secret_files):
            names = [f.name for f in files]
            if len(names) != len(set(names)):
                raise WorkloadError(f"container {self.name}: duplicate file names")


@dataclass(frozen=True)
class Scaling:
    """Fixed replicas, or autoscaling between min and max on CPU and memory targets."""

    replicas: int = 1
    autoscale: bool = False
    min_replicas: int = 1
    max_replicas: int = 1
    target_cpu_percent: int = 70
    # None: on CPU alone.
    target_memory_percent: int | None = 80
    scale_down_window_seconds: int = 300

    def __post_init__(self) -> None:
        if self.replicas < 1 or self.min_replicas < 1:
            raise WorkloadError("replicas must be at least 1")
        if self.autoscale and self.max_replicas < self.min_replicas:
            raise WorkloadError("maxReplicas below minReplicas")

    @property
    def baseline(self) -> int:
        """Replicas to run where nothing scales (Docker), or to start with (Kubernetes)."""
        return self.min_replicas if self.autoscale else self.replicas


@dataclass(frozen=True)
class PlacedWorkload:
    """A workload as the rest of the stack refers to it, once a placement has it: its name,
    the host other workloads reach it by, and its ports by name. Components hand these to
    each other; nobody spells another workload's name."""

    name: str
    # The host its main container answers to.
    host: str
    ports: Mapping[str, int]
    # The ports a sidecar serves under a host of its own (Docker, where every container
    # has its own network), by port name; every other port is on `host`.
    port_hosts: Mapping[str, str] = field(default_factory=dict)

    def port(self, name: str) -> int:
        if name not in self.ports:
            raise WorkloadError(f"workload {self.name} has no port {name!r}: {sorted(self.ports)}")
        return self.ports[name]

    def address(self, port_name: str) -> str:
        """host:port of one of its ports."""
        port = self.port(port_name)
        return f"{self.port_hosts.get(port_name, self.host)}:{port}"


@dataclass(frozen=True)
class Target:
    """A port of a workload that Prometheus scrapes, as its component exposes it. Its job is
    the workload's name, which the alert rules select on (components/monitoring/rules.py)."""

    workload: PlacedWorkload
    port_name: str  # the container port's name, which Kubernetes discovery keeps
    path: str = "/metrics"

    @property
    def job(self) -> str:
        return self.workload.name

    @property
    def address(self) -> str:
        return self.workload.address(self.port_name)


@dataclass(frozen=True)
class Peer:
    """One connection, declared once, by either side: the client's `connects_to` names the
    server, or the server's `allowed_clients` names the client. The placement turns it into
    both sides (the server's ingress and the client's egress). `ports` are always the
    server's; none means every port of the server."""

    workload: PlacedWorkload
    ports: tuple[int, ...] = ()


@dataclass(frozen=True)
class Outbound:
    """Traffic to outside the stack: to `cidr` (by default anywhere) on these ports only
    (a public URL, object storage, the Kubernetes API, a cloud's metadata service)."""

    ports: tuple[int, ...]
    cidr: str = "0.0.0.0/0"

    @property
    def anywhere(self) -> bool:
        return self.cidr == "0.0.0.0/0"


@dataclass(frozen=True)
class LoadBalancer:
    """The load balancer in front of a public workload: what its controller is told (on
    Kubernetes, the LoadBalancer Service's annotations) and how long it goes on sending new
    connections to a replica that has begun to stop."""

    deregistration_seconds: int = 0
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ScannerWaiver:
    check: str  # the scanner's check id, like CKV_K8S_40
    reason: str


# Checkov CKV_K8S_40 wants UIDs of 10000 and more; a data store keeps its image's user, who
# owns its existing data (Postgres insists its data directory belong to the server's user).
KEEPS_IMAGE_USER = "CKV_K8S_40"


@dataclass(frozen=True)
class ApiAccess:
    """Read access a workload needs to the Kubernetes API: in its namespace (discovery), or
    cluster-wide for what has no namespace (nodes and their metrics)."""

    api_groups: tuple[str, ...]
    resources: tuple[str, ...]
    verbs: tuple[str, ...] = ("get", "list", "watch")
    cluster: bool = False


# The checks of a container run to completion (a job's, a release task's): placements watch
# its exit instead and never run these (Kubernetes gives a Job's pod no probes; Docker's
# scheduler sidecar is checked by its runner).
RUNS_TO_COMPLETION = Checks.always(Probe(command=("true",)))


@dataclass(frozen=True)
class ScheduledJob:
    """A container run to completion on a schedule, as the workload (its identity, files and
    network access), away from its serving replicas where the platform can place it.

    `scratch` is space of its own for one run (a restore drill's target): a volume made for
    the run and gone after it (Kubernetes: a generic ephemeral volume, on the cluster's
    storage, not a node's disk; Docker: a named volume of its own)."""

    name: str
    schedule: str
    container: Container
    deadline_seconds: int = 3600
    scratch: tuple[Scratch, ...] = ()

    def __post_init__(self) -> None:
        _check_name("job", self.name)
        if len(self.schedule.split()) != 5:
            raise WorkloadError(f"job {self.name}: schedule must be a 5-field cron expression")
        if any(s.in_memory for s in self.scratch):
            raise WorkloadError(f"job {self.name}: its scratch is a volume, not memory")


@dataclass(frozen=True)
class ReleaseTask:
    """A container run to completion once per release, before the workload rolls out (a
    database migration). The rollout waits for it; a failure stops the rollout.

    A release is the task's image and command: the same release never runs it twice."""

    name: str
    container: Container
    deadline_seconds: int = 600

    def __post_init__(self) -> None:
        _check_name("task", self.name)
        if not self.container.command:
            raise WorkloadError(f"task {self.name}: needs a command")
        if self.container.ports:
            raise WorkloadError(f"task {self.name}: runs to completion and serves no ports")

    def release(self) -> pulumi.Output[str]:
        """12 hex digits naming this release of the task: its image, command and arguments."""
        spec = self.container

        def digest(image: str) -> str:
            text = "\0".join((image, *spec.command, "\0", *spec.args))
            return hashlib.sha256(text.encode()).hexdigest()[:12]

        return pulumi.Output.from_input(spec.image).apply(digest)


@dataclass(frozen=True)
class Workload:
    name: str
    # Its role, which the policy pack reads (policies/vocabulary.py).
    component: Role
    version: str
    main: Container
    sidecars: tuple[Container, ...] = ()
    scaling: Scaling = Scaling()
    volumes: tuple[PersistentVolume, ...] = ()
    scratch: tuple[Scratch, ...] = ()
    # The connections this workload declares (components/platform/connections.py turns
    # each into both sides): clients it admits, servers it opens connections to.
    allowed_clients: tuple[Peer, ...] = ()
    connects_to: tuple[Peer, ...] = ()
    # Outside the stack: where it may open connections, and on which ports.
    outbound: tuple[Outbound, ...] = ()
    # Only workloads that declare access get a service account token (Kubernetes).
    api_access: tuple[ApiAccess, ...] = ()
    # A cloud role (an AWS IAM role ARN) its pods take on by web identity: bound to the
    # workload's own identity (its ServiceAccount, IRSA), never the node's, so no other pod on
    # the node shares it. A platform without per-workload identities (Docker) refuses it.
    cloud_role: str | None = None

    # Why the workload runs one replica by design (one Postgres primary); recorded with it
    # as a waiver of the policy pack's replicas rule. Empty: it scales like any other.
    singleton: str = ""

    # Checks of outside scanners (Checkov) this workload fails by design, with why; recorded
    # on its Kubernetes controller in the scanner's own skip annotation.
    scanner_waivers: tuple[ScannerWaiver, ...] = ()

    # The last to go when a node runs short (a data store): on Kubernetes Guaranteed QoS
    # (every container's requests raised to its limits) and the stack's critical
    # PriorityClass, so the kubelet evicts it last and the scheduler preempts for it.
    critical: bool = False

    # A public workload's load balancer (Workload.public).
    load_balancer: LoadBalancer = LoadBalancer()

    pre_stop_seconds: int = 5
    shutdown_grace_seconds: int = 25
    jobs: tuple[ScheduledJob, ...] = ()
    release_task: ReleaseTask | None = None

    def __post_init__(self) -> None:
        _check_name("workload", self.name)
        if self.component not in ROLES:
            raise WorkloadError(
                f"workload {self.name}: role {self.component!r} is not one of {ROLES}"
            )
        task = [self.release_task.container.name] if self.release_task else []
        if clash := _duplicates([c.name for c in self.containers] + task):
            raise WorkloadError(f"workload {self.name}: duplicate container names {clash}")
        # The workload's volumes and scratch (every container may mount them), and each
        # job's own scratch (only its container may): one name, one volume.
        shared = {v.name for v in self.volumes} | {s.name for s in self.scratch}
        own = {job.container.name: {s.name for s in job.scratch} for job in self.jobs}
        every = [v.name for v in self.volumes] + [s.name for s in self.scratch]
        if clash := _duplicates(every + [name for names in own.values() for name in names]):
            raise WorkloadError(
                f"workload {self.name}: volume and scratch names must differ: {clash}"
            )
        for container in [*self.containers, *(job.container for job in self.jobs)]:
            unknown = set(container.mounts) - shared - own.get(container.name, set())
            if unknown:
                raise WorkloadError(
                    f"workload {self.name}: container {container.name} mounts unknown "
                    f"volumes {sorted(unknown)}"
                )
        if clash := _duplicates([p.name for p in self.ports]):
            raise WorkloadError(f"workload {self.name}: duplicate port names {clash}")
        if clash := _duplicates([p.port for p in self.ports]):
            raise WorkloadError(f"workload {self.name}: duplicate ports {clash}")
        if self.public and self.pre_stop_seconds < self.load_balancer.deregistration_seconds:
            raise WorkloadError(
                f"workload {self.name}: stops serving {self.pre_stop_seconds} s after it is told "
                f"to stop, while its load balancer sends it new connections for "
                f"{self.load_balancer.deregistration_seconds} s"
            )
        if self.volumes and self.scaling.baseline > 1:
            raise WorkloadError(f"workload {self.name}: a workload with volumes runs one replica")

    @property
    def containers(self) -> tuple[Container, ...]:
        return (self.main, *self.sidecars)

    def mount_path(self, name: str) -> str:
        """Where a persistent volume or a scratch space of this workload (or of one of its
        jobs) is mounted."""
        paths = {v.name: v.mount_path for v in self.volumes}
        paths.update({s.name: s.mount_path for s in self.scratch})
        paths.update({s.name: s.mount_path for job in self.jobs for s in job.scratch})
        return paths[name]

    @property
    def stateful(self) -> bool:
        return bool(self.volumes)

    @property
    def public(self) -> bool:
        """Reachable from outside the stack: it publishes a port (the edge)."""
        return any(p.public_port is not None for p in self.ports)

    @property
    def ports(self) -> tuple[Port, ...]:
        return tuple(p for c in self.containers for p in c.ports)


def _duplicates(values: list[Any]) -> list[Any]:
    """The values that occur more than once, each once, in order."""
    counts = Counter(values)
    return [value for value in counts if counts[value] > 1]
