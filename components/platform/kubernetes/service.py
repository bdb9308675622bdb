"""A workload's Service: ClusterIP inside the stack; a LoadBalancer for a public workload."""

from __future__ import annotations

import pulumi_kubernetes as k8s

from components.platform.kubernetes.scope import Scope

core = k8s.core.v1


# On the edge's Service: how long its load balancer goes on sending to a stopping pod, which
# the pods' preStop must cover (the pack's edge-drains-before-stop reads both).
DEREGISTRATION_ANNOTATION = "prodstack.dev/deregistration-seconds"


def service(scope: Scope) -> None:
    w = scope.workload
    public = w.public
    metadata = scope.metadata()
    if public:
        metadata.annotations = {
            **w.load_balancer.annotations,
            DEREGISTRATION_ANNOTATION: str(w.load_balancer.deregistration_seconds),
        }
    core.Service(
        w.name,
        metadata=metadata,
        spec=core.ServiceSpecArgs(
            # LoadBalancer with Local keeps the client address for the edge's rate limits.
            type="LoadBalancer" if public else "ClusterIP",
            external_traffic_policy="Local" if public else None,
            selector=scope.selector,
            # The public Service carries only the public ports; status and metrics ports
            # stay reachable by pod address for the declared clients (NetworkPolicy).
            ports=[
                core.ServicePortArgs(
                    name=p.name,
                    port=p.public_port if public and p.public_port else p.port,
                    target_port=p.name,
                    protocol="TCP",
                )
                for p in w.ports
                if p.public_port or not public
            ],
        ),
        opts=scope.opts,
    )


def headless_name(workload: str) -> str:
    return f"{workload}-pods"


def headless_service(scope: Scope) -> None:
    """The governing Service a StatefulSet names: no cluster address, a DNS name per pod
    (postgres-0.postgres-pods), so that a replica can be addressed by its identity."""
    w = scope.workload
    core.Service(
        headless_name(w.name),
        metadata=scope.metadata(headless_name(w.name)),
        spec=core.ServiceSpecArgs(
            cluster_ip="None",
            selector=scope.selector,
            ports=[
                core.ServicePortArgs(name=p.name, port=p.port, target_port=p.name, protocol="TCP")
                for p in w.ports
            ],
        ),
        opts=scope.opts,
    )
