"""Kubernetes pod security: the Pod Security Standards' restricted profile, and then some.

Every rule reads pod specs wherever they live (view.containers / view.pod_spec), so a
Deployment, a StatefulSet, a CronJob and a bare Pod are held to the same standard.
"""

from __future__ import annotations

from collections.abc import Iterator

from policies.rule import EVERYWHERE, Context, resource_rule
from policies.view import (
    UNKNOWN,
    WORKLOAD_TYPES,
    Subject,
    container_context,
    containers,
    get,
    items,
    plain,
    pod_spec,
)

ALLOWED_CAPABILITIES = {"NET_BIND_SERVICE"}
RESTRICTED_VOLUME_TYPES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
RUNTIME_SOCKETS = ("docker.sock", "containerd.sock", "crio.sock", "cri-dockerd.sock", "podman.sock")
# The sysctls the Pod Security Standards' baseline profile allows.
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}


@resource_rule(
    "k8s-no-privileged",
    "No container runs privileged.",
    "A privileged container has every capability and the host's devices: it is root on the node.",
    EVERYWHERE,
    WORKLOAD_TYPES,
    (
        "PSS baseline",
        "kube-score container-security-context",
        "Polaris privilegeEscalationAllowed",
        "kube-linter privileged-container",
        "Checkov CKV_K8S_16",
    ),
)
def no_privileged(subject: Subject, _: Context) -> Iterator[str]:
    for c in containers(subject):
        if get(c.spec, "securityContext", "privileged") is True:
            yield f"container {c.name} is privileged"


@resource_rule(
    "k8s-no-privilege-escalation",
    "Every container sets allowPrivilegeEscalation: false.",
    "Without it a process can gain more privileges than its parent (setuid binaries, file capabilities).",
    EVERYWHERE,
    WORKLOAD_TYPES,
    (
        "PSS restricted",
        "Polaris privilegeEscalationAllowed",
        "kube-linter privilege-escalation-container",
        "Checkov CKV_K8S_20",
    ),
)
def no_privilege_escalation(subject: Subject, _: Context) -> Iterator[str]:
    for c in containers(subject):
        value = get(c.spec, "securityContext", "allowPrivilegeEscalation")
        if value is not UNKNOWN and value is not False:
            yield f"container {c.name} does not set allowPrivilegeEscalation: false"


@resource_rule(
    "k8s-run-as-non-root",
    "Every container runs with runAsNonRoot: true and a non-zero runAsUser.",
    "A process that is root in the container is one kernel bug away from root on the node.",
    EVERYWHERE,
    WORKLOAD_TYPES,
    (
        "PSS restricted",
        "kube-score container-security-context",
        "Polaris runAsRootAllowed",
        "kube-linter run-as-non-root",
        "Checkov CKV_K8S_23",
    ),
)
def run_as_non_root(subject: Subject, _: Context) -> Iterator[str]:
    for c in containers(subject):
        non_root = container_context(c, subject, "runAsNonRoot")
        user = container_context(c, subject, "runAsUser")
        if UNKNOWN in (non_root, user):
            continue
        if non_root is not True:
            yield f"container {c.name} does not set runAsNonRoot: true"
        if user is None or user == 0:
            yield f"container {c.name} runs as uid {user if user is not None else 'of the image'}, not a fixed non-zero uid"


@resource_rule(
    "k8s-non-root-groups",
    "No container runs with group 0, and fsGroup and supplementalGroups leave out group 0.",
    "Group root can read and write files the image left group-writable for root.",
    EVERYWHERE,
    WORKLOAD_TYPES,
    ("kube-score container-security-context", "Checkov CKV_K8S_40"),
)
def non_root_groups(subject: Subject, _: Context) -> Iterator[str]:
    spec = pod_spec(subject)
    for c in containers(subject):
        if container_context(c, subject, "runAsGroup") == 0:
            yield f"container {c.name} runs with group 0"
    if get(spec, "securityContext", "fsGroup") == 0:
        yield "pod sets fsGroup 0"
    if 0 in items(spec, "securityContext", "supplementalGroups"):
        yield "pod adds supplemental group 0"


@resource_rule(
    "k8s-read-only-root-filesystem",
    "Every container mounts its root filesystem read-only; writable paths are volumes.",
    "An attacker who gets code execution cannot plant binaries or alter the image's files.",
    EVERYWHERE,
    WORKLOAD_TYPES,
    (
        "kube-score container-security-context",
        "Polaris notReadOnlyRootFilesystem",
        "kube-linter no-read-only-root-fs",
        "Checkov CKV_K8S_22",
    ),
)
def read_only_root_filesystem(subject: Subject, _: Context) -> Iterator[str]:
    for c in containers(subject):
        value = get(c.spec, "securityContext", "readOnlyRootFilesystem")
        if value is not UNKNOWN and value is not True:
            yield f"container {c.name} has a writable root filesystem"


@resource_rule(
    "k8s-drop-all-capabilities",
    "Every container drops ALL capabilities and adds none but NET_BIND_SERVICE.",
    "Default capabilities (NET_RAW, CHOWN, SETUID, ...) are what container escapes are built from.",
    EVERYWHERE,
    WORKLOAD_TYPES,
    (
        "PSS restricted",
        "Polaris dangerousCapabilities",
        "kube-linter drop-net-raw-capability",
        "Checkov CKV_K8S_28 CKV_K8S_37",
    ),
)
def drop_all_capabilities(subject: Subject, _: Context) -> Iterator[str]:
    for c in containers(subject):
        capabilities = plain(get(c.spec, "securityContext", "capabilities"))
        if capabilities is UNKNOWN:
            continue
        if "ALL" not in (capabilities or {}).get("drop", []):
            yield f"container {c.name} does not drop ALL capabilities"
        added = set((capabilities or {}).get("add", [])) - ALLOWED_CAPABILITIES
        if added:
            yield f"container {c.name} adds capabilities {', '.join(sorted(map(str, added)))}"


@resource_rule(
    "k8s-seccomp-profile",
    "Every container runs under a seccomp profile of type RuntimeDefault or Localhost.",
    "Unconfined containers can call every system call, including the rarely used ones most kernel exploits need.",
    EVERYWHERE,
    WORKLOAD_TYPES,
    ("PSS restricted", "kube-score pod-seccomp", "Checkov CKV_K8S_31"),
)
def seccomp_profile(subject: Subject, _: Context) -> Iterator[str]:
    for c in containers(subject):
        profile = get(c.spec, "securityContext", "seccompProfile", "type")
        if profile is None:
            profile = get(pod_spec(subject), "securityContext", "seccompProfile", "type")
        if profile is not UNKNOWN and profile not in ("RuntimeDefault", "Localhost"):
            yield f"container {c.name} has seccomp profile {profile or 'unset'}"


@resource_rule(
    "k8s-no-host-namespaces",
    "Pods do not share the host's network, PID or IPC namespace.",
    "A pod in the host's namespaces sees and reaches every process and interface on the node.",
    EVERYWHERE,
    WORKLOAD_TYPES,
    (
        "PSS baseline",
        "Polaris hostNetworkSet hostPIDSet hostIPCSet",
        "kube-linter host-network host-pid host-ipc",
        "Checkov CKV_K8S_17 CKV_K8S_18 CKV_K8S_19",
    ),
)
def no_host_namespaces(subject: Subject, _: Context) -> Iterator[str]:
    spec = pod_spec(subject)
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if get(spec, key) is True:
            yield f"pod sets {key}: true"


@resource_rule(
    "k8s-no-host-ports",
    "No container binds a host port.",
    "A host port bypasses Services and NetworkPolicies and pins the pod to nodes with that port free.",
    EVERYWHERE,
    WORKLOAD_TYPES,
    ("PSS baseline", "Polaris hostPortSet", "kube-linter host-port", "Checkov CKV_K8S_26"),
)
def no_host_ports(subject: Subject, _: Context) -> Iterator[str]:
    for c in containers(subject):
        for port in items(c.spec, "ports"):
            host_port = get(port, "hostPort")
            if isinstance(host_port, int | float) and host_port:
                yield f"container {c.name} binds host port {int(host_port)}"


@resource_rule(
    "k8s-restricted-volume-types",
    "Pods use only the volume types of the restricted profile (no hostPath).",
    "hostPath and the other node-level volume types expose the node's filesystem to the pod.",
    EVERYWHERE,
    WORKLOAD_TYPES,
    ("PSS baseline and restricted", "kube-linter sensitive-host-mounts", "Checkov CKV_K8S_27"),
)
def restricted_volume_types(subject: Subject, _: Context) -> Iterator[str]:
    for volume in items(pod_spec(subject), "volumes"):
        kinds = [k for k in volume if k != "name"] if hasattr(volume, "__iter__") else []
        for kind in kinds:
            if kind not in RESTRICTED_VOLUME_TYPES:
                yield f"volume {get(volume, 'name')} is of type {kind}"


@resource_rule(
    "k8s-no-runtime-socket",
    "No volume or mount reaches a container runtime socket (Docker, containerd, CRI-O).",
    "Whoever talks to the runtime socket can start a privileged container: it is root on the node.",
    EVERYWHERE,
    WORKLOAD_TYPES,
    ("kube-linter docker-sock", "Polaris (hostPath)", "Checkov CKV_K8S_27"),
)
def no_runtime_socket(subject: Subject, _: Context) -> Iterator[str]:
    for volume in items(pod_spec(subject), "volumes"):
        path = get(volume, "hostPath", "path")
        if isinstance(path, str) and (
            path.endswith(RUNTIME_SOCKETS) or path.rstrip("/") in ("/var/run", "/run")
        ):
            yield f"volume {get(volume, 'name')} mounts the runtime socket path {path}"
    for c in containers(subject):
        for mount in items(c.spec, "volumeMounts"):
            path = get(mount, "mountPath")
            if isinstance(path, str) and path.endswith(RUNTIME_SOCKETS):
                yield f"container {c.name} mounts {path}"


@resource_rule(
    "k8s-default-proc-mount",
    "Containers keep the default /proc mount (procMount: Default).",
    "An unmasked /proc exposes kernel interfaces the runtime normally hides.",
    EVERYWHERE,
    WORKLOAD_TYPES,
    ("PSS baseline",),
)
def default_proc_mount(subject: Subject, _: Context) -> Iterator[str]:
    for c in containers(subject):
        mount = get(c.spec, "securityContext", "procMount")
        if isinstance(mount, str) and mount != "Default":
            yield f"container {c.name} sets procMount {mount}"


@resource_rule(
    "k8s-safe-sysctls",
    "Pods set only the sysctls the baseline profile calls safe.",
    "Other sysctls are not namespaced: setting one changes the whole node.",
    EVERYWHERE,
    WORKLOAD_TYPES,
    ("PSS baseline", "Checkov CKV_K8S_156"),
)
def safe_sysctls(subject: Subject, _: Context) -> Iterator[str]:
    for sysctl in items(pod_spec(subject), "securityContext", "sysctls"):
        name = get(sysctl, "name")
        if isinstance(name, str) and name not in SAFE_SYSCTLS:
            yield f"pod sets the unsafe sysctl {name}"
