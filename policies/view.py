"""How rules read resources: the props the engine hands a policy, read safely.

During `pulumi preview` some values are unknown, and reading one through the engine's proxy
raises. Rules read through `get` and `items`, which turn an unknown into `UNKNOWN`; a check
that meets `UNKNOWN` cannot judge and reports nothing, so previews never fail on values that
are only known after apply.

The same helpers find pod specs wherever they live (Deployment, StatefulSet, DaemonSet,
ReplicaSet, Job, CronJob, Pod), the config files a resource carries (ConfigMap, Secret, a
Docker container's uploads), and the labels of Kubernetes and Docker resources alike.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy.proxy import UnknownValueError

WAIVER_PREFIX = "waivers.prodstack.dev/"
NAME_LABEL = "app.kubernetes.io/name"
# On a Docker network: public, egress, or the server it belongs to (components/platform).
COMPONENT_LABEL = "app.kubernetes.io/component"


class _Unknown:
    def __repr__(self) -> str:
        return "<unknown during preview>"

    def __bool__(self) -> bool:
        return False


UNKNOWN: Any = _Unknown()


def get(value: Any, *path: str | int, default: Any = None) -> Any:
    """The value at `path`, `default` when absent, `UNKNOWN` when not known yet."""
    for key in path:
        if value is UNKNOWN:
            return UNKNOWN
        try:
            if isinstance(value, Mapping) or (
                isinstance(value, Sequence) and not isinstance(value, str) and isinstance(key, int)
            ):
                value = value[key]  # type: ignore[index]  # key is an int for a Sequence
            else:
                return default
        except (KeyError, IndexError):
            return default
        except UnknownValueError:
            return UNKNOWN
    return default if value is None else value


def items(value: Any, *path: str | int) -> list[Any]:
    """The known elements of the list at `path` (unknown elements are left out)."""
    found = get(value, *path)
    if not isinstance(found, Sequence) or isinstance(found, str):
        return []
    known = []
    for index in range(len(found)):
        element = get(found, index)
        if element is not UNKNOWN:
            known.append(element)
    return known


def entries(value: Any, *path: str | int) -> list[tuple[str, Any]]:
    """The known (key, value) pairs of the mapping at `path`."""
    found = get(value, *path)
    if not isinstance(found, Mapping):
        return []
    pairs = []
    for key in list(found):
        element = get(found, key)
        if element is not UNKNOWN:
            pairs.append((str(key), element))
    return pairs


@dataclass(eq=False)
class Subject:
    """One resource as a policy sees it."""

    type: str
    name: str
    urn: str
    props: Mapping[str, Any]
    protect: bool = False
    parent: str = ""
    # Paths (tuples of keys) the program marked secret; None when secretness is not visible.
    secret_paths: frozenset[tuple[str | int, ...]] | None = None
    _labels: dict[str, str] | None = field(default=None, repr=False)

    def get(self, *path: str | int, default: Any = None) -> Any:
        return get(self.props, *path, default=default)

    def is_secret(self, *path: str | int) -> bool | None:
        """Whether the value at `path` (or a value containing it) was marked secret."""
        if self.secret_paths is None:
            return None
        return any(path[: len(p)] == p for p in self.secret_paths)

    @property
    def is_kubernetes(self) -> bool:
        return self.type.startswith("kubernetes:")

    @property
    def kind(self) -> str:
        return self.type.rsplit(":", 1)[-1]

    @property
    def labels(self) -> dict[str, str]:
        """Kubernetes metadata labels, or a Docker resource's labels."""
        if self._labels is None:
            if self.is_kubernetes:
                self._labels = {k: str(v) for k, v in entries(self.props, "metadata", "labels")}
            else:
                self._labels = {
                    str(get(e, "label")): str(get(e, "value")) for e in items(self.props, "labels")
                }
        return self._labels

    @property
    def app(self) -> str:
        """The workload's name (app.kubernetes.io/name), else the resource name."""
        return self.labels.get(NAME_LABEL) or self.name

    @property
    def component(self) -> str:
        return self.labels.get(COMPONENT_LABEL, "")

    @property
    def display(self) -> str:
        namespace = get(self.props, "metadata", "namespace")
        where = f"{namespace}/" if isinstance(namespace, str) and namespace else ""
        name = get(self.props, "metadata", "name")
        return f"{self.kind} {where}{name if isinstance(name, str) and name else self.name}"

    def waiver(self, rule_id: str) -> str | None:
        """The reason a workload gives for being exempt from an advisory rule, if any."""
        key = WAIVER_PREFIX + rule_id
        if self.is_kubernetes:
            reason = get(self.props, "metadata", "annotations", key)
        else:
            reason = self.labels.get(key)
        return reason if isinstance(reason, str) and reason.strip() else None


# --- Kubernetes workloads -------------------------------------------------------------------

POD_TEMPLATE_TYPES = frozenset(
    {
        "kubernetes:apps/v1:Deployment",
        "kubernetes:apps/v1:StatefulSet",
        "kubernetes:apps/v1:DaemonSet",
        "kubernetes:apps/v1:ReplicaSet",
        "kubernetes:batch/v1:Job",
    }
)
CRONJOB = "kubernetes:batch/v1:CronJob"
POD = "kubernetes:core/v1:Pod"
WORKLOAD_TYPES = POD_TEMPLATE_TYPES | {CRONJOB, POD}
JOB_TYPES = frozenset({"kubernetes:batch/v1:Job", CRONJOB})
SCALABLE_TYPES = frozenset({"kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet"})
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
SECRET = "kubernetes:core/v1:Secret"
SERVICE = "kubernetes:core/v1:Service"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
NAMESPACE = "kubernetes:core/v1:Namespace"
DOCKER_CONTAINER = "docker:index/container:Container"
DOCKER_NETWORK = "docker:index/network:Network"
DOCKER_VOLUME = "docker:index/volume:Volume"
STACK = "pulumi:pulumi:Stack"
# Resources that carry config files: see `files`.
FILE_CARRIERS = frozenset({CONFIG_MAP, SECRET, DOCKER_CONTAINER})


def pod_template(subject: Subject) -> Any:
    """The pod template (metadata and spec) of a workload, None for anything else."""
    if subject.type in POD_TEMPLATE_TYPES:
        return subject.get("spec", "template")
    if subject.type == CRONJOB:
        return subject.get("spec", "jobTemplate", "spec", "template")
    if subject.type == POD:
        return subject.props
    return None


def pod_spec(subject: Subject) -> Any:
    return get(pod_template(subject), "spec")


def pod_labels(subject: Subject) -> dict[str, str]:
    return {k: str(v) for k, v in entries(pod_template(subject), "metadata", "labels")}


@dataclass(frozen=True)
class ContainerRef:
    kind: str  # containers, initContainers or ephemeralContainers
    spec: Any

    @property
    def name(self) -> str:
        name = get(self.spec, "name")
        return name if isinstance(name, str) else "?"


def runs_to_completion(subject: Subject) -> bool:
    """A Job, a CronJob or a one-shot Docker container (Pulumi attaches and waits for its
    exit: a release task like a migration). It serves nothing, so the rules about health
    checks, restarts and scraping do not apply to it."""
    if subject.type in JOB_TYPES:
        return True
    return (
        subject.type == DOCKER_CONTAINER
        and get(subject.props, "attach") is True
        and get(subject.props, "mustRun") is False
    )


def never_started(subject: Subject) -> bool:
    """A Docker container created and never started: a files carrier, which receives a
    container's files into a volume (components/platform/docker/files.py). No process runs in it."""
    return (
        subject.type == DOCKER_CONTAINER
        and get(subject.props, "start") is False
        and get(subject.props, "mustRun") is False
    )


def serves_nothing(subject: Subject) -> bool:
    """Runs to completion or never runs: no health check, restart policy or scraping."""
    return runs_to_completion(subject) or never_started(subject)


def containers(subject: Subject) -> Iterator[ContainerRef]:
    spec = pod_spec(subject)
    for kind in ("initContainers", "containers", "ephemeralContainers"):
        for container in items(spec, kind):
            yield ContainerRef(kind, container)


def container_context(container: ContainerRef, subject: Subject, key: str) -> Any:
    """A security setting as Kubernetes resolves it: the container's, else the pod's."""
    own = get(container.spec, "securityContext", key)
    if own is not None:
        return own
    return get(pod_spec(subject), "securityContext", key)


# --- Files carried by resources -------------------------------------------------------------


def files(subject: Subject) -> dict[str, str]:
    """Config files by file name: a ConfigMap's data, a Secret's data, a container's uploads."""
    found: dict[str, str] = {}
    if subject.type == CONFIG_MAP:
        found.update((k, v) for k, v in entries(subject.props, "data") if isinstance(v, str))
    elif subject.type == SECRET:
        found.update((k, v) for k, v in entries(subject.props, "stringData") if isinstance(v, str))
        for key, value in entries(subject.props, "data"):
            try:
                found[key] = base64.b64decode(str(value)).decode()
            except (binascii.Error, UnicodeDecodeError):
                continue
    elif subject.type == DOCKER_CONTAINER:
        for upload in items(subject.props, "uploads"):
            path, content = get(upload, "file"), get(upload, "content")
            if isinstance(path, str) and isinstance(content, str):
                found[path.rsplit("/", 1)[-1]] = content
    return found


def files_named(subjects: Sequence[Subject], name: str) -> list[tuple[Subject, str]]:
    """Every copy of a config file in the stack, with the resource carrying it."""
    return [
        (s, text)
        for s in subjects
        if s.type in FILE_CARRIERS
        for file, text in files(s).items()
        if file == name
    ]


# --- Workloads on either platform ---------------------------------------------------------


def workloads(subjects: Sequence[Subject]) -> list[Subject]:
    """The stack's workloads: Kubernetes workload resources and Docker containers."""
    return [s for s in subjects if s.type in WORKLOAD_TYPES or s.type == DOCKER_CONTAINER]


def command_line(container_spec: Any) -> list[str]:
    """A container's command and args (Kubernetes) or entrypoint and command (Docker)."""
    parts = [
        *items(container_spec, "entrypoints"),
        *items(container_spec, "command"),
        *items(container_spec, "args"),
    ]
    return [p for p in parts if isinstance(p, str)]


def flag(arguments: Sequence[str], name: str) -> str | None:
    """The value of `--name VALUE` or `--name=VALUE` in a command line."""
    for index, argument in enumerate(arguments):
        if argument == name and index + 1 < len(arguments):
            return arguments[index + 1]
        if argument.startswith(name + "="):
            return argument.split("=", 1)[1]
    return None


def fmt(value: Any) -> str:
    """A value for a message; the engine sends every number as a float."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def plain(value: Any) -> Any:
    """A value as plain dicts and lists, or UNKNOWN when any part of it is unknown."""
    if isinstance(value, Mapping):
        converted = {}
        for key in list(value):
            inner = plain(get(value, key))
            if inner is UNKNOWN:
                return UNKNOWN
            converted[key] = inner
        return converted
    if isinstance(value, Sequence) and not isinstance(value, str):
        elements = [plain(get(value, index)) for index in range(len(value))]
        return UNKNOWN if any(e is UNKNOWN for e in elements) else elements
    return value
