"""NetworkPolicies: the namespace denies everything but DNS, and each workload's own policy
admits exactly the connections of the graph (components/platform/connections.py), both
sides: the server's ingress from each client, on the client's ports, and the client's egress."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.platform.connections import ConnectionGraph
from components.platform.kubernetes.scope import Scope
from components.platform.labels import NAME
from components.platform.settings import ClusterDns

meta = k8s.meta.v1
net = k8s.networking.v1


def namespace_policies(
    name: str, namespace: pulumi.Output[str], dns: ClusterDns, parent: pulumi.Resource
) -> None:
    """Default deny for every pod, ingress and egress; DNS to the cluster's resolver: its
    pods on their own ports, and the addresses a node-local cache answers on."""
    dns_ports = [
        net.NetworkPolicyPortArgs(protocol=protocol, port=port)
        for port in dns.ports
        for protocol in ("UDP", "TCP")
    ]
    opts = pulumi.ResourceOptions(parent=parent)
    net.NetworkPolicy(
        f"{name}-default-deny",
        metadata=meta.ObjectMetaArgs(name="default-deny", namespace=namespace),
        spec=net.NetworkPolicySpecArgs(
            pod_selector=meta.LabelSelectorArgs(), policy_types=["Ingress", "Egress"]
        ),
        opts=opts,
    )
    net.NetworkPolicy(
        f"{name}-allow-dns",
        metadata=meta.ObjectMetaArgs(name="allow-dns", namespace=namespace),
        spec=net.NetworkPolicySpecArgs(
            pod_selector=meta.LabelSelectorArgs(),
            policy_types=["Egress"],
            egress=[
                net.NetworkPolicyEgressRuleArgs(
                    to=[
                        net.NetworkPolicyPeerArgs(
                            namespace_selector=meta.LabelSelectorArgs(
                                match_labels={"kubernetes.io/metadata.name": dns.namespace}
                            ),
                            pod_selector=meta.LabelSelectorArgs(match_labels=dict(dns.pod_labels)),
                        )
                    ],
                    ports=dns_ports,
                ),
                *(
                    [
                        net.NetworkPolicyEgressRuleArgs(
                            to=[
                                net.NetworkPolicyPeerArgs(
                                    ip_block=net.IPBlockArgs(cidr=_single(address))
                                )
                                for address in dns.addresses
                            ],
                            ports=[
                                net.NetworkPolicyPortArgs(protocol=protocol, port=53)
                                for protocol in ("UDP", "TCP")
                            ],
                        )
                    ]
                    if dns.addresses
                    else []
                ),
            ],
        ),
        opts=opts,
    )


def _single(address: str) -> str:
    """The CIDR of one address."""
    return f"{address}/32" if ":" not in address else f"{address}/128"


def pods_named(workload: str) -> list[net.NetworkPolicyPeerArgs]:
    return [
        net.NetworkPolicyPeerArgs(
            pod_selector=meta.LabelSelectorArgs(match_labels={NAME: workload})
        )
    ]


def network_policy(scope: Scope, graph: ConnectionGraph) -> None:
    w = scope.workload
    all_ports = [p.port for p in w.ports]
    ingress: list[net.NetworkPolicyIngressRuleArgs] = []
    if w.public:
        ingress.append(
            net.NetworkPolicyIngressRuleArgs(
                ports=[net.NetworkPolicyPortArgs(port=p.port) for p in w.ports if p.public_port]
            )
        )
    # One rule per client, so that each reaches only its own ports.
    ingress += [
        net.NetworkPolicyIngressRuleArgs(
            from_=pods_named(c.client),
            ports=[net.NetworkPolicyPortArgs(port=port) for port in c.ports or all_ports],
        )
        for c in graph.clients_of(w.name)
    ]
    egress = [
        net.NetworkPolicyEgressRuleArgs(
            to=pods_named(c.server),
            ports=[net.NetworkPolicyPortArgs(port=port) for port in c.ports] or None,
        )
        for c in graph.servers_of(w.name)
    ]
    egress += [
        net.NetworkPolicyEgressRuleArgs(
            to=None
            if out.anywhere
            else [net.NetworkPolicyPeerArgs(ip_block=net.IPBlockArgs(cidr=out.cidr))],
            ports=[net.NetworkPolicyPortArgs(port=port) for port in out.ports],
        )
        for out in w.outbound
    ]
    net.NetworkPolicy(
        w.name,
        metadata=scope.metadata(),
        spec=net.NetworkPolicySpecArgs(
            pod_selector=meta.LabelSelectorArgs(match_labels=scope.selector),
            policy_types=["Ingress", "Egress"],
            ingress=ingress or None,
            egress=egress or None,
        ),
        opts=scope.opts,
    )
