"""How the API reaches a data store: what the store's component hands the API's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from components.workload import File, Peer, PlacedWorkload

ServiceKind = Literal["postgres", "redis"]


@dataclass(frozen=True)
class ServiceConnection:
    """A service the API depends on. Credentials travel only as secret files."""

    kind: ServiceKind
    server: PlacedWorkload
    port_name: str
    secret_files: tuple[File, ...] = ()
    database: str | None = None
    user: str | None = None
    # The server speaks TLS only: clients verify it against the stack's CA.
    tls: bool = False

    @property
    def name(self) -> str:
        return self.server.name

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port(self.port_name)

    @property
    def peer(self) -> Peer:
        """The connection, declared by the client that uses it."""
        return Peer(self.server, (self.port,))
