"""Test doubles: a stateful store (volume, sidecar, job) beside the real stack, placed by the
real placements."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi

from components.workload import (
    Checks,
    Container,
    File,
    Peer,
    PersistentVolume,
    Port,
    Probe,
    Resources,
    ScheduledJob,
    Workload,
)
from infra.program import main as program_main
from infra.settings import load_settings
from infra.stack import platform_for

SMALL = Resources(100, 64, 500, 256)
CHECKS = Checks(
    startup=Probe(command=("check",), period_seconds=2, failure_threshold=30),
    readiness=Probe(command=("check",)),
    liveness=Probe(command=("check",)),
)


def image(name: str, digest_char: str) -> str:
    return f"registry.example/{name}:1@sha256:" + digest_char * 64


def store(protect: bool, with_job: bool) -> Workload:
    return Workload(
        name="store",
        component="database",
        version="1",
        tier="internal",
        main=Container(
            name="store",
            image=image("store", "c"),
            resources=SMALL,
            checks=CHECKS,
            ports=(Port("db", 5432),),
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
                ports=(Port("metrics", 9187),),
            ),
        ),
        volumes=(PersistentVolume("data", "/var/lib/store", 10, protect=protect),),
        allowed_clients=(Peer("api", ()),),
        jobs=(
            (
                ScheduledJob(
                    "backup",
                    "0 3 * * *",
                    Container(
                        name="backup",
                        image=image("store", "c"),
                        resources=SMALL,
                        checks=CHECKS,
                        command=("backup",),
                    ),
                ),
            )
            if with_job
            else ()
        ),
    )


def program_with_doubles(with_job: bool = True) -> Mapping[str, Any]:
    """The real program, plus the doubles placed on the same platform."""
    outputs = program_main()
    settings = load_settings()
    _, placement = platform_for_doubles(settings)
    holder = pulumi.ComponentResource("prodstack:test:Doubles", "doubles", None)
    placement.place(store(settings.protect_data, with_job), parent=holder)
    return outputs


def platform_for_doubles(settings: Any) -> Any:
    # The real program already created the platform; a second one would clash in names, so
    # the doubles get their own, placed under a different name prefix/namespace.
    return platform_for(
        settings.model_copy(
            update={
                "kubernetes": settings.kubernetes.model_copy(update={"namespace": "doubles"}),
                "docker": settings.docker.model_copy(update={"name_prefix": "doubles"}),
            }
        ),
        pulumi.get_stack(),
        name="doubles-platform",
    )
