"""Kubernetes workload hygiene: resources, probes, images, identity, labels, jobs."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Sequence

from policies.rule import (
    ADVISE_ALL,
    ADVISE_ALL_ENFORCE_PROD,
    EVERYWHERE,
    PROD_ONLY,
    Context,
    Violation,
    resource_rule,
    stack_rule,
)
from policies.view import (
    CRONJOB,
    JOB_TYPES,
    NAMESPACE,
    POD,
    POD_TEMPLATE_TYPES,
    SCALABLE_TYPES,
    UNKNOWN,
    WORKLOAD_TYPES,
    Subject,
    containers,
    entries,
    get,
    items,
    plain,
    pod_labels,
    pod_spec,
)
from policies.vocabulary import DATA_STORES

RECOMMENDED_LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/component",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/managed-by",
)
FORBIDDEN_NAMESPACES = {"default", "kube-system", "kube-public", "kube-node-lease"}
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
DEFAULT_REGISTRIES = [
    "docker.io",
    "ghcr.io",
    "quay.io",
    "registry.k8s.io",
    "prodstack",  # images the stack builds itself (images/)
]


def image_reference(image: str) -> tuple[str, str | None, str | None]:
    """(registry, tag, digest) of an image reference; docker.io when no registry is named."""
    name, _, digest = image.partition("@")
    first, _, rest = name.partition("/")
    registry = (
        first if rest and ("." in first or ":" in first or first == "localhost") else "docker.io"
    )
    last = name.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else None
    return registry, tag, digest or None


def _images(subject: Subject) -> Iterator[tuple[str, str]]:
    for c in containers(subject):
        image = get(c.spec, "image")
        if isinstance(image, str):
            yield c.name, image


@resource_rule(
    "k8s-resource-requests",
    "Every container requests CPU and memory.",
    "The scheduler places pods by their requests; without them a node is overcommitted and the first to suffer is the database.",
    ADVISE_ALL_ENFORCE_PROD,
    WORKLOAD_TYPES,
    (
        "kube-score container-resources",
        "Polaris cpuRequestsMissing memoryRequestsMissing",
        "kube-linter unset-cpu-requirements unset-memory-requirements",
        "Checkov CKV_K8S_10 CKV_K8S_12",
    ),
)
def resource_requests(subject: Subject, _: Context) -> Iterator[str]:
    for c in containers(subject):
        for resource in ("cpu", "memory"):
            if get(c.spec, "resources", "requests", resource) is None:
                yield f"container {c.name} requests no {resource}"


@resource_rule(
    "k8s-memory-limits",
    "Every container has a memory limit.",
    "One leaking container without a limit takes the node's memory and the OOM killer picks its victims elsewhere.",
    ADVISE_ALL_ENFORCE_PROD,
    WORKLOAD_TYPES,
    (
        "kube-score container-resources",
        "Polaris memoryLimitsMissing",
        "kube-linter unset-memory-requirements",
        "Checkov CKV_K8S_13",
    ),
)
def memory_limits(subject: Subject, _: Context) -> Iterator[str]:
    for c in containers(subject):
        if get(c.spec, "resources", "limits", "memory") is None:
            yield f"container {c.name} has no memory limit"


_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50}
_DECIMAL = {"k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "": 1}


def byte_quantity(value: object) -> int | None:
    """Bytes of a Kubernetes quantity like 64Mi or 1G (None: not one)."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([KMGTP]i|[kMGTP]?)", str(value))
    if match is None:
        return None
    number, unit = match.groups()
    return int(float(number) * (_BINARY.get(unit) or _DECIMAL[unit]))


@resource_rule(
    "k8s-scratch-requested",
    "Scratch space on the node's disk (emptyDir volumes without medium Memory) has a sizeLimit, and the pod's containers request at least that much ephemeral-storage.",
    "The kubelet, short of disk, evicts first the pods that use more ephemeral storage than they requested: a pod that writes scratch without asking (a restore drill, a cache) is the first to go, even when it is the database.",
    ADVISE_ALL_ENFORCE_PROD,
    WORKLOAD_TYPES,
    ("Kubernetes docs: local ephemeral storage", "kube-score (ephemeral-storage requests)"),
)
def scratch_requested(subject: Subject, _: Context) -> Iterator[str]:
    spec = pod_spec(subject)
    scratch = 0
    for volume in items(spec, "volumes"):
        empty_dir = get(volume, "emptyDir")
        if empty_dir is None or get(empty_dir, "medium") == "Memory":
            continue
        limit = get(empty_dir, "sizeLimit")
        if limit is UNKNOWN:
            return
        size = byte_quantity(limit) if limit is not None else None
        if size is None:
            yield f"emptyDir {get(volume, 'name')} on the node's disk has no sizeLimit"
            continue
        scratch += size
    requested = 0
    for c in containers(subject):
        request = get(c.spec, "resources", "requests", "ephemeral-storage")
        if request is UNKNOWN:
            return
        requested += byte_quantity(request) or 0
    if requested < scratch:
        yield (
            f"its emptyDirs may take {scratch // 2**20}Mi of the node's disk, and its "
            f"containers request {requested // 2**20}Mi of ephemeral-storage"
        )


@resource_rule(
    "k8s-data-store-guaranteed",
    "Data stores (roles database and cache) run with Guaranteed QoS (every container's requests equal its limits) and a priorityClassName.",
    "Under memory pressure the kubelet evicts pods by how far they exceed their requests, and the scheduler preempts the lowest priority: a database requesting half its limit, without a priority, is among the first to go.",
    PROD_ONLY,
    SCALABLE_TYPES,
    (
        "Kubernetes docs: Pod Quality of Service classes",
        "Kubernetes docs: Pod priority and preemption",
    ),
)
def data_store_guaranteed(subject: Subject, _: Context) -> Iterator[str]:
    if subject.component not in DATA_STORES:
        return
    for c in containers(subject):
        for resource in ("cpu", "memory"):
            request = get(c.spec, "resources", "requests", resource)
            limit = get(c.spec, "resources", "limits", resource)
            if UNKNOWN in (request, limit) or request == limit:
                continue
            yield f"container {c.name} requests {request} {resource} under a limit of {limit}: not Guaranteed"
    if get(pod_spec(subject), "priorityClassName") is None:
        yield "has no priorityClassName"


@resource_rule(
    "k8s-probes",
    "Every long-running container has a liveness probe; the pod's first (main) container has a readiness probe and its sidecars none.",
    "Without readiness a replica gets traffic before it can serve; without liveness a hung one is never restarted; a pod is ready only when every container is, so a sidecar's readiness (an exporter, a backup agent) takes the server out of its Service whenever the sidecar is slow.",
    ADVISE_ALL_ENFORCE_PROD,
    WORKLOAD_TYPES - JOB_TYPES,
    (
        "kube-score container-probes",
        "Polaris livenessProbeMissing readinessProbeMissing",
        "kube-linter no-liveness-probe no-readiness-probe",
        "Checkov CKV_K8S_8 CKV_K8S_9",
    ),
)
def probes(subject: Subject, _: Context) -> Iterator[str]:
    main = True
    for c in containers(subject):
        if c.kind != "containers":
            continue
        if get(c.spec, "livenessProbe") is None:
            yield f"container {c.name} has no livenessProbe"
        readiness = get(c.spec, "readinessProbe")
        if main and readiness is None:
            yield f"container {c.name} has no readinessProbe"
        elif not main and readiness is not None:
            yield f"sidecar {c.name} has a readinessProbe, which gates the pod's readiness"
        main = False


def _window(probe: object) -> float:
    """How long a probe must keep failing before it acts."""
    period, failures = (
        get(probe, "periodSeconds", default=10),
        get(probe, "failureThreshold", default=3),
    )
    return (
        float(period) * float(failures)
        if isinstance(period, int | float) and isinstance(failures, int | float)
        else 0.0
    )


@resource_rule(
    "k8s-probes-differ",
    "Liveness is not the readiness probe: it differs in what it checks or waits longer before acting.",
    "An identical liveness probe restarts a replica that is only briefly unready (a slow dependency), turning a blip into a restart storm.",
    ADVISE_ALL,
    WORKLOAD_TYPES - JOB_TYPES,
    ("kube-score container-probes (identical probes)",),
)
def probes_differ(subject: Subject, _: Context) -> Iterator[str]:
    for c in containers(subject):
        liveness = plain(get(c.spec, "livenessProbe"))
        readiness = plain(get(c.spec, "readinessProbe"))
        if liveness is None or readiness is None or UNKNOWN in (liveness, readiness):
            continue
        if liveness == readiness:
            yield f"container {c.name} has identical liveness and readiness probes"
        elif _window(liveness) < _window(readiness):
            yield f"container {c.name} restarts ({_window(liveness):.0f} s) before it is taken out of rotation ({_window(readiness):.0f} s)"


@resource_rule(
    "k8s-image-tag-pinned",
    "Every image names a tag other than latest, or a digest.",
    "An untagged or latest image changes under a running workload at the next pull; rollbacks stop meaning anything.",
    EVERYWHERE,
    WORKLOAD_TYPES,
    (
        "kube-score container-image-tag",
        "Polaris tagNotSpecified",
        "kube-linter latest-tag",
        "Checkov CKV_K8S_14",
    ),
)
def image_tag_pinned(subject: Subject, _: Context) -> Iterator[str]:
    for name, image in _images(subject):
        tag, digest = image_reference(image)[1:]
        if digest is None and (tag is None or tag == "latest"):
            yield f"container {name} uses image {image} without a pinned tag"


@resource_rule(
    "k8s-image-digest",
    "In prod every image is pinned by sha256 digest.",
    "A tag can be moved or overwritten in the registry; a digest names exactly the bytes that were tested.",
    PROD_ONLY,
    WORKLOAD_TYPES,
    ("Polaris (tag checks)", "Checkov CKV_K8S_43"),
)
def image_digest(subject: Subject, _: Context) -> Iterator[str]:
    for name, image in _images(subject):
        if not DIGEST.search(image):
            yield f"container {name} uses image {image} without a sha256 digest"


@resource_rule(
    "k8s-allowed-registries",
    "Images come only from the allowed registries (pack config: allowedRegistries).",
    "An image from an unreviewed registry is code nobody vetted running inside the stack.",
    EVERYWHERE,
    WORKLOAD_TYPES,
    ("Checkov CKV_K8S_43 (digest)", "Gatekeeper allowedrepos"),
    config={
        "allowedRegistries": {
            "type": "array",
            "items": {"type": "string"},
            "default": DEFAULT_REGISTRIES,
            "description": "Registry hosts images may come from (docker.io for unqualified names).",
        }
    },
)
def allowed_registries(subject: Subject, context: Context) -> Iterator[str]:
    allowed = set(context.config.get("allowedRegistries", DEFAULT_REGISTRIES))
    for name, image in _images(subject):
        registry = image_reference(image)[0]

        repository = image.split("/", 1)[0].split(":", 1)[0].split("@", 1)[0]
        if registry not in allowed and repository not in allowed:
            yield f"container {name} pulls from {registry}, not one of {', '.join(sorted(allowed))}"


@resource_rule(
    "k8s-no-bare-pods",
    "Pods are managed by a controller (Deployment, StatefulSet, Job, ...), never created bare.",
    "A bare pod is not rescheduled when its node fails and is not rolled when its spec changes.",
    EVERYWHERE,
    {POD},
    ("kube-linter no-controller (Pod)", "Polaris (controller)"),
)
def no_bare_pods(subject: Subject, _: Context) -> Iterator[str]:
    yield f"{subject.display} is a bare pod; use a Deployment, StatefulSet or Job"


@resource_rule(
    "k8s-dedicated-service-account",
    "Every workload runs as its own ServiceAccount, never the namespace's default.",
    "Permissions granted to `default` reach every pod that forgot to name an account.",
    EVERYWHERE,
    WORKLOAD_TYPES,
    ("kube-linter default-service-account", "Checkov CKV_K8S_41"),
)
def dedicated_service_account(subject: Subject, _: Context) -> Iterator[str]:
    account = get(pod_spec(subject), "serviceAccountName")
    if account is not UNKNOWN and account in (None, "", "default"):
        yield f"{subject.display} runs as the default ServiceAccount"


@stack_rule(
    "k8s-no-token-automount",
    "Pods mount no API token, unless their ServiceAccount is bound to a Role in the stack.",
    "A mounted token is a credential for the API server in every container; only workloads that call the API need one.",
    EVERYWHERE,
    ("kube-linter (automount)", "Checkov CKV_K8S_38"),
)
def no_token_automount(subjects: Sequence[Subject], _: Context) -> Iterator[Violation]:
    bound = {
        get(account, "name")
        for subject in subjects
        if subject.kind in ("RoleBinding", "ClusterRoleBinding")
        for account in items(subject.props, "subjects")
        if get(account, "kind") == "ServiceAccount"
    }

    for subject in subjects:
        if subject.type not in WORKLOAD_TYPES:
            continue
        spec = pod_spec(subject)
        automount = get(spec, "automountServiceAccountToken")
        if automount is UNKNOWN or automount is False:
            continue
        account = get(spec, "serviceAccountName", default="default")
        if account not in bound:
            yield Violation(
                f"{subject.display} mounts an API token for {account}, which no Role binding needs",
                subject,
            )


READ_VERBS = {"get", "list", "watch"}
ROLE_TYPES = {
    "kubernetes:rbac.authorization.k8s.io/v1:Role",
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole",
}


@resource_rule(
    "k8s-rbac-read-only",
    "Roles and ClusterRoles grant only get, list and watch, name their resources (no wildcards), and none reads Secrets.",
    "The stack's workloads only discover and read, and get their own credentials as mounted files; a write or wildcard grant turns one compromised pod into control of the namespace, a Secret read in the namespace into every credential of the stack (a third-party exporter's token would do), and a cluster-wide one into every tenant's.",
    EVERYWHERE,
    ROLE_TYPES,
    ("kube-linter (wildcard-in-rules, access-to-secrets)", "Checkov CKV_K8S_49, CKV_K8S_155"),
)
def rbac_read_only(subject: Subject, _: Context) -> Iterator[str]:
    cluster_wide = subject.type.endswith(":ClusterRole")
    for rule in items(subject.props, "rules"):
        verbs, resources = items(rule, "verbs"), items(rule, "resources")
        if UNKNOWN in verbs or UNKNOWN in resources:
            continue
        wildcards = [v for v in (*verbs, *resources, *items(rule, "apiGroups")) if v == "*"]
        if wildcards:
            yield f"{subject.display} grants a wildcard ({', '.join(resources)}: {', '.join(verbs)})"
        writes = sorted(set(verbs) - READ_VERBS - {"*"})
        if writes:
            yield f"{subject.display} grants {', '.join(writes)} on {', '.join(resources)}"
        if "secrets" in resources:
            where = "in every namespace" if cluster_wide else "in its namespace"
            yield f"{subject.display} reads Secrets {where}"


@resource_rule(
    "k8s-namespace",
    "Namespaced resources name a namespace other than default, kube-system, kube-public or kube-node-lease.",
    "The stack's NetworkPolicies and Pod Security labels live on its own namespace; the default ones have neither.",
    EVERYWHERE,
    WORKLOAD_TYPES
    | {
        "kubernetes:core/v1:Service",
        "kubernetes:core/v1:ConfigMap",
        "kubernetes:core/v1:Secret",
        "kubernetes:core/v1:ServiceAccount",
    },
    ("kube-score (namespace)", "Checkov CKV_K8S_21"),
)
def namespace(subject: Subject, _: Context) -> Iterator[str]:
    value = get(subject.props, "metadata", "namespace")
    if value is UNKNOWN:
        return
    if not value or value in FORBIDDEN_NAMESPACES:
        yield f"{subject.display} is in the {value or 'default'} namespace"


@resource_rule(
    "k8s-namespace-pod-security",
    "The stack's namespace enforces the restricted Pod Security Standard.",
    "Admission then refuses any pod that slips past the pack (a manual kubectl apply, a Helm chart).",
    EVERYWHERE,
    {NAMESPACE},
    ("PSS admission",),
)
def namespace_pod_security(subject: Subject, _: Context) -> Iterator[str]:
    level = subject.labels.get("pod-security.kubernetes.io/enforce")
    if level != "restricted":
        yield f"{subject.display} enforces Pod Security level {level or 'none'}, not restricted"


@resource_rule(
    "k8s-unique-env",
    "No container defines the same environment variable twice.",
    "Kubernetes keeps the last definition silently; the first one, the one a reviewer reads, is ignored.",
    ADVISE_ALL_ENFORCE_PROD,
    WORKLOAD_TYPES,
    ("kube-linter dupe-env-var",),
)
def unique_env(subject: Subject, _: Context) -> Iterator[str]:
    for c in containers(subject):
        names = Counter(get(e, "name") for e in items(c.spec, "env"))
        for name, count in names.items():
            if isinstance(name, str) and count > 1:
                yield f"container {c.name} defines {name} {count} times"


@resource_rule(
    "k8s-recommended-labels",
    "Workloads and their pods carry the recommended app.kubernetes.io labels.",
    "Dashboards, alerts, NetworkPolicies and kubectl selectors all key on them.",
    ADVISE_ALL,
    WORKLOAD_TYPES,
    ("kube-linter required-label-owner (similar)", "Polaris (labels)"),
)
def recommended_labels(subject: Subject, _: Context) -> Iterator[str]:
    missing = [label for label in RECOMMENDED_LABELS if label not in subject.labels]
    if missing:
        yield f"{subject.display} lacks labels {', '.join(missing)}"
    if subject.type != POD:
        missing_pod = [label for label in RECOMMENDED_LABELS if label not in pod_labels(subject)]
        if missing_pod:
            yield f"{subject.display}'s pods lack labels {', '.join(missing_pod)}"


@resource_rule(
    "k8s-selector-matches-template",
    "A workload's selector matches its pod template's labels.",
    "A selector that misses the template is refused by the API server or, worse, adopts other pods.",
    EVERYWHERE,
    POD_TEMPLATE_TYPES,
    ("kube-linter mismatching-selector",),
)
def selector_matches_template(subject: Subject, _: Context) -> Iterator[str]:
    if subject.type in JOB_TYPES and get(subject.props, "spec", "manualSelector") is not True:
        return  # the API server gives a Job a selector of its own (its controller uid)
    selector = get(subject.props, "spec", "selector", "matchLabels")
    if selector is UNKNOWN:
        return
    labels = pod_labels(subject)
    wanted = dict(entries(selector)) if selector else {}
    if not wanted:
        yield f"{subject.display} has no selector matchLabels"
    for key, value in wanted.items():
        if labels.get(key) != value:
            yield f"{subject.display} selects {key}={value}, which its pod template does not carry"


@resource_rule(
    "k8s-cronjob-limits",
    "CronJobs set startingDeadlineSeconds, a concurrencyPolicy of Forbid or Replace, and history limits.",
    "Without a deadline a controller outage replays every missed run at once; Allow lets runs pile up on each other.",
    ADVISE_ALL_ENFORCE_PROD,
    {CRONJOB},
    ("kube-score cronjob-has-deadline",),
)
def cronjob_limits(subject: Subject, _: Context) -> Iterator[str]:
    spec = get(subject.props, "spec")
    if get(spec, "startingDeadlineSeconds") is None:
        yield f"{subject.display} sets no startingDeadlineSeconds"
    if get(spec, "concurrencyPolicy") not in ("Forbid", "Replace", UNKNOWN):
        yield f"{subject.display} allows concurrent runs"
    for key in ("successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        if get(spec, key) is None:
            yield f"{subject.display} sets no {key}"


@resource_rule(
    "k8s-job-ttl",
    "Jobs (and CronJobs' job templates) set ttlSecondsAfterFinished.",
    "Finished Jobs and their pods otherwise stay forever, and so do their logs' secrets and the quota they hold.",
    ADVISE_ALL_ENFORCE_PROD,
    {"kubernetes:batch/v1:Job", CRONJOB},
    ("kube-linter (job ttl)",),
)
def job_ttl(subject: Subject, _: Context) -> Iterator[str]:
    path = ("spec", "jobTemplate", "spec") if subject.type == CRONJOB else ("spec",)
    if get(subject.props, *path, "ttlSecondsAfterFinished") is None:
        yield f"{subject.display} sets no ttlSecondsAfterFinished"
