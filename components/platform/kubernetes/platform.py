"""prodstack:index:KubernetesPlatform: the stack's namespace, and the placement into it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.platform.connections import ConnectionGraph
from components.platform.kubernetes import workload
from components.platform.kubernetes.cert_manager import InternalCa, public_certificate
from components.platform.kubernetes.network import namespace_policies
from components.platform.kubernetes.pods import critical_priority_class
from components.platform.kubernetes.scope import Scope
from components.platform.labels import stack_labels
from components.platform.placement import (
    ClusterApi,
    ManagedCertificate,
    NameServer,
    Pending,
    Placement,
    Use,
)
from components.platform.settings import KubernetesSettings
from components.workload import TlsFiles

# Pod Security Standards: enforce, audit and warn at `restricted` for the whole namespace.
POD_SECURITY_LABELS = {
    f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")
}


@dataclass(frozen=True)
class KubernetesPlatformArgs:
    stack: str
    settings: KubernetesSettings
    expires_at: str | None = None


class KubernetesPlatform(pulumi.ComponentResource):
    """The stack's namespace with default-deny networking, and the placement into it."""

    namespace: pulumi.Output[str]

    def __init__(
        self, name: str, args: KubernetesPlatformArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("prodstack:index:KubernetesPlatform", name, None, opts)
        namespace = k8s.core.v1.Namespace(
            name,
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=args.settings.namespace,
                labels={**POD_SECURITY_LABELS, **stack_labels(args.stack, args.expires_at)},
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.namespace = namespace.metadata.name
        namespace_policies(name, self.namespace, args.settings.dns, parent=self)
        k8s.scheduling.v1.PriorityClass(
            f"{name}-critical",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=critical_priority_class(args.settings.namespace),
                labels=stack_labels(args.stack, args.expires_at),
            ),
            # Above any workload without a class (0), far below the system's own
            # (system-cluster-critical is 2000000000).
            value=1_000_000,
            global_default=False,
            preemption_policy="PreemptLowerPriority",
            description="The stack's data stores (Workload.critical): evicted last.",
            opts=pulumi.ResourceOptions(parent=self),
        )
        ca = InternalCa(args.stack, args.settings.namespace, parent=self)
        self.placement = KubernetesPlacement(args, self.namespace, ca)
        self.register_outputs({"namespace": self.namespace})


class KubernetesPlacement(
    Placement
):  # The API server (443 on managed clusters, 6443 on kubeadm's) and the kubelets.
    cluster_api = ClusterApi(ports=(443, 6443), kubelet_port=10250)
    # The cluster's DNS: CoreDNS keeps the Service name kube-dns for compatibility (kubeadm,
    # EKS, GKE, AKS, k3s). A Service's address is stable, so answers may be kept a while;
    # resolving while running lets the edge start before a Service it routes to exists.
    name_server = NameServer("kube-dns.kube-system.svc.cluster.local", valid_seconds=5)

    def __init__(
        self, args: KubernetesPlatformArgs, namespace: pulumi.Output[str], ca: InternalCa
    ) -> None:
        super().__init__(args.stack)
        self._ca = ca
        self._settings = args.settings
        self._namespace = namespace

    def host_of(self, name: str, sidecar: str | None = None) -> str:
        # One Service per workload: every container's ports are behind it.
        return f"{name}.{self._settings.namespace}.svc.cluster.local"

    def certificate(self, workload: str, use: Use) -> TlsFiles:
        ns = self._settings.namespace
        names = (
            [workload, "localhost", f"{workload}.{ns}.svc", self.host_of(workload)]
            if use == "server"
            else [workload]
        )
        return self._ca.certificate(workload, sorted(names), use)

    def managed_certificate(self, request: ManagedCertificate) -> TlsFiles:
        return public_certificate(request, self._settings.namespace)

    def create(self, pending: Sequence[Pending], graph: ConnectionGraph) -> None:
        for p in pending:
            scope = Scope(p.workload, self.stack, self._settings, self._namespace, p.parent)
            workload.create(scope, graph, p.after)
