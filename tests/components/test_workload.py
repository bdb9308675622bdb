"""The workload model refuses descriptions no placement could run safely."""

from __future__ import annotations

import pytest

from components.workload import (
    Container,
    PersistentVolume,
    Port,
    Scaling,
    ScheduledJob,
    Scratch,
    Workload,
    WorkloadError,
)
from tests.components.platform.doubles import CHECKS, SMALL


def container(**changes: object) -> Container:
    fields: dict[str, object] = {
        "name": "app",
        "image": "registry.example/app:1",
        "resources": SMALL,
        "checks": CHECKS,
    }
    return Container(**{**fields, **changes})  # type: ignore[arg-type]


def test_a_workload_is_public_exactly_when_it_publishes_a_port() -> None:
    inside = Workload("db", "database", "1", container(ports=(Port("db", 5432),)))
    public = Workload("edge", "edge", "1", container(ports=(Port("https", 8443, 443),)))
    assert (inside.public, public.public) == (False, True)


def test_containers_never_run_as_root() -> None:
    with pytest.raises(WorkloadError, match="must not run as root"):
        container(run_as_user=0)


def test_privileged_ports_are_refused() -> None:
    with pytest.raises(WorkloadError, match="privileged"):
        Port("http", 80)


def test_mounts_name_declared_volumes() -> None:
    with pytest.raises(WorkloadError, match="mounts unknown volumes"):
        Workload("db", "database", "1", container(mounts=("data",)))


def test_a_jobs_scratch_is_its_own_and_every_volume_name_is_one_volume() -> None:
    data = PersistentVolume("data", "/data", 1, protect=False)
    drill = ScheduledJob(
        "drill", "0 4 1 * *", container(name="drill", mounts=("data", "restore")),
        scratch=(Scratch("restore", "/restore", 100),),
    )  # fmt: skip
    Workload("db", "database", "1", container(mounts=("data",)), volumes=(data,), jobs=(drill,))
    with pytest.raises(WorkloadError, match="container app mounts unknown volumes"):
        Workload("db", "database", "1", container(mounts=("data", "restore")), volumes=(data,),
                 jobs=(drill,))  # fmt: skip
    clash = ScheduledJob("drill", "0 4 1 * *", container(name="drill"),
                         scratch=(Scratch("data", "/restore", 100),))  # fmt: skip
    with pytest.raises(WorkloadError, match=r"names must differ: \['data'\]"):
        Workload("db", "database", "1", container(mounts=("data",)), volumes=(data,),
                 jobs=(clash,))  # fmt: skip


def test_container_and_port_names_are_unique() -> None:
    with pytest.raises(WorkloadError, match=r"duplicate ports \[8080\]"):
        Workload("api", "api", "1", container(ports=(Port("http", 8080), Port("alt", 8080))))
    with pytest.raises(WorkloadError, match=r"duplicate container names \['app'\]"):
        Workload("api", "api", "1", container(), sidecars=(container(),))


def test_stateful_workloads_run_one_replica() -> None:
    with pytest.raises(WorkloadError, match="runs one replica"):
        Workload(
            "db",
            "database",
            "1",
            container(mounts=("data",)),
            volumes=(PersistentVolume("data", "/data", 1, protect=False),),
            scaling=Scaling(replicas=2),
        )


def test_autoscaling_bounds_are_ordered() -> None:
    with pytest.raises(WorkloadError, match="maxReplicas below minReplicas"):
        Scaling(autoscale=True, min_replicas=3, max_replicas=2)
    assert Scaling(autoscale=True, min_replicas=3, max_replicas=5).baseline == 3
    assert Scaling(replicas=2).baseline == 2


def test_job_schedules_are_cron_expressions() -> None:
    with pytest.raises(WorkloadError, match="5-field cron"):
        ScheduledJob("backup", "daily", container())


def test_file_names_are_plain() -> None:
    from components.workload import File

    with pytest.raises(WorkloadError, match="plain file name"):
        File("../etc/passwd", "x")


def test_checks_around_one_probe() -> None:
    from components.workload import Checks, Probe

    ready = Probe(command=("check",), period_seconds=10)
    checks = Checks.around(ready, startup_seconds=600, startup_period=5, liveness_failures=6)
    assert checks.readiness == ready
    assert (checks.startup.period_seconds, checks.startup.failure_threshold) == (5, 120)
    assert (checks.liveness.period_seconds, checks.liveness.failure_threshold) == (20, 6)
    assert checks.startup.command == checks.liveness.command == ("check",)
