"""The restricted container profile both placements apply to every container.

Kept here once so Docker and Kubernetes cannot drift apart: the same user, the same
capabilities, the same writable paths and the same limits.
"""

from __future__ import annotations

from components.workload import Container

DROPPED_CAPABILITIES = ("ALL",)
SECCOMP_PROFILE = "RuntimeDefault"
# tmpfs mounts: writable, never executable, bounded so a runaway writer cannot fill memory.
TMPFS_OPTIONS = "rw,noexec,nosuid,nodev,size=64m"
TMPFS_SIZE_MIB = 64


def group_of(container: Container) -> int:
    """Containers run with a primary group equal to their non-root uid."""
    return container.run_as_user


def scratch_volume_name(path: str) -> str:
    """A stable volume name for a writable path: /var/run/app -> scratch-var-run-app."""
    return "scratch" + path.replace("/", "-").replace("_", "-").lower()
