"""Files carriers: how config and secret files reach containers whose root is read-only.

The provider uploads every file as a tar extracted at `/` of the container, and Docker
refuses any extraction at `/` when the root filesystem is read-only, even when every file
lands in a volume. So a carrier container, created but never started (no process ever runs
in it), mounts a volume at FILES_ROOT and receives the uploads; the serving containers mount
the same volume read-only. Files are owned by root, so no container can change them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components.platform.docker.hardening import restricted_args
from components.platform.docker.rollout import digest
from components.platform.docker.scope import Scope
from components.platform.hardening import CONFIG_FILE_MODE, SECRET_FILE_MODE, restricted
from components.platform.labels import ROLE_LABEL
from components.workload import CONFIG_DIR, SECRETS_DIR, Container

FILES_ROOT = "/run/prodstack"
assert CONFIG_DIR.startswith(FILES_ROOT) and SECRETS_DIR.startswith(FILES_ROOT)
# On a container: a digest of the files it mounts, as far as its server reads them only at
# start (File.restart_view). A change replaces the carrier, which writes the new files, and,
# through this label, the containers that read them; except a container that reloads its
# files in place (Container.reloads_files): it reads the new files from the same volume,
# and keeps serving.
FILES_LABEL = "prodstack.dev/files"


@dataclass(frozen=True)
class Files:
    volume: docker.Volume
    carrier: docker.Container

    def mount(self) -> docker.ContainerMountArgs:
        return docker.ContainerMountArgs(
            type="volume", source=self.volume.name, target=FILES_ROOT, read_only=True
        )


def files_label(container: Container) -> docker.ContainerLabelArgs:
    """FILES_LABEL for `container`."""
    return docker.ContainerLabelArgs(label=FILES_LABEL, value=digest(container.restart_files))


def files(scope: Scope, container: Container) -> Files | None:
    """The volume holding a container's files, and the carrier that writes them; None
    for a container without files."""
    if not (container.delivered_config_files or container.delivered_secret_files):
        return None
    name = scope.resource_name(container.name, "files")
    volume = docker.Volume(
        name,
        name=scope.physical_name(container.name, "files"),
        labels=scope.volume_labels("files"),
        opts=scope.replaced_opts,
    )
    s = scope.settings
    carrier = docker.Container(
        name,
        name=scope.physical_name(container.name, "files"),
        image=container.image,
        # Created, never started: the provider uploads into a created container, and a
        # container that never runs needs no health check, restart policy or network.
        start=False,
        must_run=False,
        # Docker extracts the uploads at `/`, which a read-only root refuses; every
        # file lands in the volume all the same (FILES_ROOT is its mount point).
        read_only=False,
        **restricted_args(container, s.log_max_size, s.log_max_files),
        network_mode="none",
        memory=16,
        cpus="0.1",
        labels=[*scope.labels, docker.ContainerLabelArgs(label=ROLE_LABEL, value="files")],
        mounts=[docker.ContainerMountArgs(type="volume", source=volume.name, target=FILES_ROOT)],
        uploads=uploads(container),
        # Named by the rollout: with a fixed name, the old carrier goes before the new one
        # writes (into the same volume); with the release in its name, after.
        opts=scope.replaced_opts,
    )
    return Files(volume, carrier)


def uploads(spec: Container) -> list[docker.ContainerUploadArgs] | None:
    group = str(restricted(spec).group)
    return [
        docker.ContainerUploadArgs(
            file=f"{CONFIG_DIR}/{f.relative_path}",
            content=f.content,
            owner="0",
            group=group,
            permissions=f"{CONFIG_FILE_MODE:04o}",
        )
        for f in spec.delivered_config_files
    ] + [
        docker.ContainerUploadArgs(
            file=f"{SECRETS_DIR}/{f.name}",
            content=pulumi.Output.secret(f.content),
            owner="0",
            group=group,
            permissions=f"{SECRET_FILE_MODE:04o}",
        )
        for f in spec.delivered_secret_files
    ] or None
