"""The stack's networks on one Docker host, from the connection graph.

Docker cannot filter by port between two containers on one network, so isolation is by
network, per container: every container has a network namespace of its own (none shares
another's, so none is left in a dead one when its neighbour restarts), and each container
that serves ports to other workloads gets an internal network (no route out) that only it
and the clients of those ports join. A container is thus reachable on the ports it declares
and by the clients declared for them, and on nothing else; `check_isolation` refuses, at
render time, a container whose ports have different clients, which one network cannot
separate. The main container answers to the workload's name, a sidecar to
`<workload>-<sidecar>` (the placement's `host_of`).

A workload's connections to other servers are its main container's (and its release task's
and scheduled jobs'); sidecars reach their main container through files and sockets in the
replica's scratch space, never through the network.

Two routable networks: `public` carries the published ports of public workloads (the edge)
and nothing else; `egress` lets out the workloads that declare traffic to outside the stack
(`outbound`: Alertmanager's notifications, Postgres's off-site backups). Each network is
labelled with what it is for (NETWORK_LABEL), which the policy pack reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components.platform.connections import Connection, ConnectionGraph
from components.workload import Container, Workload, WorkloadError
from policies.vocabulary import NETWORK_LABEL


@dataclass(frozen=True)
class Attachment:
    network: pulumi.Output[str]
    # The name the container answers to on this network; None: it serves nothing there.
    alias: str | None = None


def serving_containers(server: Workload, connection: Connection) -> tuple[Container, ...]:
    """The containers of `server` that serve the ports `connection` may open."""
    ports = connection.ports or tuple(p.port for p in server.ports)
    return tuple(c for c in server.containers if any(p.port in ports for p in c.ports))


def check_isolation(workload: Workload, graph: ConnectionGraph) -> None:
    """Refuse a container whose internal ports have different clients: its one network would
    let a client of one port open the others. Published ports are open to every client."""
    for container in workload.containers:
        internal = {p.port for p in container.ports if p.public_port is None}
        for c in graph.clients_of(workload.name):
            admitted = internal if not c.ports else internal & set(c.ports)
            if admitted and admitted != internal:
                raise WorkloadError(
                    f"docker: container {container.name} of {workload.name} serves ports "
                    f"{sorted(internal)} on one network, and {c.client} may open only "
                    f"{sorted(admitted)}. Docker isolates containers, not ports: serve "
                    f"{sorted(internal - admitted)} from a container of its own"
                )


def host(workload: str, sidecar: str | None = None) -> str:
    """The name a container answers to, and its network's: the workload's for its main
    container, `<workload>-<sidecar>` for a sidecar."""
    return workload if sidecar is None else f"{workload}-{sidecar}"


def host_of(workload: Workload, container: Container) -> str:
    return host(workload.name, None if container is workload.main else container.name)


# The attachments of what acts for the workload as a client only: its release task and jobs.
CLIENT = ""


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

    def of_server(self, workload: Workload, container: Container) -> pulumi.Output[str]:
        """The internal network of one serving container, named like its host."""
        name = host_of(workload, container)
        if name not in self._of_server:
            self._of_server[name] = self.network(name, internal=True)
        return self._of_server[name]

    def attachments(
        self, workload: Workload, by_name: dict[str, Workload], graph: ConnectionGraph
    ) -> dict[str, tuple[Attachment, ...]]:
        """The networks of each of the workload's containers, by container name, and under
        CLIENT those of its release task and scheduled jobs (they reach what its main
        container reaches)."""
        as_client = tuple(
            Attachment(network)
            for network in dict.fromkeys(
                self.of_server(by_name[c.server], s)
                for c in graph.servers_of(workload.name)
                for s in serving_containers(by_name[c.server], c)
            )
        )
        egress = (Attachment(self.egress),) if workload.outbound else ()
        networks: dict[str, tuple[Attachment, ...]] = {}
        for container in workload.containers:
            own = (
                (Attachment(self.of_server(workload, container), host_of(workload, container)),)
                if _has_clients(workload, container, graph)
                else ()
            )
            public = (
                (Attachment(self.public, workload.name),)
                if any(p.public_port is not None for p in container.ports)
                else ()
            )
            reach = as_client if container is workload.main else ()
            networks[container.name] = (*own, *reach, *public, *egress)
        networks[CLIENT] = (*as_client, *egress)
        return networks

    def create_all(self, workloads: Sequence[Workload], graph: ConnectionGraph) -> None:
        """Every serving container's network, in the order the servers were placed."""
        for w in workloads:
            for container in w.containers:
                if _has_clients(w, container, graph):
                    self.of_server(w, container)


def _has_clients(workload: Workload, container: Container, graph: ConnectionGraph) -> bool:
    return any(
        s.name == container.name
        for c in graph.clients_of(workload.name)
        for s in serving_containers(workload, c)
    )
