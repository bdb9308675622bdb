"""The restricted profile (components/platform/hardening.py) as Docker container arguments."""

from __future__ import annotations

from typing import Any

import pulumi_docker as docker

from components.platform.hardening import restricted
from components.workload import Container


def restricted_args(spec: Container, log_max_size: str, log_max_files: int) -> dict[str, Any]:
    """What every container gets, files carriers included: a non-root user, no
    capabilities, no new privileges, the default seccomp profile, rotated logs."""
    profile = restricted(spec)
    return {
        "user": f"{profile.user}:{profile.group}",
        "capabilities": docker.ContainerCapabilitiesArgs(drops=list(profile.dropped_capabilities)),
        # Docker applies its default seccomp profile unless told otherwise (RuntimeDefault).
        "security_opts": ["no-new-privileges:true"] if profile.no_new_privileges else [],
        "privileged": profile.privileged,
        "log_driver": "json-file",
        "log_opts": {"max-size": log_max_size, "max-file": str(log_max_files)},
    }


def serving_args(spec: Container) -> dict[str, Any]:
    """What a container that runs gets besides: a read-only root, bounded tmpfs for its
    writable paths, and its resource limits (no swap beyond the memory limit, as on
    Kubernetes)."""
    profile = restricted(spec)
    r = spec.resources
    return {
        "read_only": profile.read_only_root,
        "tmpfs": {path: profile.tmpfs_options for path in profile.writable_paths},
        "memory": r.memory_limit_mib,
        "memory_reservation": r.memory_request_mib,
        "memory_swap": r.memory_limit_mib,
        "cpus": f"{r.cpu_limit_millicores / 1000:g}",
    }
