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

import pulumi

from components.platform.connections import ConnectionGraph
from components.workload import PlacedWorkload, Workload, WorkloadError

__all__ = ["Pending", "PlacedWorkload", "Placement"]


@dataclass(frozen=True)
class Pending:
    """A workload placed but not yet created."""

    workload: Workload
    parent: pulumi.Resource
    # What its release task waits for (the data stores it migrates).
    after: Sequence[pulumi.Resource]


class Placement(ABC):
    platform: str
    stack: str

    def __init__(self, stack: str) -> None:
        self.stack = stack
        self._pending: list[Pending] = []
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
        return self.reference(workload.name, {p.name: p.port for p in workload.ports})

    def reference(self, name: str, ports: Mapping[str, int]) -> PlacedWorkload:
        """How other workloads reach `name`; also for a workload placed later in the same
        stack (the edge routing to Grafana), which `finish` fails on if it never is."""
        return PlacedWorkload(name=name, host=self.host_of(name), ports=dict(ports))

    def finish(self) -> ConnectionGraph:
        """Create every placed workload's resources, with both sides of every connection."""
        self._finished = True
        graph = ConnectionGraph([p.workload for p in self._pending])
        self.create(self._pending, graph)
        return graph

    @abstractmethod
    def host_of(self, name: str) -> str:
        """The name other workloads reach the workload `name` by."""

    @abstractmethod
    def create(self, pending: Sequence[Pending], graph: ConnectionGraph) -> None:
        """The platform's resources for every pending workload, in the order placed."""
