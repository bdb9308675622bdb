"""Every rule of the pack, in the order the docs list them."""

from __future__ import annotations

from policies import (
    docker,
    durability,
    edge,
    frontend,
    kubernetes_cluster,
    kubernetes_pods,
    kubernetes_workloads,
    observability,
    secrets,
)
from policies.rule import Rule

MODULES = (
    kubernetes_pods,
    kubernetes_workloads,
    kubernetes_cluster,
    docker,
    secrets,
    durability,
    edge,
    frontend,
    observability,
)
# The section of docs/policies.md each module's rules appear under.
SECTIONS = {
    kubernetes_pods: "Kubernetes pod security",
    kubernetes_workloads: "Kubernetes workloads",
    kubernetes_cluster: "Kubernetes availability and networking",
    docker: "Docker containers",
    secrets: "Secrets",
    durability: "Data durability",
    edge: "Edge",
    frontend: "Frontend",
    observability: "Observability",
}


def _rules_of(module: object) -> list[Rule]:
    return [value for value in vars(module).values() if isinstance(value, Rule)]


RULES: tuple[Rule, ...] = tuple(rule for module in MODULES for rule in _rules_of(module))
BY_ID: dict[str, Rule] = {rule.id: rule for rule in RULES}
if len(BY_ID) != len(RULES):
    raise RuntimeError("duplicate rule ids in the policy pack")


def section_of(rule: Rule) -> str:
    return next(SECTIONS[m] for m in MODULES if rule in _rules_of(m))
