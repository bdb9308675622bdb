"""The restricted profile (components/platform/hardening.py) as Kubernetes security contexts."""

from __future__ import annotations

import pulumi_kubernetes as k8s

from components.platform.hardening import restricted
from components.workload import Container

core = k8s.core.v1


def pod_security_context(first: Container) -> core.PodSecurityContextArgs:
    profile = restricted(first)
    return core.PodSecurityContextArgs(
        run_as_non_root=True,
        run_as_user=profile.user,
        run_as_group=profile.group,
        fs_group=profile.group,
        fs_group_change_policy="OnRootMismatch",
        seccomp_profile=core.SeccompProfileArgs(type=profile.seccomp_profile),
    )


def container_security_context(container: Container) -> core.SecurityContextArgs:
    profile = restricted(container)
    return core.SecurityContextArgs(
        run_as_non_root=True,
        run_as_user=profile.user,
        run_as_group=profile.group,
        privileged=profile.privileged,
        allow_privilege_escalation=not profile.no_new_privileges,
        read_only_root_filesystem=profile.read_only_root,
        capabilities=core.CapabilitiesArgs(drop=list(profile.dropped_capabilities)),
        seccomp_profile=core.SeccompProfileArgs(type=profile.seccomp_profile),
    )
