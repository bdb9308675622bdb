"""The stack's networks on one Docker host, from the connection graph.

Docker cannot filter by port between two containers on one network, so isolation is by
network: each server gets an internal network (no route out) that only it and its declared
clients join, under its name. A client of one port of a server thus reaches all of that
server's ports (Kubernetes narrows it to the port); it reaches no other server.

Two routable networks: `public` carries the published ports of public workloads (the edge)
and nothing else; `egress` lets out the workloads that declare traffic to outside the stack
(`outbound`: Alertmanager's notifications, Postgres's off-site backups). Each network is
labelled with what it is for (NETWORK_LABEL), which the policy pack reads.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_docker as docker

from components.platform.connections import ConnectionGraph
from components.platform.labels import NETWORK_LABEL
from components.workload import Workload

Attachment = tuple[pulumi.Output[str], bool]


class StackNetworks:
    def __init__(
        self,
        parent: pulumi.Resource,
        name: str,
        name_prefix: str,
        labels: dict[str, str],
    ) -> None:
        self._opts = pulumi.ResourceOptions(parent=parent)
        self._name = name
        self._prefix = name_prefix
        self._labels = labels
        self.public = self.network("public", internal=False)
        self.egress = self.network("egress", internal=False)
        self._of_server: dict[str, pulumi.Output[str]] = {}

    def network(self, purpose: str, internal: bool) -> pulumi.Output[str]:
        return docker.Network(
            f"{self._name}-{purpose}",
            name=f"{self._prefix}-{purpose}",
            driver="bridge",
            internal=internal,
            labels=[
                docker.NetworkLabelArgs(label=k, value=v)
                for k, v in {**self._labels, NETWORK_LABEL: purpose}.items()
            ],
            opts=self._opts,
        ).name

    def attachments(self, workload: Workload, graph: ConnectionGraph) -> tuple[Attachment, ...]:
        """The networks `workload` joins, and whether under its own name: its own network if
        it has clients, each of its servers' networks, and public or egress if it declares
        them."""
        own = [(self.of_server(workload.name), True)] if graph.clients_of(workload.name) else []
        servers = dict.fromkeys(c.server for c in graph.servers_of(workload.name))
        routable = [
            *([(self.public, True)] if workload.public else []),
            *([(self.egress, False)] if workload.outbound else []),
        ]
        return (*own, *((self.of_server(s), False) for s in servers), *routable)

    def of_server(self, server: str) -> pulumi.Output[str]:
        if server not in self._of_server:
            self._of_server[server] = self.network(server, internal=True)
        return self._of_server[server]

    def create_all(self, workloads: Sequence[Workload], graph: ConnectionGraph) -> None:
        """Every server's network, in the order the servers were placed."""
        for w in workloads:
            if graph.clients_of(w.name):
                self.of_server(w.name)
