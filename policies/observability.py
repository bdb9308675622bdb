"""Observability: every workload scraped, alerts that say what to do and reach someone, a
Watchdog, and receiver credentials from files. Read from the generated prometheus.yml,
rules.yml and alertmanager.yml wherever they are carried."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from policies.rule import (
    ADVISE_ALL_ENFORCE_PROD,
    EVERYWHERE,
    Context,
    Violation,
    resource_rule,
    stack_rule,
)
from policies.secrets import looks_secret
from policies.view import (
    DOCKER_CONTAINER,
    FILE_CARRIERS,
    WORKLOAD_TYPES,
    Subject,
    containers,
    files,
    files_named,
    get,
    items,
    pod_labels,
    serves_nothing,
)

REPOSITORY = Path(__file__).resolve().parents[1]
INLINE_CREDENTIALS = {
    "api_url": "api_url_file",
    "routing_key": "routing_key_file",
    "service_key": "service_key_file",
    "auth_password": "auth_password_file",
    "api_key": "api_key_file",
    "password": "password_file",
    "credentials": "credentials_file",
    "bearer_token": "bearer_token_file",
    "bot_token": "bot_token_file",
}


# libyaml when the wheel has it: the pack parses every rule and alerting file several times.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _yaml(text: str) -> Any:
    try:
        return yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError:
        return None


def _alerts(text: str) -> list[Mapping[str, Any]]:
    document = _yaml(text) or {}
    return [
        rule
        for group in document.get("groups", []) or []
        for rule in group.get("rules", []) or []
        if isinstance(rule, Mapping) and "alert" in rule
    ]


@resource_rule(
    "observability-alert-metadata",
    "Every alert rule has a severity label, a summary and a runbook_url.",
    "The person paged at 3 a.m. needs to know how bad it is, what broke, and where the steps are.",
    EVERYWHERE,
    FILE_CARRIERS,
    ("Prometheus Operator runbooks convention", "pint (rule/label, rule/annotation)"),
)
def alert_metadata(subject: Subject, _: Context) -> Iterator[str]:
    text = files(subject).get("rules.yml")
    if text is None:
        return
    for alert in _alerts(text):
        labels, annotations = alert.get("labels") or {}, alert.get("annotations") or {}
        missing = [k for k in ("severity",) if not labels.get(k)]
        missing += [k for k in ("summary", "runbook_url") if not annotations.get(k)]
        if missing:
            yield f"alert {alert['alert']} has no {', '.join(missing)}"


@resource_rule(
    "observability-runbooks-exist",
    "Every alert's runbook_url names a runbook that exists under docs/runbooks/ in this repository.",
    "A runbook link that 404s is worse than none: it costs the responder time they do not have.",
    EVERYWHERE,
    FILE_CARRIERS,
    (),
    config={
        "runbooksDir": {
            "type": "string",
            "default": "docs/runbooks",
            "description": "Where runbooks live, relative to the repository root.",
        }
    },
)
def runbooks_exist(subject: Subject, context: Context) -> Iterator[str]:
    text = files(subject).get("rules.yml")
    if text is None:
        return
    directory = str(context.config.get("runbooksDir", "docs/runbooks")).strip("/")
    for alert in _alerts(text):
        url = str((alert.get("annotations") or {}).get("runbook_url", ""))
        if not url:
            continue  # observability-alert-metadata reports it
        path = "/" + urlparse(url).path.lstrip("/")  # absolute URL or repository-relative path
        if f"/{directory}/" not in path:
            yield f"alert {alert['alert']} links a runbook outside {directory}: {url}"
            continue
        relative = path.split(f"/{directory}/", 1)[1]
        if not (REPOSITORY / directory / relative).is_file():
            yield f"alert {alert['alert']} links {directory}/{relative}, which does not exist"


def _matches(matcher: str, labels: Mapping[str, str]) -> bool:
    match = re.fullmatch(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*', matcher)
    if not match:
        return False
    name, op, value = match.groups()
    actual = labels.get(name, "")
    return {
        "=": actual == value,
        "!=": actual != value,
        "=~": re.fullmatch(value, actual) is not None,
        "!~": re.fullmatch(value, actual) is None,
    }[op]


def route(tree: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    """The receiver Alertmanager picks for an alert (first matching child, depth first)."""
    for child in tree.get("routes", []) or []:
        matchers = list(child.get("matchers", []) or [])
        matchers += [f'{k}="{v}"' for k, v in (child.get("match", {}) or {}).items()]
        if all(_matches(m, labels) for m in matchers):
            receiver = route(child, labels)
            return receiver or str(child.get("receiver") or tree.get("receiver", ""))
    return str(tree.get("receiver", ""))


def _delivers(config: Mapping[str, Any], receiver: str) -> bool:
    for entry in config.get("receivers", []) or []:
        if entry.get("name") == receiver:
            return any(key.endswith("_configs") and value for key, value in entry.items())
    return False


@stack_rule(
    "observability-severities-routed",
    "Every severity the alert rules use, and the Watchdog, reaches an Alertmanager receiver that delivers somewhere.",
    "An alert routed to a receiver without integrations is silently dropped.",
    ADVISE_ALL_ENFORCE_PROD,
    ("amtool config routes test",),
)
def severities_routed(subjects: Sequence[Subject], _: Context) -> Iterator[Violation]:
    configs = files_named(subjects, "alertmanager.yml")
    alerts = [a for _, text in files_named(subjects, "rules.yml") for a in _alerts(text)]
    if not alerts:
        return
    if not configs:
        yield Violation("alert rules exist but no Alertmanager configuration does")
        return
    for carrier, text in configs:
        config = _yaml(text) or {}
        tree = config.get("route") or {}
        seen: set[tuple[str, str]] = set()
        for alert in alerts:
            labels = {
                "alertname": str(alert["alert"]),
                **{k: str(v) for k, v in (alert.get("labels") or {}).items()},
            }
            key = (
                labels.get("severity", ""),
                labels["alertname"] if labels["alertname"] == "Watchdog" else "",
            )
            if key in seen:
                continue
            seen.add(key)
            receiver = route(tree, labels)
            if not _delivers(config, receiver):
                what = "the Watchdog" if key[1] else f"severity {key[0] or '(none)'}"
                yield Violation(
                    f"{what} routes to receiver {receiver or '(none)'}, which delivers nowhere",
                    carrier,
                )


@stack_rule(
    "observability-watchdog",
    "The alert rules include a Watchdog that always fires.",
    "Silence from a broken alerting pipeline looks exactly like a healthy stack; the Watchdog's heartbeat tells them apart.",
    EVERYWHERE,
    ("kube-prometheus Watchdog",),
)
def watchdog(subjects: Sequence[Subject], _: Context) -> Iterator[Violation]:
    rule_files = files_named(subjects, "rules.yml")
    for carrier, text in rule_files:
        if not any(
            a.get("alert") == "Watchdog" and str(a.get("expr", "")).strip() == "vector(1)"
            for a in _alerts(text)
        ):
            yield Violation(
                "the alert rules have no Watchdog (alert Watchdog, expr vector(1))", carrier
            )


def _inline(value: Any, path: str = "") -> Iterator[str]:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            where = f"{path}.{key}" if path else str(key)
            if key in INLINE_CREDENTIALS and inner:
                yield f"{where} is inline; use {INLINE_CREDENTIALS[key]}"
            elif key == "url" and isinstance(inner, str) and looks_secret(inner):
                yield f"{where} carries credentials"
            else:
                yield from _inline(inner, where)
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _inline(inner, f"{path}[{index}]")


@resource_rule(
    "observability-receiver-credentials",
    "Alertmanager receivers read credentials from files (*_file options), never inline.",
    "alertmanager.yml is a ConfigMap or a plain file; the Slack URL or PagerDuty key in it would be readable by all who can read config.",
    EVERYWHERE,
    FILE_CARRIERS,
    (),
)
def receiver_credentials(subject: Subject, _: Context) -> Iterator[str]:
    text = files(subject).get("alertmanager.yml")
    if text is None:
        return
    config = _yaml(text) or {}
    for problem in _inline(
        {"global": config.get("global") or {}, "receivers": config.get("receivers") or []}
    ):
        yield f"alertmanager.yml: {problem}"


NAME_SOURCE = "__meta_kubernetes_pod_label_app_kubernetes_io_name"
PORT_SOURCE = "__meta_kubernetes_pod_container_port_name"


@dataclass(frozen=True)
class KeptPorts:
    """What a pod-discovery job keeps: pods of this part-of, and ports whose name (or
    workload name and port name, joined by the separator) match the regex."""

    part_of: str
    sources: tuple[str, ...]
    separator: str
    regex: str
    # The regex as the set of names it lists, when it is a plain alternation.
    names: frozenset[str] | None = None

    def keeps(self, labels: dict[str, str], port: str) -> bool:
        values = {NAME_SOURCE: labels.get("app.kubernetes.io/name", ""), PORT_SOURCE: port}
        joined = self.separator.join(values.get(source, "") for source in self.sources)
        if not re.fullmatch(self.part_of, labels.get("app.kubernetes.io/part-of", "")):
            return False
        if self.names is not None:
            return joined in self.names
        return bool(re.fullmatch(self.regex, joined))


_LITERALS = re.compile(r"\(([A-Za-z0-9;_.-]+(?:\|[A-Za-z0-9;_.-]+)*)\)")


def _merged(kept: list[KeptPorts]) -> list[KeptPorts]:
    """Jobs that keep a plain list of names (as the stack renders them) merged into one per
    part-of and sources: a stack's workloads are matched against one set, not one job each."""
    literal: dict[tuple[str, tuple[str, ...], str], set[str]] = {}
    other: list[KeptPorts] = []
    for k in kept:
        match = _LITERALS.fullmatch(k.regex)
        if match:
            literal.setdefault((k.part_of, k.sources, k.separator), set()).update(
                match.group(1).split("|")
            )
        else:
            other.append(k)
    return other + [
        KeptPorts(part_of, sources, separator, "", frozenset(names))
        for (part_of, sources, separator), names in literal.items()
    ]


def _kubernetes_kept_ports(text: str) -> KeptPorts | None:
    document = _yaml(text) or {}
    for job in document.get("scrape_configs", []) or []:
        if not job.get("kubernetes_sd_configs"):
            continue
        part_of, sources, separator, regex = "", (), ";", ""
        for relabel in job.get("relabel_configs", []) or []:
            keys = tuple(relabel.get("source_labels", []))
            if relabel.get("action") != "keep":
                continue
            if keys == ("__meta_kubernetes_pod_label_app_kubernetes_io_part_of",):
                part_of = str(relabel.get("regex", ""))
            elif PORT_SOURCE in keys:
                sources, regex = keys, str(relabel.get("regex", ""))
                separator = str(relabel.get("separator", ";"))
        return KeptPorts(part_of, sources, separator, regex)
    return None


def _static_hosts(text: str) -> set[str]:
    document = _yaml(text) or {}
    hosts: set[str] = set()
    for job in document.get("scrape_configs", []) or []:
        for static in job.get("static_configs", []) or []:
            hosts |= {
                str(t).split("://")[-1].split(":")[0].split("/")[0]
                for t in static.get("targets", [])
            }
    return hosts | _relabelled_hosts(text)


def _aliases(container: Subject) -> set[str]:
    """The names a Docker container answers to, on all its networks."""
    return {a for n in items(container.props, "networksAdvanced") for a in items(n, "aliases")}


def _relabelled_hosts(text: str) -> set[str]:
    """Hosts a job scrapes in place of its targets (the blackbox exporter, for probes)."""
    document = _yaml(text) or {}
    return {
        str(relabel["replacement"]).split(":")[0]
        for job in document.get("scrape_configs", []) or []
        for relabel in job.get("relabel_configs", []) or []
        if relabel.get("target_label") == "__address__" and relabel.get("replacement")
    }


@stack_rule(
    "observability-workloads-scraped",
    "Prometheus scrapes every workload of the stack (discovered by label and port name on Kubernetes, by name on Docker).",
    "A workload nobody scrapes can fail without any alert firing.",
    ADVISE_ALL_ENFORCE_PROD,
    (),
)
def workloads_scraped(subjects: Sequence[Subject], _: Context) -> Iterator[Violation]:
    configs = [text for _, text in files_named(subjects, "prometheus.yml")]
    if not configs:
        return
    # Each configuration is parsed once, not once per workload: a stack's time stays linear.
    kept = _merged([k for k in map(_kubernetes_kept_ports, configs) if k])
    hosts: set[str] = set().union(*map(_static_hosts, configs))
    relabelled: set[str] = set().union(*map(_relabelled_hosts, configs))
    docker_aliases: dict[str, set[str]] = {}
    for subject in subjects:
        if subject.type == DOCKER_CONTAINER:
            docker_aliases.setdefault(subject.app, set()).update(_aliases(subject))
    for subject in subjects:
        if serves_nothing(subject):
            continue  # a Job or a one-shot task has nothing to scrape
        if subject.type in WORKLOAD_TYPES:
            ports = [get(p, "name") for c in containers(subject) for p in items(c.spec, "ports")]
            labels = pod_labels(subject)
            name = labels.get("app.kubernetes.io/name", "")
            scraped = any(
                k.keeps(labels, p) for k in kept for p in ports if isinstance(p, str)
            ) or any(h == name or h.startswith(f"{name}.") for h in relabelled)
            if not scraped:
                yield Violation(f"{subject.display} is not scraped by Prometheus", subject)
        elif subject.type == DOCKER_CONTAINER:
            own = _aliases(subject)
            if not items(subject.props, "networksAdvanced") or (own and subject.app not in own):
                continue  # on no network, or a sidecar: judged with its main container
            if subject.app == "prometheus" and "localhost" in hosts:
                continue  # Prometheus scrapes itself
            # Scraped on any of its containers: an exporter answers on a name of its own.
            if not (docker_aliases.get(subject.app, set()) & hosts):
                yield Violation(
                    f"container {subject.name} ({subject.app}) is not scraped by Prometheus",
                    subject,
                )
