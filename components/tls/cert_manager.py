"""cert-manager objects (Certificate, Issuer), for the edge's certificate and the stack's
inside ones. pulumi_kubernetes is imported here, on first use: a Docker stack never loads it."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi

API_VERSION = "cert-manager.io/v1"


def cert_manager_object(
    resource_name: str,
    kind: str,
    name: str,
    namespace: str,
    spec: Mapping[str, object],
    parent: pulumi.Resource,
    labels: Mapping[str, str] | None = None,
) -> None:
    import pulumi_kubernetes as k8s

    k8s.apiextensions.CustomResource(
        resource_name,
        api_version=API_VERSION,
        kind=kind,
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=name, namespace=namespace, labels=dict(labels) if labels else None
        ),
        spec=dict(spec),
        opts=pulumi.ResourceOptions(parent=parent),
    )
