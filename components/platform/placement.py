"""What a platform placement offers components: place a workload, get its address back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import pulumi

from components.workload import Workload


@dataclass(frozen=True)
class PlacedWorkload:
    """How other workloads of the stack reach a placed workload."""

    name: str
    host: str
    ports: dict[str, int]

    @classmethod
    def at(cls, workload: Workload, host: str) -> PlacedWorkload:
        return cls(name=workload.name, host=host, ports={p.name: p.port for p in workload.ports})


class Placement(Protocol):
    platform: str
    stack: str

    def place(
        self,
        workload: Workload,
        parent: pulumi.Resource,
        after: Sequence[pulumi.Resource] = (),
    ) -> PlacedWorkload:
        """Create the workload's resources, parented to `parent`. Its release task starts
        only once `after` (the data stores it migrates) is up."""
        ...

    def host_of(self, workload: str) -> str:
        """The name other workloads reach `workload` by, before or after it is placed."""
        ...
