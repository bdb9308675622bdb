"""The rendered Kubernetes manifests checked against each other.

Each manifest can be valid on its own (kubernetes_schema.py) and the stack still broken: a
Service that selects no pod, a volume naming a ConfigMap nobody creates, an autoscaler for a
Deployment that does not exist, a client allowed out to a server that does not let it in.
The audit found the last kind three times (Grafana to Prometheus, Prometheus to the edge's
plain port and to Grafana); this check makes that class of bug fail `prodstack check`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from policies.report import Finding, Level, Section

NAME = "app.kubernetes.io/name"
CONTROLLERS = ("Deployment", "StatefulSet")
Manifest = Mapping[str, Any]


@dataclass(frozen=True)
class Pods:
    """The pods of one controller, as the other manifests see them."""

    controller: Manifest
    labels: Mapping[str, str]
    spec: Mapping[str, Any]

    @property
    def port_names(self) -> set[str]:
        return {
            p.get("name", "") for c in self.spec.get("containers", []) for p in c.get("ports", [])
        }

    @property
    def port_numbers(self) -> set[int]:
        return {
            p.get("containerPort", 0)
            for c in self.spec.get("containers", [])
            for p in c.get("ports", [])
        }


def _name(m: Manifest) -> str:
    return str(m.get("metadata", {}).get("name", ""))


def _display(m: Manifest) -> str:
    return f"{m.get('kind')} {_name(m)}"


def _selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _of_kind(manifests: Sequence[Manifest], *kinds: str) -> list[Manifest]:
    return [m for m in manifests if m.get("kind") in kinds]


def _pods(manifests: Sequence[Manifest]) -> list[Pods]:
    found = []
    for m in _of_kind(manifests, *CONTROLLERS):
        template = m.get("spec", {}).get("template", {})
        found.append(
            Pods(m, template.get("metadata", {}).get("labels", {}), template.get("spec", {}))
        )
    for m in _of_kind(manifests, "CronJob"):
        template = m["spec"]["jobTemplate"]["spec"]["template"]
        found.append(
            Pods(m, template.get("metadata", {}).get("labels", {}), template.get("spec", {}))
        )
    for m in _of_kind(manifests, "Job"):
        template = m.get("spec", {}).get("template", {})
        found.append(
            Pods(m, template.get("metadata", {}).get("labels", {}), template.get("spec", {}))
        )
    return found


def services(manifests: Sequence[Manifest]) -> Iterator[str]:
    pods = [p for p in _pods(manifests) if p.controller.get("kind") in CONTROLLERS]
    for service in _of_kind(manifests, "Service"):
        selector = service.get("spec", {}).get("selector", {})
        selected = [p for p in pods if _selects(selector, p.labels)]
        if not selected:
            yield f"{_display(service)} selects no pods ({selector})"
            continue
        for port in service.get("spec", {}).get("ports", []):
            target = port.get("targetPort", port.get("port"))
            named = isinstance(target, str)
            if not any(target in (p.port_names if named else p.port_numbers) for p in selected):
                yield f"{_display(service)} targets port {target}, which its pods do not have"
    names = {_name(s): s for s in _of_kind(manifests, "Service")}
    for statefulset in _of_kind(manifests, "StatefulSet"):
        governing = names.get(statefulset.get("spec", {}).get("serviceName", ""))
        if governing is None:
            yield f"{_display(statefulset)} names a governing Service that does not exist"
        elif governing.get("spec", {}).get("clusterIP") != "None":
            yield f"{_display(statefulset)} is governed by {_display(governing)}, which is not headless"


def references(manifests: Sequence[Manifest]) -> Iterator[str]:
    config_maps = {_name(m): m.get("data", {}) for m in _of_kind(manifests, "ConfigMap")}
    secrets = {_name(m) for m in _of_kind(manifests, "Secret")}
    # Secrets that cert-manager creates from a rendered Certificate.
    secrets |= {m.get("spec", {}).get("secretName", "") for m in _of_kind(manifests, "Certificate")}
    accounts = {_name(m) for m in _of_kind(manifests, "ServiceAccount")}
    for pods in _pods(manifests):
        where = _display(pods.controller)
        account = pods.spec.get("serviceAccountName", "default")
        if account not in accounts:
            yield f"{where} runs as ServiceAccount {account}, which is not rendered"
        for volume in pods.spec.get("volumes", []):
            if "configMap" in volume:
                name = volume["configMap"].get("name", "")
                if name not in config_maps:
                    yield f"{where} mounts ConfigMap {name}, which is not rendered"
                    continue
                for item in volume["configMap"].get("items", []) or []:
                    if item.get("key") not in config_maps[name]:
                        yield f"{where} mounts key {item.get('key')} of ConfigMap {name}, which has none"
            if "secret" in volume and volume["secret"].get("secretName") not in secrets:
                yield f"{where} mounts Secret {volume['secret'].get('secretName')}, which nothing creates"
    roles = {(m.get("kind"), _name(m)) for m in _of_kind(manifests, "Role", "ClusterRole")}
    for binding in _of_kind(manifests, "RoleBinding", "ClusterRoleBinding"):
        ref = binding.get("roleRef", {})
        if (ref.get("kind"), ref.get("name")) not in roles:
            yield f"{_display(binding)} binds {ref.get('kind')} {ref.get('name')}, which is not rendered"
        for subject in binding.get("subjects", []):
            if subject.get("kind") == "ServiceAccount" and subject.get("name") not in accounts:
                yield f"{_display(binding)} binds ServiceAccount {subject.get('name')}, which is not rendered"


def targets(manifests: Sequence[Manifest]) -> Iterator[str]:
    controllers = {(m.get("kind"), _name(m)) for m in _of_kind(manifests, *CONTROLLERS)}
    for hpa in _of_kind(manifests, "HorizontalPodAutoscaler"):
        ref = hpa.get("spec", {}).get("scaleTargetRef", {})
        if (ref.get("kind"), ref.get("name")) not in controllers:
            yield f"{_display(hpa)} scales {ref.get('kind')} {ref.get('name')}, which does not exist"
    pods = [p for p in _pods(manifests) if p.controller.get("kind") in CONTROLLERS]
    for pdb in _of_kind(manifests, "PodDisruptionBudget"):
        selector = pdb.get("spec", {}).get("selector", {}).get("matchLabels", {})
        if not any(_selects(selector, p.labels) for p in pods):
            yield f"{_display(pdb)} selects no pods ({selector})"


@dataclass(frozen=True)
class Allowed:
    client: str
    server: str
    port: int | None  # None: every port


def _policy_workload(policy: Manifest) -> str | None:
    name = policy.get("spec", {}).get("podSelector", {}).get("matchLabels", {}).get(NAME)
    return None if name is None else str(name)


def _allowed(manifests: Sequence[Manifest]) -> tuple[set[Allowed], set[Allowed]]:
    """Pod-to-pod connections each side allows: (by the client's egress, by the server's
    ingress). Rules to addresses outside the namespace and namespace-wide policies are out."""
    egress: set[Allowed] = set()
    ingress: set[Allowed] = set()
    for policy in _of_kind(manifests, "NetworkPolicy"):
        owner = _policy_workload(policy)
        if owner is None:
            continue
        spec = policy.get("spec", {})
        for rule in spec.get("egress", []) or []:
            ports = [p.get("port") for p in rule.get("ports", []) or []] or [None]
            for peer in rule.get("to", []) or []:
                server = peer.get("podSelector", {}).get("matchLabels", {}).get(NAME)
                if server is not None:
                    egress |= {Allowed(owner, server, port) for port in ports}
        for rule in spec.get("ingress", []) or []:
            ports = [p.get("port") for p in rule.get("ports", []) or []] or [None]
            for peer in rule.get("from", []) or []:
                client = peer.get("podSelector", {}).get("matchLabels", {}).get(NAME)
                if client is not None:
                    ingress |= {Allowed(client, owner, port) for port in ports}
    return egress, ingress


def _covers(allowed: set[Allowed], wanted: Allowed, server_ports: Mapping[str, set[int]]) -> bool:
    """Whether `allowed` admits `wanted` (a port, or every port when it is None)."""
    if Allowed(wanted.client, wanted.server, None) in allowed:
        return True
    if wanted.port is not None:
        return wanted in allowed
    ports = server_ports.get(wanted.server, set())
    return bool(ports) and all(Allowed(wanted.client, wanted.server, p) in allowed for p in ports)


def connections(manifests: Sequence[Manifest]) -> Iterator[str]:
    """Both ends of every allowed connection agree; and Prometheus's scrape targets are
    connections both ends allow."""
    server_ports: dict[str, set[int]] = {}
    for pods in _pods(manifests):
        server_ports.setdefault(pods.labels.get(NAME, ""), set()).update(pods.port_numbers)
    egress, ingress = _allowed(manifests)
    for wanted in sorted(egress, key=str):
        if not _covers(ingress, wanted, server_ports):
            yield (
                f"{wanted.client} may connect to {wanted.server} on {wanted.port or 'any port'}, "
                f"but {wanted.server} does not let it in"
            )
    for wanted in sorted(ingress, key=str):
        if not _covers(egress, wanted, server_ports):
            yield (
                f"{wanted.server} lets {wanted.client} in on {wanted.port or 'any port'}, "
                f"but {wanted.client} may not connect to it"
            )
    for scraper, scraped in _scrape_targets(manifests):
        if not (_covers(egress, scraped, server_ports) and _covers(ingress, scraped, server_ports)):
            yield (
                f"{scraper} scrapes {scraped.server} on {scraped.port}, which the "
                "NetworkPolicies do not allow"
            )


def _scrape_targets(manifests: Sequence[Manifest]) -> Iterator[tuple[str, Allowed]]:
    """(scraper, connection) for each workload port a pod-discovery job keeps."""
    pods = _pods(manifests)
    for config_map in _of_kind(manifests, "ConfigMap"):
        text = config_map.get("data", {}).get("prometheus.yml")
        if not isinstance(text, str):
            continue
        scraper = config_map.get("metadata", {}).get("labels", {}).get(NAME, "prometheus")
        for job in (yaml.safe_load(text) or {}).get("scrape_configs", []):
            for relabel in job.get("relabel_configs", []):
                sources = relabel.get("source_labels", [])
                if relabel.get("action") != "keep" or sources[-1:] != [
                    "__meta_kubernetes_pod_container_port_name"
                ]:
                    continue
                pattern = re.compile(str(relabel.get("regex", "")))
                separator = str(relabel.get("separator", ";"))
                for p in pods:
                    workload = p.labels.get(NAME, "")
                    if workload == scraper:
                        continue  # it scrapes itself inside its own pod
                    for container in p.spec.get("containers", []):
                        for port in container.get("ports", []):
                            values = [workload] * (len(sources) - 1) + [port.get("name", "")]
                            if pattern.fullmatch(separator.join(values)):
                                yield scraper, Allowed(scraper, workload, port.get("containerPort"))


RESOLVER = re.compile(r"^\s*resolver\s+\S+\s+valid=(\d+)s", re.MULTILINE)
UPSTREAM = re.compile(
    r"^\s*set\s+\$upstream_of_\w+\s+([a-z0-9-]+)(?:\.[a-z0-9.-]+)?:(\d+);", re.MULTILINE
)


def _pre_stop_seconds(container: Mapping[str, Any]) -> int:
    handler = container.get("lifecycle", {}).get("preStop", {})
    return int(handler.get("sleep", {}).get("seconds", 0))


def drains(manifests: Sequence[Manifest]) -> Iterator[str]:
    """A pod the edge proxies to waits in preStop at least as long as the edge may keep
    sending to it (its resolver's `valid`): else a rollout stops pods that still get
    requests."""
    pods = _pods(manifests)
    for config_map in _of_kind(manifests, "ConfigMap"):
        text = config_map.get("data", {}).get("nginx.conf")
        refresh = RESOLVER.search(text) if isinstance(text, str) else None
        if text is None or refresh is None:
            continue
        seconds = int(refresh.group(1))
        for host, port in dict.fromkeys(UPSTREAM.findall(text)):
            for service in _of_kind(manifests, "Service"):
                if _name(service) != host:
                    continue
                selector = service.get("spec", {}).get("selector", {})
                for p in pods:
                    if p.controller.get("kind") not in CONTROLLERS:
                        continue
                    if not _selects(selector, p.labels):
                        continue
                    for container in p.spec.get("containers", []):
                        served = {q.get("containerPort") for q in container.get("ports", [])}
                        if int(port) in served and _pre_stop_seconds(container) < seconds:
                            yield (
                                f"{_display(p.controller)}: container {container.get('name')} "
                                f"waits {_pre_stop_seconds(container)} s in preStop, less than "
                                f"the {seconds} s the edge may keep sending to it ({_name(config_map)}"
                                f" resolves {host} every {seconds} s); raise its preStopSeconds"
                            )


CHECKS = {
    "consistency-services": services,
    "consistency-references": references,
    "consistency-targets": targets,
    "consistency-connections": connections,
    "consistency-drains": drains,
}


def check(manifests: Sequence[Manifest]) -> list[Finding]:
    return [
        Finding(name, Level.ERROR, "manifests", message)
        for name, run in CHECKS.items()
        for message in dict.fromkeys(run(manifests))
    ]


def manifests_of(resources: Sequence[Any]) -> list[Manifest]:
    """The Kubernetes objects of a recording (infra/render/mock_runtime.py)."""
    return [r.inputs for r in resources if r.type.startswith("kubernetes:") and "kind" in r.inputs]


def section(manifests: Sequence[Manifest]) -> Section:
    findings = check(manifests)
    return Section(
        "consistency",
        f"{len(manifests)} manifests against each other: Services, references, targets, "
        "both ends of every connection, drains before stops",
        findings,
    )
