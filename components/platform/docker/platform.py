"""prodstack:index:DockerPlatform: the stack on one Docker host, and the placement onto it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from components.platform.connections import ConnectionGraph
from components.platform.docker import network, workload
from components.platform.docker.certificates import InternalCa
from components.platform.docker.network import StackNetworks
from components.platform.docker.rollout import rollout
from components.platform.docker.scope import Scope
from components.platform.labels import stack_labels
from components.platform.placement import (
    ManagedCertificate,
    NameServer,
    Pending,
    Placement,
    Use,
)
from components.platform.settings import DockerSettings
from components.workload import TlsFiles, WorkloadError


@dataclass(frozen=True)
class DockerPlatformArgs:
    stack: str
    settings: DockerSettings
    expires_at: str | None = None


class DockerPlatform(pulumi.ComponentResource):
    """The stack's networks on one Docker host, and the placement onto them."""

    public_network: pulumi.Output[str]
    egress_network: pulumi.Output[str]

    def __init__(
        self, name: str, args: DockerPlatformArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("prodstack:index:DockerPlatform", name, None, opts)
        networks = StackNetworks(
            self, name, args.settings.name_prefix, stack_labels(args.stack, args.expires_at)
        )
        self.public_network = networks.public
        self.egress_network = networks.egress
        self.placement = DockerPlacement(args, networks, InternalCa(args.stack, parent=self))
        self.register_outputs(
            {"publicNetwork": self.public_network, "egressNetwork": self.egress_network}
        )


class DockerPlacement(Placement):
    # Docker's embedded DNS on user-defined networks. Its answers follow containers as they
    # come and go (a release's replicas are new containers at new addresses), so a proxy
    # keeps one for a second.
    name_server = NameServer("127.0.0.11", valid_seconds=1)

    def __init__(self, args: DockerPlatformArgs, networks: StackNetworks, ca: InternalCa) -> None:
        super().__init__(args.stack)
        self._ca = ca
        self._settings = args.settings
        self._networks = networks

    def host_of(self, name: str, sidecar: str | None = None) -> str:
        return network.host(name, sidecar)

    def certificate(self, workload: str, use: Use) -> TlsFiles:
        if use == "client":
            return self._ca.trust()
        return self._ca.server(workload, sorted({self.host_of(workload), "localhost"}))

    def managed_certificate(self, request: ManagedCertificate) -> TlsFiles:
        raise WorkloadError(
            f"{request.setting}: cert-manager keeps certificates on Kubernetes only; on the docker "
            "platform use self-signed or supplied"
        )

    def create(self, pending: Sequence[Pending], graph: ConnectionGraph) -> None:
        workloads = [p.workload for p in pending]
        by_name = {w.name: w for w in workloads}
        self._networks.create_all(workloads, graph)
        for p in pending:
            network.check_isolation(p.workload, graph)
            if p.workload.cloud_role is not None:
                # Every container on the host shares the host's identity: none is its own.
                raise WorkloadError(
                    f"workload {p.workload.name}: a cloud role by web identity needs "
                    "per-workload identities (Kubernetes); on Docker give the credentials"
                )
            attachments = self._networks.attachments(p.workload, by_name, graph)
            scope = Scope(
                workload=p.workload,
                stack=self.stack,
                settings=self._settings,
                parent=p.parent,
                networks=attachments,
                rollout=rollout(p.workload, attachments, self._settings.model_dump(mode="json")),
            )
            workload.create(scope, p.after)
