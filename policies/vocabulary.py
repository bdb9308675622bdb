"""What the program and the policy pack agree on: the roles a workload plays (its
app.kubernetes.io/component label) and the labels the pack reads.

The pack ships on its own (pulumi-policy and PyYAML besides the standard library), so the
program imports this module, never the other way round; tests/policies/test_vocabulary.py
checks every role against the shipped stacks.
"""

from __future__ import annotations

from typing import Literal, get_args

Role = Literal["api", "cache", "database", "edge", "frontend", "monitoring"]
ROLES: tuple[Role, ...] = get_args(Role)
# The roles that keep the stack's data: the pack holds them to the data-protection and
# network rules.
DATA_STORES: tuple[Role, ...] = ("database", "cache")
# The one role with public ports.
EDGE: Role = "edge"

# On a Kubernetes controller: who may open each of its ports, from the connection graph
# (`8080=edge;9100=prometheus`). The pack holds the NetworkPolicies to it.
CLIENTS_ANNOTATION = "prodstack.dev/clients"


def clients_annotation(clients: dict[int, set[str]]) -> str:
    return ";".join(f"{port}={','.join(sorted(names))}" for port, names in sorted(clients.items()))


def declared_clients(annotation: str) -> dict[int, set[str]]:
    """The annotation read back; malformed parts are skipped (they admit no one)."""
    clients: dict[int, set[str]] = {}
    for part in annotation.split(";"):
        port, _, names = part.partition("=")
        if port.strip().isdigit():
            clients[int(port)] = {n for n in names.split(",") if n}
    return clients


# On a Docker network: what it is for (public, egress, or the container it belongs to).
NETWORK_LABEL = "prodstack.dev/network"
