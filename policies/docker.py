"""Docker containers: the same hardening as the Kubernetes pods, in Docker's own terms."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from policies.durability import OFF_HOST_REPOSITORIES
from policies.durability import settings as parse_settings
from policies.rule import (
    ADVISE_ALL_ENFORCE_PROD,
    EVERYWHERE,
    Context,
    Violation,
    resource_rule,
    stack_rule,
)
from policies.view import (
    DOCKER_CONTAINER,
    DOCKER_NETWORK,
    UNKNOWN,
    Subject,
    files_named,
    get,
    items,
    never_started,
    serves_nothing,
)
from policies.vocabulary import DATA_STORES, EDGE, NETWORK_LABEL

CONTAINER = {DOCKER_CONTAINER}
ALLOWED_CAPABILITIES = {"NET_BIND_SERVICE", "CAP_NET_BIND_SERVICE"}
SENSITIVE_HOST_PATHS = (
    "/",
    "/etc",
    "/proc",
    "/sys",
    "/dev",
    "/boot",
    "/root",
    "/var/run",
    "/run",
    "/var/lib/docker",
    "/home",
)
RUNTIME_SOCKETS = ("docker.sock", "containerd.sock", "podman.sock")


def _shares_namespace(subject: Subject) -> bool:
    """A sidecar joins its main container's network (`container:...`) and inherits its exposure."""
    mode = get(subject.props, "networkMode")
    return isinstance(mode, str) and mode.startswith("container:")


@resource_rule(
    "docker-not-privileged",
    "No container runs privileged.",
    "A privileged container has every capability and the host's devices: it is root on the host.",
    EVERYWHERE,
    CONTAINER,
    ("Checkov CKV_DOCKER (privileged)", "docker-bench 5.4"),
)
def not_privileged(subject: Subject, _: Context) -> Iterator[str]:
    if get(subject.props, "privileged") is True:
        yield "the container is privileged"


@resource_rule(
    "docker-drop-all-capabilities",
    "Every container drops ALL capabilities and adds none but NET_BIND_SERVICE.",
    "Docker's default capability set (NET_RAW, CHOWN, SETUID, ...) is more than any of the stack's servers needs.",
    EVERYWHERE,
    CONTAINER,
    ("docker-bench 5.3",),
)
def drop_all_capabilities(subject: Subject, _: Context) -> Iterator[str]:
    if get(subject.props, "capabilities") is UNKNOWN:
        return
    if "ALL" not in items(subject.props, "capabilities", "drops"):
        yield "the container does not drop ALL capabilities"
    added = set(items(subject.props, "capabilities", "adds")) - ALLOWED_CAPABILITIES
    if added:
        yield f"the container adds capabilities {', '.join(sorted(map(str, added)))}"


@resource_rule(
    "docker-no-new-privileges",
    "Every container runs with the security option no-new-privileges.",
    "Without it a setuid binary in the image can raise a process's privileges.",
    EVERYWHERE,
    CONTAINER,
    ("docker-bench 5.25", "Checkov CKV_DOCKER (no-new-privileges)"),
)
def no_new_privileges(subject: Subject, _: Context) -> Iterator[str]:
    options = [o for o in items(subject.props, "securityOpts") if isinstance(o, str)]
    if not any(
        o.replace("=", ":") in ("no-new-privileges", "no-new-privileges:true") for o in options
    ):
        yield "the container lacks the security option no-new-privileges:true"


@resource_rule(
    "docker-read-only-rootfs",
    "Every container's root filesystem is read-only; writable paths are volumes or tmpfs (files carriers never run).",
    "An intruder cannot plant binaries or alter the image's files.",
    EVERYWHERE,
    CONTAINER,
    ("docker-bench 5.12",),
)
def read_only_rootfs(subject: Subject, _: Context) -> Iterator[str]:
    if never_started(subject):
        return  # a files carrier: Docker writes its uploads at `/`, and no process runs in it
    if get(subject.props, "readOnly") not in (True, UNKNOWN):
        yield "the container's root filesystem is writable"


@resource_rule(
    "docker-non-root-user",
    "Every container runs as a named non-root user (uid other than 0).",
    "The image's default user is often root, and root in a container is root on the host's kernel.",
    EVERYWHERE,
    CONTAINER,
    ("docker-bench 4.1", "Checkov CKV_DOCKER_3"),
)
def non_root_user(subject: Subject, _: Context) -> Iterator[str]:
    user = get(subject.props, "user")
    if user is UNKNOWN:
        return
    name = str(user or "").split(":", 1)[0]
    if name in ("", "0", "root"):
        yield f"the container runs as {name or 'the image default user'}"


@resource_rule(
    "docker-resource-limits",
    "Every container has a memory limit and a CPU limit.",
    "One container without limits can starve the others on the host, the database first.",
    ADVISE_ALL_ENFORCE_PROD,
    CONTAINER,
    ("docker-bench 5.10 5.11",),
)
def resource_limits(subject: Subject, _: Context) -> Iterator[str]:
    memory = get(subject.props, "memory")
    if memory is not UNKNOWN and not memory:
        yield "the container has no memory limit"
    cpus = get(subject.props, "cpus")
    if cpus is not UNKNOWN and not cpus and not get(subject.props, "cpuShares"):
        yield "the container has no CPU limit"


@resource_rule(
    "docker-healthcheck",
    "Every long-running container has a healthcheck (one-shot release tasks run to completion).",
    "Without one Docker reports a hung server as running, and dependants start against it.",
    ADVISE_ALL_ENFORCE_PROD,
    CONTAINER,
    ("docker-bench 4.6", "Checkov CKV_DOCKER_2"),
)
def healthcheck(subject: Subject, _: Context) -> Iterator[str]:
    if serves_nothing(subject):
        return
    tests = items(subject.props, "healthcheck", "tests")
    if get(subject.props, "healthcheck") is UNKNOWN:
        return
    if not tests or tests[0] == "NONE":
        yield "the container has no healthcheck"


@resource_rule(
    "docker-restart-policy",
    "Every long-running container has a restart policy (unless-stopped, always or on-failure).",
    "A crashed or rebooted host otherwise leaves the stack down until someone notices.",
    ADVISE_ALL_ENFORCE_PROD,
    CONTAINER,
    ("docker-bench 5.15",),
)
def restart_policy(subject: Subject, _: Context) -> Iterator[str]:
    if serves_nothing(subject):
        return
    policy = get(subject.props, "restart", default="no")
    if policy is not UNKNOWN and not str(policy).startswith(
        ("unless-stopped", "always", "on-failure")
    ):
        yield f"the container's restart policy is {policy}"


@resource_rule(
    "docker-log-rotation",
    "Container logs are rotated (json-file or local driver with max-size and max-file).",
    "Unrotated json-file logs grow until the host's disk, and the database on it, is full.",
    ADVISE_ALL_ENFORCE_PROD,
    CONTAINER,
    (),
)
def log_rotation(subject: Subject, _: Context) -> Iterator[str]:
    driver = get(subject.props, "logDriver", default="json-file")
    if driver is UNKNOWN or driver not in ("json-file", "local"):
        return  # a shipping driver (journald, fluentd, ...) keeps nothing on the container's disk
    options = get(subject.props, "logOpts", default={})
    if driver == "json-file" and (
        get(options, "max-size") is None or get(options, "max-file") is None
    ):
        yield "the container's json-file logs are not rotated (logOpts max-size and max-file)"


@resource_rule(
    "docker-no-host-namespaces",
    "No container uses the host's network, PID or IPC namespace.",
    "A container in the host's namespaces sees and reaches every process and interface of the host.",
    EVERYWHERE,
    CONTAINER,
    ("docker-bench 5.9 5.16 5.17", "Checkov (host network)"),
)
def no_host_namespaces(subject: Subject, _: Context) -> Iterator[str]:
    for key in ("networkMode", "pidMode", "ipcMode"):
        if get(subject.props, key) == "host":
            yield f"the container sets {key} host"


@resource_rule(
    "docker-no-sensitive-mounts",
    "No container mounts the Docker socket or a sensitive host path (/, /etc, /proc, /sys, /dev, /var/run, ...).",
    "The Docker socket is root on the host; the host's system directories are its configuration and secrets.",
    EVERYWHERE,
    CONTAINER,
    ("docker-bench 5.5 5.31", "kube-linter docker-sock (Kubernetes equivalent)"),
)
def no_sensitive_mounts(subject: Subject, _: Context) -> Iterator[str]:
    sources = [get(v, "hostPath") for v in items(subject.props, "volumes")]
    sources += [
        get(m, "source") for m in items(subject.props, "mounts") if get(m, "type") == "bind"
    ]
    for source in sources:
        if not isinstance(source, str):
            continue
        path = source.rstrip("/") or "/"
        if path.endswith(RUNTIME_SOCKETS) or path in SENSITIVE_HOST_PATHS:
            yield f"the container mounts the host path {source}"


@resource_rule(
    "docker-ports-edge-only",
    "Only the edge publishes ports on the host.",
    "Every published port is reachable from the host's network; the edge is where TLS, rate limits and headers are enforced.",
    EVERYWHERE,
    CONTAINER,
    (),
)
def ports_edge_only(subject: Subject, _: Context) -> Iterator[str]:
    published = [
        get(p, "external", default=get(p, "internal")) for p in items(subject.props, "ports")
    ]
    if published and subject.component != EDGE:
        yield f"{subject.app} publishes ports {', '.join(map(str, published))} but is not the edge"


@stack_rule(
    "docker-data-stores-internal",
    "Data stores (Postgres, Redis) are attached only to internal networks (no route out, not reachable from the host); a Postgres that backs up off the host may also join the stack's egress network, which publishes nothing.",
    "A data store on a routable network is one misconfigured port away from the internet, and can send data out.",
    EVERYWHERE,
    (),
)
def data_stores_internal(subjects: Sequence[Subject], _: Context) -> Iterator[Violation]:
    internal = {
        get(n.props, "name")
        for n in subjects
        if n.type == DOCKER_NETWORK and get(n.props, "internal") is True
    }
    egress = {
        get(n.props, "name")
        for n in subjects
        if n.type == DOCKER_NETWORK and n.labels.get(NETWORK_LABEL) == "egress"
    }
    backs_up_off_host = {
        carrier.app
        for carrier, text in files_named(subjects, "pgbackrest.conf")
        if parse_settings(text).get("repo1-type") in OFF_HOST_REPOSITORIES
    }
    for subject in subjects:
        if subject.type != DOCKER_CONTAINER or subject.component not in DATA_STORES:
            continue
        if _shares_namespace(subject):
            continue  # a sidecar: its main container's networks are checked
        networks = [get(n, "name") for n in items(subject.props, "networksAdvanced")]
        mode = get(subject.props, "networkMode")
        if UNKNOWN in networks or mode is UNKNOWN:
            continue  # a first preview: the sidecar's `container:<id>` is not known yet
        allowed = internal | (egress if subject.app in backs_up_off_host else set())
        outside = [n for n in networks if n not in allowed]
        if not networks and mode not in ("none",):
            yield Violation(
                f"{subject.app} container {subject.name} is on Docker's default bridge", subject
            )
        for network in outside:
            yield Violation(
                f"{subject.app} container {subject.name} is on the routable network {network}",
                subject,
            )
