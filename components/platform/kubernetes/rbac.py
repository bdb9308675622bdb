"""A workload's identity: its own ServiceAccount, with a token and a Role only for the
Kubernetes API access it declares (a ClusterRole for what has no namespace)."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi_kubernetes as k8s

from components.platform.kubernetes.scope import Scope
from components.workload import ApiAccess

core = k8s.core.v1
meta = k8s.meta.v1
rbac = k8s.rbac.v1


# The annotation EKS's pod identity webhook reads: it gives the pods of the ServiceAccount
# a projected token and AWS_ROLE_ARN / AWS_WEB_IDENTITY_TOKEN_FILE, which AWS clients (and
# pgBackRest's repo1-s3-key-type=web-id) use to take on the role.
WEB_IDENTITY_ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"


def service_account(scope: Scope) -> None:
    w = scope.workload
    metadata = scope.metadata()
    if w.cloud_role is not None:
        metadata.annotations = {WEB_IDENTITY_ROLE_ANNOTATION: w.cloud_role}
    core.ServiceAccount(
        w.name,
        metadata=metadata,
        automount_service_account_token=bool(w.api_access),
        opts=scope.opts,
    )
    namespaced = [a for a in w.api_access if not a.cluster]
    if namespaced:
        grant(scope, rbac.Role, rbac.RoleBinding, w.name, scope.metadata(), namespaced)
    cluster = [a for a in w.api_access if a.cluster]
    if cluster:
        # Cluster-scoped names are shared by every stack in the cluster: prefix the namespace.
        name = f"{scope.settings.namespace}-{w.name}"
        metadata = meta.ObjectMetaArgs(name=name, labels=scope.labels)
        grant(scope, rbac.ClusterRole, rbac.ClusterRoleBinding, name, metadata, cluster)


def grant(
    scope: Scope,
    role: type[rbac.Role] | type[rbac.ClusterRole],
    binding: type[rbac.RoleBinding] | type[rbac.ClusterRoleBinding],
    name: str,
    metadata: meta.ObjectMetaArgs,
    access: Sequence[ApiAccess],
) -> None:
    role(
        name,
        metadata=metadata,
        rules=[
            rbac.PolicyRuleArgs(
                api_groups=list(a.api_groups), resources=list(a.resources), verbs=list(a.verbs)
            )
            for a in access
        ],
        opts=scope.opts,
    )
    binding(
        name,
        metadata=metadata,
        role_ref=rbac.RoleRefArgs(
            # The SDK's classes are named after the kinds: Role or ClusterRole.
            api_group="rbac.authorization.k8s.io",
            kind=role.__name__,
            name=name,
        ),
        subjects=[
            rbac.SubjectArgs(
                kind="ServiceAccount", name=scope.workload.name, namespace=scope.namespace
            )
        ],
        opts=scope.opts,
    )
