"""How one workload reaches another: the contract between the data tier and the API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from components.workload import File, Peer

ServiceKind = Literal["postgres", "redis"]


@dataclass(frozen=True)
class ServiceConnection:
    """A service the API depends on. Credentials travel only as secret files."""

    name: str
    kind: ServiceKind
    workload: str
    host: str
    port: int
    secret_files: tuple[File, ...] = ()
    database: str | None = None
    user: str | None = None

    @property
    def peer(self) -> Peer:
        return Peer(workload=self.workload, ports=(self.port,))
