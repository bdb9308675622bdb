"""Each fault the game day injects, as the Docker CLI command that does the same by hand: the
drills print these as they act, and the runbooks give the same commands
(tests/docs/test_gameday_runbooks.py holds them together)."""

from __future__ import annotations

import shlex


def crash(container: str) -> str:
    """SIGKILL to the container's first process, from the host (`docker kill` would count as
    a manual stop, which `unless-stopped` does not restart)."""
    return f"sudo kill -KILL $(docker inspect -f '{{{{.State.Pid}}}}' {container})"


def kill(container: str) -> str:
    """SIGKILL, and the container stays down (a manual stop to its restart policy)."""
    return f"docker kill {container}"


def stop(container: str) -> str:
    return f"docker stop {container}"


def start(container: str) -> str:
    return f"docker start {container}"


def disconnect(network: str, container: str) -> str:
    return f"docker network disconnect {network} {container}"


def connect(network: str, container: str) -> str:
    return f"docker network connect {network} {container}"


def in_container(container: str, script: str) -> str:
    return f"docker exec {container} sh -c {shlex.quote(script)}"
