"""Who may connect to whom: every connection the stack's workloads declare, both sides of it.

A connection is declared once, by whichever side is built second (a server names a client
it admits, or a client names the server it uses). Both placements read this graph: Docker
turns it into one network per server, Kubernetes into each pod's ingress and egress rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from components.workload import Workload, WorkloadError


@dataclass(frozen=True)
class Connection:
    client: str
    server: str
    # The server's ports the client may open; empty: every port of the server.
    ports: tuple[int, ...]


class ConnectionGraph:
    """The connections between the workloads of one stack (one placement)."""

    def __init__(self, workloads: Sequence[Workload]) -> None:
        by_name = {w.name: w for w in workloads}
        declared = [
            *(
                Connection(w.name, peer.workload.name, peer.ports)
                for w in workloads
                for peer in w.connects_to
            ),
            *(
                Connection(peer.workload.name, w.name, peer.ports)
                for w in workloads
                for peer in w.allowed_clients
            ),
        ]
        for c in declared:
            for side in (c.client, c.server):
                if side not in by_name:
                    raise WorkloadError(
                        f"the connection from {c.client} to {c.server} names {side}, which "
                        f"no component placed (placed: {', '.join(sorted(by_name))})"
                    )
            server_ports = {p.port for p in by_name[c.server].ports}
            if not server_ports:
                raise WorkloadError(f"{c.client} connects to {c.server}, which serves no port")
            unknown = set(c.ports) - server_ports
            if unknown:
                raise WorkloadError(
                    f"{c.client} connects to {c.server} on {sorted(unknown)}, which "
                    f"{c.server} does not serve (it serves {sorted(server_ports)})"
                )
        # Declared twice (once by each side) is still one connection.
        self.connections = tuple(dict.fromkeys(declared))

    def clients_of(self, server: str) -> tuple[Connection, ...]:
        return tuple(c for c in self.connections if c.server == server)

    def servers_of(self, client: str) -> tuple[Connection, ...]:
        return tuple(c for c in self.connections if c.client == client)
