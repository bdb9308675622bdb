"""What a platform placement offers components: place a workload, get a reference back.

Placing is in two steps. `place` records the workload and returns the reference other
components connect to; `finish`, called once by the composition root when every component
is built, creates the resources. Only then is every connection known, both sides of it
(a server placed first may be named later by its client, and the other way round).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import pulumi

from components.platform.connections import ConnectionGraph
from components.workload import PlacedWorkload, TlsFiles, Workload, WorkloadError

# What a certificate inside the stack is for: a server's, or a client's that verifies them.
Use = Literal["server", "client"]

__all__ = ["ClusterApi", "ManagedCertificate", "Pending", "PlacedWorkload", "Placement"]


@dataclass(frozen=True)
class ClusterApi:
    """A platform API that lists the stack's workloads and nodes (Kubernetes'): where its
    server and the nodes' kubelets answer, for what reads it (Prometheus's discovery,
    kube-state-metrics)."""

    ports: tuple[int, ...]
    kubelet_port: int


@dataclass(frozen=True)
class ManagedCertificate:
    """A public certificate that cert-manager keeps current from `issuer` (a ClusterIssuer),
    as a component asks for it; `setting` is the key that asked, for a platform without one."""

    name: str
    domain: str
    issuer: str
    labels: Mapping[str, str]
    parent: pulumi.Resource
    setting: str


@dataclass(frozen=True)
class Pending:
    """A workload placed but not yet created."""

    workload: Workload
    parent: pulumi.Resource
    # What its release task waits for (the data stores it migrates).
    after: Sequence[pulumi.Resource]


@dataclass(frozen=True)
class NameServer:
    """The DNS server that answers for the platform's host names, and how long a proxy may
    keep an answer: where an address may change under a name (a replica replaced), a proxy
    resolves the name while it runs, not once when it starts."""

    address: str
    valid_seconds: int


class Placement(ABC):
    stack: str
    # What the platform lets workloads discover and watch; none on one Docker host.
    cluster_api: ClusterApi | None = None
    # Who resolves host_of() names inside the platform.
    name_server: NameServer

    def __init__(self, stack: str) -> None:
        self.stack = stack
        self._pending: list[Pending] = []
        self._reserved: list[PlacedWorkload] = []
        self._finished = False

    def place(
        self,
        workload: Workload,
        parent: pulumi.Resource,
        after: Sequence[pulumi.Resource] = (),
    ) -> PlacedWorkload:
        """Record the workload, to be created parented to `parent`. Its release task starts
        only once `after` (the data stores it migrates) is up."""
        if self._finished:
            raise WorkloadError(f"workload {workload.name}: placed after the placement finished")
        if any(p.workload.name == workload.name for p in self._pending):
            raise WorkloadError(f"workload {workload.name}: placed twice")
        self._pending.append(Pending(workload, parent, tuple(after)))
        return PlacedWorkload(
            name=workload.name,
            host=self.host_of(workload.name),
            ports={p.name: p.port for p in workload.ports},
            port_hosts={
                port.name: self.host_of(workload.name, sidecar.name)
                for sidecar in workload.sidecars
                for port in sidecar.ports
            },
        )

    def reference(self, name: str, ports: Mapping[str, int]) -> PlacedWorkload:
        """How other workloads reach `name` on these ports of its main container, before it is
        placed (the edge routes to Grafana, placed later). `finish` checks the reservation
        against the workload finally placed."""
        self._reserved.append(PlacedWorkload(name, self.host_of(name), dict(ports)))
        return self._reserved[-1]

    def finish(self) -> ConnectionGraph:
        """Create every placed workload's resources, with both sides of every connection."""
        self._finished = True
        workloads = [p.workload for p in self._pending]
        for reserved in self._reserved:
            check_reservation(reserved, workloads)
        graph = ConnectionGraph(workloads)
        self.create(self._pending, graph)
        return graph

    @abstractmethod
    def host_of(self, name: str, sidecar: str | None = None) -> str:
        """The name other workloads reach the workload `name` by: its main container, or one
        of its sidecars where a sidecar has a host of its own."""

    @abstractmethod
    def certificate(self, workload: str, use: Use) -> TlsFiles:
        """TLS inside the stack, from the stack's own CA (made on first use): a server's
        certificate for every name its clients reach it by, or what a client needs to verify
        the servers. The files come with the container that sets them as its `tls`."""

    @abstractmethod
    def managed_certificate(self, request: ManagedCertificate) -> TlsFiles:
        """The certificate's files, or a refusal naming `request.setting`."""

    @abstractmethod
    def create(self, pending: Sequence[Pending], graph: ConnectionGraph) -> None:
        """The platform's resources for every pending workload, in the order placed."""


def check_reservation(reserved: PlacedWorkload, workloads: Sequence[Workload]) -> None:
    """A forward reference names a workload that was placed, with ports its main container
    serves under the same names: otherwise a client was configured for nothing."""
    placed = next((w for w in workloads if w.name == reserved.name), None)
    if placed is None:
        raise WorkloadError(
            f"workload {reserved.name} was referred to but never placed "
            f"(placed: {', '.join(sorted(w.name for w in workloads))})"
        )
    served = {p.name: p.port for p in placed.main.ports}
    wrong = {n: p for n, p in reserved.ports.items() if served.get(n) != p}
    if wrong:
        raise WorkloadError(
            f"workload {reserved.name} was referred to with ports {dict(wrong)}, which its "
            f"main container does not serve (it serves {served})"
        )
