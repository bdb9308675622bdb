"""The Docker placement: one host, a network per server, hardened containers.

platform.py   the component: the stack's shared networks, and the placement
network.py    one network per server, joined by it and its declared clients
workload.py   a workload's replicas, volumes and sidecars
hardening.py  the restricted profile (components/platform/hardening.py) as container arguments
files.py      files carriers: how config and secret files reach read-only containers
jobs.py       release tasks (a one-shot container) and scheduled jobs (a cron sidecar)
"""

from components.platform.docker.files import FILES_LABEL, FILES_ROOT
from components.platform.docker.platform import (
    DockerPlacement,
    DockerPlatform,
    DockerPlatformArgs,
)

__all__ = ["FILES_LABEL", "FILES_ROOT", "DockerPlacement", "DockerPlatform", "DockerPlatformArgs"]
