"""The restricted profile every container of the stack runs under, described once.

Each placement has one builder that reads this description (docker/hardening.py,
kubernetes/hardening.py), so Docker and Kubernetes cannot drift apart: the same user, the
same capabilities, the same writable paths and the same limits. Nothing here can be
switched off by a component.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.workload import Container

# tmpfs mounts: writable, never executable, bounded so a runaway writer cannot fill memory.
TMPFS_SIZE_MIB = 64
# Delivered files are owned by root, so nothing in the container can change them; configs
# are readable by every user of the container, secrets by its group only.
CONFIG_FILE_MODE = 0o444
SECRET_FILE_MODE = 0o440


@dataclass(frozen=True)
class Restricted:
    user: int
    # Containers run with a primary group equal to their non-root uid.
    group: int
    # The only writable paths besides volumes: tmpfs, TMPFS_SIZE_MIB each.
    writable_paths: tuple[str, ...]
    read_only_root: bool = True
    dropped_capabilities: tuple[str, ...] = ("ALL",)
    no_new_privileges: bool = True
    privileged: bool = False
    seccomp_profile: str = "RuntimeDefault"
    tmpfs_size_mib: int = TMPFS_SIZE_MIB

    @property
    def tmpfs_options(self) -> str:
        return f"rw,noexec,nosuid,nodev,size={self.tmpfs_size_mib}m"


def restricted(container: Container) -> Restricted:
    return Restricted(
        user=container.run_as_user,
        group=container.run_as_user,
        writable_paths=container.tmpfs,
    )


def scratch_volume_name(path: str) -> str:
    """A stable volume name for a writable path: /var/run/app -> scratch-var-run-app."""
    return "scratch" + path.replace("/", "-").replace("_", "-").lower()
