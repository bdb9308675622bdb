"""Test doubles: small workloads that use everything a placement offers (a store with a
volume, a sidecar, a job and files; an autoscaled app that connects to it; a public front;
a scraper), placed by the real placements and nothing else of the program."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import pulumi

from components.platform.docker import DockerPlatform, DockerPlatformArgs
from components.platform.kubernetes import KubernetesPlatform, KubernetesPlatformArgs
from components.platform.placement import Placement
from components.platform.settings import DockerSettings, KubernetesSettings
from components.workload import (
    ApiAccess,
    Checks,
    Container,
    File,
    Outbound,
    Peer,
    PersistentVolume,
    PlacedWorkload,
    Port,
    Probe,
    Resources,
    Scaling,
    ScheduledJob,
    Workload,
)
from infra.settings.defaults import defaults_for

SMALL = Resources(100, 64, 500, 256)
CHECKS = Checks(
    startup=Probe(command=("check",), period_seconds=2, failure_threshold=30),
    readiness=Probe(command=("check",)),
    liveness=Probe(command=("check",)),
)
STORE_PORT, EXPORTER_PORT, APP_PORT = 5432, 9187, 8080


def image(name: str, digest_char: str) -> str:
    return f"registry.example/{name}:1@sha256:" + digest_char * 64


def store(protect: bool, with_job: bool) -> Workload:
    backup = ScheduledJob(
        "backup",
        "0 3 * * *",
        Container(
            name="backup",
            image=image("store", "c"),
            resources=SMALL,
            checks=CHECKS,
            command=("backup",),
            mounts=("data",),
        ),
    )
    return Workload(
        name="store",
        component="database",
        version="1",
        main=Container(
            name="store",
            image=image("store", "c"),
            resources=SMALL,
            checks=CHECKS,
            ports=(Port("db", STORE_PORT),),
            config_files=(File("store.conf", "max_connections = 100\n"),),
            secret_files=(File("password", pulumi.Output.secret("store-password-0123456789")),),
            mounts=("data",),
            tmpfs=("/tmp", "/var/run/store"),
        ),
        sidecars=(
            Container(
                name="exporter",
                image=image("exporter", "d"),
                resources=SMALL,
                checks=CHECKS,
                ports=(Port("metrics", EXPORTER_PORT),),
            ),
        ),
        volumes=(PersistentVolume("data", "/var/lib/store", 10, protect=protect),),
        jobs=(backup,) if with_job else (),
    )


def app(store_ref: PlacedWorkload) -> Workload:
    ready = Probe.http(
        APP_PORT, "/ready", command=("app-check", f"http://127.0.0.1:{APP_PORT}/ready")
    )
    return Workload(
        name="app",
        component="api",
        version="1",
        main=Container(
            name="app",
            image=image("app", "e"),
            resources=SMALL,
            checks=Checks.around(ready, startup_seconds=60),
            ports=(Port("http", APP_PORT),),
            env={"MODE": "test"},
            config_files=(File("app.json", "{}\n"),),
            secret_files=(File("signing-key", pulumi.Output.secret("app-signing-key-0123456789")),),
        ),
        scaling=Scaling(autoscale=True, min_replicas=2, max_replicas=4),
        connects_to=(Peer(store_ref, (store_ref.port("db"),)),),
    )


def front(app_ref: PlacedWorkload) -> Workload:
    return Workload(
        name="front",
        component="edge",
        version="1",
        main=Container(
            name="front",
            image=image("front", "f"),
            resources=SMALL,
            checks=CHECKS,
            ports=(Port("https", 8443, 443), Port("status", 8081)),
        ),
        connects_to=(Peer(app_ref, (APP_PORT,)),),
    )


def scraper(store_ref: PlacedWorkload, app_ref: PlacedWorkload) -> Workload:
    return Workload(
        name="scraper",
        component="monitoring",
        version="1",
        main=Container(
            name="scraper",
            image=image("scraper", "b"),
            resources=SMALL,
            checks=CHECKS,
            ports=(Port("web", 9090),),
        ),
        # Metrics only: never the store's own port.
        connects_to=(Peer(store_ref, (EXPORTER_PORT,)), Peer(app_ref)),
        outbound=(Outbound((443,)),),
        api_access=(ApiAccess(("",), ("pods",)),),
    )


# Changes to a workload's main container, by workload name: {"app": {"image": "app:2"}}.
Edits = Mapping[str, Mapping[str, Any]]


def edited(workload: Workload, edits: Edits) -> Workload:
    return replace(workload, main=replace(workload.main, **edits.get(workload.name, {})))


def place_doubles(
    placement: Placement, protect: bool = False, with_job: bool = True, edits: Edits | None = None
) -> None:
    holder = pulumi.ComponentResource("prodstack:test:Doubles", "doubles", None)
    edits = edits or {}
    store_ref = placement.place(edited(store(protect, with_job), edits), parent=holder)
    app_ref = placement.place(edited(app(store_ref), edits), parent=holder)
    placement.place(edited(front(app_ref), edits), parent=holder)
    placement.place(edited(scraper(store_ref, app_ref), edits), parent=holder)
    placement.finish()


def docker_args(stack: str) -> DockerPlatformArgs:
    """A Docker host whose names start with the stack's."""
    return DockerPlatformArgs(
        stack, DockerSettings(name_prefix=stack, log_max_size="10m", log_max_files=3)
    )


def on_docker(
    protect: bool = False, with_job: bool = True, edits: Edits | None = None
) -> Mapping[str, Any]:
    platform = DockerPlatform(
        "platform",
        docker_args("t"),
    )
    place_doubles(platform.placement, protect, with_job, edits)
    return {}


def store_files(config: str, secret: str, restart_view: str | None) -> Edits:
    """Edits giving the store a config file and a secret file, the secret with a restart
    view (File.restart_view) when given."""
    return {
        "store": {
            "config_files": (File("store.conf", config),),
            "secret_files": (File("password", secret, restart_view=restart_view),),
        }
    }


def restarts_follow_restart_views(restart_key: Callable[[Edits], str]) -> None:
    """What a placement restarts the store for (`restart_key` of a render with the edits):
    any change of a file, except one outside a file's restart view."""
    base = restart_key(store_files("a = 1", "old", None))
    assert restart_key(store_files("a = 2", "old", None)) != base
    assert restart_key(store_files("a = 1", "new", None)) != base
    in_place = restart_key(store_files("a = 1", "old", ""))
    assert restart_key(store_files("a = 1", "new", "")) == in_place
    assert restart_key(store_files("a = 2", "new", "")) != in_place


def on_kubernetes(
    protect: bool = False, with_job: bool = True, edits: Edits | None = None
) -> Mapping[str, Any]:
    platform = KubernetesPlatform(
        "platform",
        KubernetesPlatformArgs(
            stack="t",
            settings=KubernetesSettings.model_validate(
                {
                    **defaults_for("prod", "t")["kubernetes"],
                    "namespace": "t",
                    "topologyKeys": ["topology.kubernetes.io/zone"],
                }
            ),
        ),
    )
    place_doubles(platform.placement, protect, with_job, edits)
    return {}
