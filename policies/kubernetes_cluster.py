"""Kubernetes availability (prod) and networking: rules that relate several resources."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from policies.rule import (
    ADVISE_ALL_ENFORCE_PROD,
    EVERYWHERE,
    PROD_ONLY,
    Context,
    Violation,
    resource_rule,
    stack_rule,
)
from policies.view import (
    HPA,
    NAME_LABEL,
    NETWORK_POLICY,
    PDB,
    SCALABLE_TYPES,
    SERVICE,
    UNKNOWN,
    WORKLOAD_TYPES,
    Subject,
    entries,
    fmt,
    get,
    items,
    pod_labels,
    pod_spec,
)
from policies.vocabulary import CLIENTS_ANNOTATION, DATA_STORES, EDGE, declared_clients


def _selects(selector: Any, labels: Mapping[str, str]) -> bool:
    """Whether a matchLabels selector (empty selects all) selects pods with these labels."""
    wanted = dict(entries(selector, "matchLabels"))
    return all(labels.get(k) == v for k, v in wanted.items())


def _main_port(store: Subject) -> Any:
    """A data store's data port: its main container's first."""
    containers = items(pod_spec(store), "containers")
    ports = items(containers[0], "ports") if containers else []
    port = get(ports[0], "containerPort") if ports else None
    return int(port) if isinstance(port, (int, float)) else None


def _autoscalers(subjects: Sequence[Subject]) -> dict[Any, Subject]:
    """Autoscalers by the name of the workload they scale (one pass, so rules stay linear)."""
    return {get(s.props, "spec", "scaleTargetRef", "name"): s for s in subjects if s.type == HPA}


def _by_selected_name(
    selectors: Sequence[tuple[Subject, Any]],
) -> dict[Any, list[tuple[Subject, Any]]]:
    """Selecting resources by the app name their selector names (None: selects by other labels)."""
    index: dict[Any, list[tuple[Subject, Any]]] = {}
    for owner, selector in selectors:
        index.setdefault(get(selector, "matchLabels", "app.kubernetes.io/name"), []).append(
            (owner, selector)
        )
    return index


def _selecting(
    index: dict[Any, list[tuple[Subject, Any]]], labels: Mapping[str, str]
) -> list[Subject]:
    candidates = index.get(labels.get("app.kubernetes.io/name"), []) + index.get(None, [])
    return [owner for owner, selector in candidates if _selects(selector, labels)]


def _replicas(subject: Subject) -> Any:
    return get(subject.props, "spec", "replicas", default=1)


@stack_rule(
    "availability-replicas",
    "Deployments and StatefulSets run at least 2 replicas, or an autoscaler with minReplicas at least 2 and maxReplicas above it. A workload that is one instance by design says why (a waiver).",
    "One replica means every node drain, eviction or crash is an outage.",
    PROD_ONLY,
    (
        "kube-score deployment-replicas",
        "Pulumi kubernetes pack (minimum replicas)",
        "Polaris (replicas)",
    ),
    waivable=True,
)
def replicas(subjects: Sequence[Subject], _: Context) -> Iterator[Violation]:
    autoscalers = _autoscalers(subjects)
    for subject in subjects:
        if subject.type not in SCALABLE_TYPES:
            continue
        hpa = autoscalers.get(get(subject.props, "metadata", "name"))
        if hpa is not None:
            low, high = (
                get(hpa.props, "spec", "minReplicas", default=1),
                get(hpa.props, "spec", "maxReplicas"),
            )
            if UNKNOWN in (low, high):
                continue
            if low < 2 or high <= low:
                yield Violation(
                    f"{subject.display} autoscales between {fmt(low)} and {fmt(high)}; needs a minimum of 2 and room above it",
                    subject,
                )
            continue
        count = _replicas(subject)
        if count is not UNKNOWN and count < 2:
            yield Violation(f"{subject.display} runs {fmt(count)} replica", subject)


@stack_rule(
    "availability-disruption-budget",
    "Every Deployment and StatefulSet that can run more than one replica has a PodDisruptionBudget that allows at least one disruption; one that always runs one replica has none.",
    "Without one a node drain may take every replica at once; a budget that allows none blocks drains forever; on one replica a budget protects nothing (a drain evicts it either way) while it claims to.",
    PROD_ONLY,
    (
        "kube-score pod-disruption-budget",
        "kube-linter pdb-max-unavailable pdb-min-available",
        "Polaris missingPodDisruptionBudget",
    ),
)
def disruption_budget(subjects: Sequence[Subject], _: Context) -> Iterator[Violation]:
    budgets = _by_selected_name(
        [(s, get(s.props, "spec", "selector")) for s in subjects if s.type == PDB]
    )
    autoscalers = _autoscalers(subjects)
    for subject in subjects:
        if subject.type not in SCALABLE_TYPES:
            continue
        labels = pod_labels(subject)
        matching = _selecting(budgets, labels)
        hpa = autoscalers.get(get(subject.props, "metadata", "name"))
        count = get(hpa.props, "spec", "minReplicas", default=1) if hpa else _replicas(subject)
        most = get(hpa.props, "spec", "maxReplicas", default=1) if hpa else count
        if most == 1:
            for budget in matching:
                yield Violation(
                    f"{budget.display} protects nothing: {subject.display} runs one replica",
                    subject,
                )
            continue
        if not matching:
            yield Violation(f"{subject.display} has no PodDisruptionBudget", subject)
            continue
        for budget in matching:
            max_unavailable = get(budget.props, "spec", "maxUnavailable")
            min_available = get(budget.props, "spec", "minAvailable")
            if UNKNOWN in (max_unavailable, min_available, count):
                continue
            if (
                max_unavailable in (0, "0%")
                or (isinstance(min_available, int | float) and min_available >= count)
                or min_available == "100%"
            ):
                yield Violation(
                    f"{budget.display} allows no disruption of {subject.display}", subject
                )


@stack_rule(
    "availability-spread",
    "Workloads with more than one replica spread them over nodes (topologySpreadConstraints or pod anti-affinity).",
    "Replicas that share a node fail together.",
    PROD_ONLY,
    (
        "kube-score pod-topology-spread-constraints",
        "Polaris topologySpreadConstraint",
        "kube-linter no-anti-affinity",
    ),
)
def spread(subjects: Sequence[Subject], _: Context) -> Iterator[Violation]:
    autoscalers = _autoscalers(subjects)
    for subject in subjects:
        if subject.type not in SCALABLE_TYPES:
            continue
        hpa = autoscalers.get(get(subject.props, "metadata", "name"))
        count = get(hpa.props, "spec", "maxReplicas", default=1) if hpa else _replicas(subject)
        if count is UNKNOWN or count < 2:
            continue
        spec = pod_spec(subject)
        if (
            not items(spec, "topologySpreadConstraints")
            and get(spec, "affinity", "podAntiAffinity") is None
        ):
            yield Violation(
                f"{subject.display} runs {fmt(count)} replicas with no spread over nodes", subject
            )


@resource_rule(
    "availability-rolling-update",
    "Deployments roll out with RollingUpdate and maxUnavailable 0; StatefulSets with RollingUpdate.",
    "maxUnavailable above 0 removes serving capacity before the new replicas are ready.",
    PROD_ONLY,
    SCALABLE_TYPES,
    ("kube-score deployment-strategy (similar)",),
)
def rolling_update(subject: Subject, _: Context) -> Iterator[str]:
    key = "strategy" if subject.kind == "Deployment" else "updateStrategy"
    kind = get(subject.props, "spec", key, "type", default="RollingUpdate")
    if kind not in ("RollingUpdate", UNKNOWN):
        yield f"{subject.display} updates with {kind}"
    if subject.kind == "Deployment":
        unavailable = get(
            subject.props, "spec", "strategy", "rollingUpdate", "maxUnavailable", default="25%"
        )
        if unavailable not in (0, "0", "0%", UNKNOWN):
            yield f"{subject.display} allows {fmt(unavailable)} unavailable during a rollout"


@stack_rule(
    "network-default-deny",
    "Each namespace with workloads has a NetworkPolicy that selects every pod and denies ingress and egress by default.",
    "Without a default deny, a pod nobody wrote a policy for can talk to and be reached by anything.",
    EVERYWHERE,
    ("kube-score pod-networkpolicy", "Checkov CKV_K8S_* (network policy)"),
)
def default_deny(subjects: Sequence[Subject], _: Context) -> Iterator[Violation]:
    namespaces = {
        get(s.props, "metadata", "namespace") for s in subjects if s.type in WORKLOAD_TYPES
    } - {UNKNOWN}
    for namespace in sorted(n for n in namespaces if isinstance(n, str)):
        denies = [
            s
            for s in subjects
            if s.type == NETWORK_POLICY
            and get(s.props, "metadata", "namespace") == namespace
            and not dict(entries(s.props, "spec", "podSelector", "matchLabels"))
            and not items(s.props, "spec", "podSelector", "matchExpressions")
            and {"Ingress", "Egress"} <= set(items(s.props, "spec", "policyTypes"))
            and not items(s.props, "spec", "ingress")
            and not items(s.props, "spec", "egress")
        ]
        if not denies:
            yield Violation(
                f"namespace {namespace} has no default-deny NetworkPolicy for ingress and egress"
            )


@stack_rule(
    "network-pods-selected",
    "Every workload's pods are selected by a NetworkPolicy of their own (besides the default deny) covering ingress and egress.",
    "A pod under the default deny alone cannot work; one without any policy is open. Each workload states whom it talks to.",
    EVERYWHERE,
    ("kube-score pod-networkpolicy",),
)
def pods_selected(subjects: Sequence[Subject], _: Context) -> Iterator[Violation]:
    own = _by_selected_name(
        [
            (s, get(s.props, "spec", "podSelector"))
            for s in subjects
            if s.type == NETWORK_POLICY
            and dict(entries(s.props, "spec", "podSelector", "matchLabels"))
        ]
    )
    for subject in subjects:
        if subject.type not in WORKLOAD_TYPES:
            continue
        labels = pod_labels(subject)
        types: set[str] = set()
        for policy in _selecting(own, labels):
            types |= set(items(policy.props, "spec", "policyTypes"))
        missing = {"Ingress", "Egress"} - types
        if missing:
            yield Violation(
                f"{subject.display}'s pods have no NetworkPolicy of their own for {', '.join(sorted(missing))}",
                subject,
            )


@resource_rule(
    "network-public-services",
    "No Service is a NodePort or has external IPs; only the edge is a LoadBalancer.",
    "Every public port is attack surface; the edge is where TLS, rate limits and headers are enforced.",
    EVERYWHERE,
    {SERVICE},
    (
        "Pulumi kubernetes pack (no LoadBalancer Services)",
        "kube-linter exposed-services",
        "Checkov CKV_K8S_* (NodePort)",
    ),
)
def public_services(subject: Subject, _: Context) -> Iterator[str]:
    kind = get(subject.props, "spec", "type", default="ClusterIP")
    if kind == "NodePort":
        yield f"{subject.display} is a NodePort Service"
    if kind == "LoadBalancer" and subject.component != EDGE:
        yield f"{subject.display} is a LoadBalancer but not the edge"
    if items(subject.props, "spec", "externalIPs"):
        yield f"{subject.display} has external IPs"


# Written by the program on the edge's Service (components/platform/kubernetes/service.py).
DEREGISTRATION_ANNOTATION = "prodstack.dev/deregistration-seconds"


def _pre_stop_sleep(spec: Any) -> int | None:
    """The preStop sleep of a pod's first (main) container, the server (0 without one);
    None while unknown."""
    seconds = get(spec, "containers", 0, "lifecycle", "preStop", "sleep", "seconds", default=0)
    if seconds is UNKNOWN:
        return None
    # Numbers reach the pack as floats (protobuf's); a sleep is whole seconds.
    return int(seconds) if isinstance(seconds, int | float) else 0


@stack_rule(
    "edge-drains-before-stop",
    "The edge's pods go on serving (preStop) at least as long as its load balancer goes on sending them new connections (the Service's prodstack.dev/deregistration-seconds, or the pack config's minimum), and their grace period leaves time after it.",
    "Under externalTrafficPolicy Local a cloud load balancer stops sending to a node only once its health checks fail it (20-60 s): an edge pod that stops sooner resets every new connection on each rollout, scale-in and node drain.",
    ADVISE_ALL_ENFORCE_PROD,
    (
        "Kubernetes docs: Pod termination",
        "AWS Load Balancer Controller: pod readiness and deregistration",
    ),
    config={
        "minimumSeconds": {
            "type": "integer",
            "default": 0,
            "description": "The shortest preStop for the edge, whatever its Service declares.",
        }
    },
)
def edge_drains_before_stop(subjects: Sequence[Subject], context: Context) -> Iterator[Violation]:
    minimum = int(context.config.get("minimumSeconds") or 0)
    declared = {
        get(s.props, "metadata", "name"): get(
            s.props, "metadata", "annotations", DEREGISTRATION_ANNOTATION
        )
        for s in subjects
        if s.type == SERVICE and get(s.props, "spec", "type") == "LoadBalancer"
    }
    for subject in subjects:
        if subject.type not in SCALABLE_TYPES or subject.component != EDGE:
            continue
        spec = pod_spec(subject)
        needed = minimum
        value = declared.get(get(subject.props, "metadata", "name"))
        if isinstance(value, str) and value.isdigit():  # annotations are strings
            needed = max(needed, int(value))
        sleep = _pre_stop_sleep(spec)
        if sleep is None:
            continue
        if sleep < needed:
            yield Violation(
                f"{subject.display} stops serving {sleep} s after it is told to stop, while its "
                f"load balancer sends it new connections for {needed} s",
                subject,
            )
        grace = get(spec, "terminationGracePeriodSeconds", default=30)
        if isinstance(grace, int | float) and grace <= sleep:
            yield Violation(
                f"{subject.display} is killed after {int(grace)} s, before its {sleep} s preStop "
                "has ended and nginx has drained",
                subject,
            )


@stack_rule(
    "network-data-store-clients",
    "Data stores (Postgres, Redis) accept connections on their data port (their main container's first) only from their declared clients: the connection graph's (the prodstack.dev/clients annotation), or the pack config's dataStoreClients when set.",
    "A compromised workload that is not a client cannot reach the data at all.",
    EVERYWHERE,
    (),
    config={
        "dataStoreClients": {
            "type": "object",
            "default": {},
            "description": "Workload names allowed on each data store's data port, pinned; unset: the clients the program declares.",
        },
        "dataPorts": {
            "type": "object",
            "default": {},
            "description": "The data port of each data store, pinned; unset: its main container's first port.",
        },
    },
)
def data_store_clients(subjects: Sequence[Subject], context: Context) -> Iterator[Violation]:
    pinned: Mapping[str, Sequence[str]] = context.config.get("dataStoreClients") or {}
    data_ports: Mapping[str, int] = context.config.get("dataPorts") or {}
    # Indexed by the workload a policy's selector names, so that each store meets only the
    # policies that may select it: linear in the stack's size, not quadratic.
    named: dict[object, list[Subject]] = {}
    unnamed: list[Subject] = []
    for s in subjects:
        if s.type == NETWORK_POLICY:
            name = get(s.props, "spec", "podSelector", "matchLabels", NAME_LABEL)
            (named.setdefault(name, []) if name is not None else unnamed).append(s)
    for store in subjects:
        if store.type not in WORKLOAD_TYPES or store.component not in DATA_STORES:
            continue
        port = data_ports.get(store.app, _main_port(store))
        declared = declared_clients(
            str(get(store.props, "metadata", "annotations", CLIENTS_ANNOTATION, default=""))
        )
        allowed = set(pinned[store.app]) if store.app in pinned else declared.get(port, set())
        labels = pod_labels(store)
        for policy in [*named.get(labels.get(NAME_LABEL), []), *unnamed]:
            if not _selects(get(policy.props, "spec", "podSelector"), labels):
                continue
            for rule in items(policy.props, "spec", "ingress"):
                rule_ports = [get(p, "port") for p in items(rule, "ports")]
                if rule_ports and port not in rule_ports:
                    continue  # metrics ports only
                peers = items(rule, "from")
                if not peers:
                    yield Violation(
                        f"{policy.display} lets anyone reach {store.app} on its data port", store
                    )
                for peer in peers:
                    name = get(peer, "podSelector", "matchLabels", "app.kubernetes.io/name")
                    broad = (
                        get(peer, "ipBlock") is not None
                        or get(peer, "namespaceSelector") is not None
                    )
                    if broad or name is None:
                        yield Violation(
                            f"{policy.display} lets a network, a namespace or any pod reach {store.app} on {port}",
                            store,
                        )
                    elif name is not UNKNOWN and name not in allowed:
                        yield Violation(
                            f"{policy.display} lets {name} reach {store.app} on {port}; its clients are {', '.join(sorted(allowed)) or 'none'}",
                            store,
                        )
