"""`prodstack ephemeral reap --orphans` on a real Docker engine: the containers, volumes and
networks an expired ephemeral stack left without state are found by their labels and removed;
a live stack's, and a stack the backend still has, are left alone."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator

import docker
import pytest

from components.platform.labels import EXPIRES_LABEL, INSTANCE
from infra.ops.debian_images import ensure_rootfs
from infra.ops.reaper import docker_orphans
from tests.e2e.conftest import engine_available


def leave_behind(client: docker.DockerClient, stack: str, expires: str) -> None:
    """What a stack whose destroy failed half-way leaves: a network labelled with its expiry
    (as components/platform/docker labels it), a volume and a container on both."""
    labels = {INSTANCE: stack}
    network = client.networks.create(
        f"{stack}-backend", internal=True, labels={**labels, EXPIRES_LABEL: expires}
    )
    volume = client.volumes.create(f"{stack}-data", labels=labels)
    client.containers.create(
        ensure_rootfs(),
        ["true"],
        name=f"{stack}-0",
        labels=labels,
        network=network.name,
        volumes={volume.name: {"bind": "/data", "mode": "rw"}},
    )


def remains(client: docker.DockerClient, stack: str) -> list[str]:
    label = {"label": f"{INSTANCE}={stack}"}
    return [
        *(f"container {c.name}" for c in client.containers.list(all=True, filters=label)),
        *(f"volume {v.name}" for v in client.volumes.list(filters=label)),
        *(f"network {n.name}" for n in client.networks.list(filters=label)),
    ]


@pytest.fixture
def stacks() -> Iterator[tuple[docker.DockerClient, dict[str, str]]]:
    missing = engine_available()
    if missing:
        pytest.skip(missing)
    client = docker.from_env()
    suffix = secrets.token_hex(3)
    names = {
        "orphaned": f"ephemeral-orphan-{suffix}",
        "live": f"ephemeral-live-{suffix}",
        "known": f"ephemeral-known-{suffix}",
    }
    leave_behind(client, names["orphaned"], "20260101T000000Z")
    leave_behind(client, names["live"], "20990101T000000Z")
    leave_behind(client, names["known"], "20260101T000000Z")
    try:
        yield client, names
    finally:
        for stack in names.values():  # remove what the test made, whatever happened
            for kind, found in (
                (
                    "container",
                    client.containers.list(all=True, filters={"label": f"{INSTANCE}={stack}"}),
                ),
                ("volume", client.volumes.list(filters={"label": f"{INSTANCE}={stack}"})),
                ("network", client.networks.list(filters={"label": f"{INSTANCE}={stack}"})),
            ):
                for thing in found:
                    thing.remove(force=True) if kind == "container" else thing.remove()


def test_orphans_of_an_expired_stack_are_found_by_label_and_removed(
    stacks: tuple[docker.DockerClient, dict[str, str]],
) -> None:
    client, names = stacks
    now = dt.datetime.now(dt.UTC)
    said: list[str] = []
    # A dry run names them and removes nothing.
    assert docker_orphans(now, {names["known"]}, False, said.append) == []
    assert any(names["orphaned"] in line for line in said)
    assert len(remains(client, names["orphaned"])) == 3
    assert docker_orphans(now, {names["known"]}, True, said.append) == []
    assert remains(client, names["orphaned"]) == []
    # Not expired, or still in the backend (`reap` destroys those through Pulumi): kept.
    assert len(remains(client, names["live"])) == 3
    assert len(remains(client, names["known"])) == 3
