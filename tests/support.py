"""Render stacks from in-memory config through the real program under Pulumi's mocks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from components.alerts import Alert
from components.api.settings import Slo
from infra.program import main as program_main
from infra.render.mock_runtime import RecordedResource, Recording, run_program
from infra.render.stack_config import StackConfig, as_config_text, load_stack_config

ROOT = Path(__file__).resolve().parents[1]


def config_of(
    stack: str, values: Mapping[str, Any], secrets: Mapping[str, str] = {}
) -> StackConfig:
    """A stack config as the CLI would hand it over: prodstack:-prefixed, JSON for objects."""
    config = StackConfig(project="prodstack", stack=stack)
    for key, value in values.items():
        config.values[f"prodstack:{key}"] = as_config_text(value)
    for key, value in secrets.items():
        config.values[f"prodstack:{key}"] = value
        config.secret_keys.add(f"prodstack:{key}")
        config.placeholders.add(value)
    return config


def render(
    stack: str,
    values: Mapping[str, Any] | None = None,
    secrets: Mapping[str, str] = {},
    program: Callable[[], Mapping[str, Any]] = program_main,
) -> Recording:
    return run_program(config_of(stack, values or {}, secrets), program)


def render_shipped(stack: str) -> Recording:
    return run_program(load_stack_config(ROOT, stack), program_main)


def one(recording: Recording, type_: str, name: str | None = None) -> RecordedResource:
    found = [r for r in recording.of_type(type_) if name is None or r.name == name]
    assert len(found) == 1, f"expected one {type_} {name or ''}, found {[r.name for r in found]}"
    return found[0]


def pod_specs(recording: Recording) -> list[tuple[RecordedResource, dict[str, Any]]]:
    """Every pod spec, wherever it lives (Deployment, StatefulSet, CronJob, Job)."""
    specs = []
    for resource in recording.resources:
        spec = resource.inputs.get("spec") or {}
        if resource.type in ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet"):
            specs.append((resource, spec["template"]["spec"]))
        elif resource.type == "kubernetes:batch/v1:CronJob":
            specs.append((resource, spec["jobTemplate"]["spec"]["template"]["spec"]))
        elif resource.type == "kubernetes:batch/v1:Job":
            specs.append((resource, spec["template"]["spec"]))
    return specs


def pinned(name: str) -> str:
    return f"registry.example/{name}:1@sha256:" + "a" * 64


PROD = {
    "environment": "prod",
    "kubernetes": {"storageClass": "expandable-ssd"},
    "domain": "api.example.com",
    "api": {"image": pinned("api")},
    "postgres": {
        "image": pinned("postgres"),
        "exporterImage": pinned("postgres-exporter"),
        "backup": {
            "repository": {
                "type": "s3",
                "s3": {
                    "endpoint": "s3.example.com",
                    "bucket": "backups",
                    "region": "eu-west-1",
                    "path": "/prodstack",
                    "uriStyle": "path",
                    "keyType": "web-id",
                    "roleArn": "arn:aws:iam::123456789012:role/prodstack-backups",
                },
            }
        },
    },
    "redis": {
        "image": "registry.example/redis:8.0.4@sha256:" + "a" * 64,
        "exporterImage": pinned("redis-exporter"),
    },
    "edge": {"image": pinned("nginx"), "exporterImage": pinned("nginx-exporter")},
    "monitoring": {
        "prometheusImage": pinned("prometheus"),
        "alertmanagerImage": pinned("alertmanager"),
        "blackboxImage": pinned("blackbox"),
        "kubeStateMetricsImage": pinned("kube-state-metrics"),
        "grafanaImage": pinned("grafana"),
        "receivers": {
            "paging": {"kind": "webhook", "url": "https://pager.example.com/hook"},
            "chat": {"kind": "none"},
            "heartbeat": {"kind": "webhook", "url": "https://hb.example.com/ping"},
        },
    },
}


DOCKER_CONTAINER = "docker:index/container:Container"


def carrier_name(mounts: list[dict[str, Any]]) -> str:
    """The carrier that delivers a Docker container's files, from the container's mounts: the
    never-started container named on the engine like the files volume mounted at FILES_ROOT
    (components/platform/docker/files.py)."""
    from components.platform.docker import FILES_ROOT

    return str(next(m["source"] for m in mounts if m["target"] == FILES_ROOT))


def files_carrier(recording: Recording, container: str) -> RecordedResource:
    spec = one(recording, DOCKER_CONTAINER, container).inputs
    name = carrier_name(spec["mounts"])
    found = [r for r in recording.of_type(DOCKER_CONTAINER) if r.inputs["name"] == name]
    assert len(found) == 1, f"expected one carrier named {name}, found {len(found)}"
    return found[0]


def uploads_of(recording: Recording, container: str) -> dict[str, dict[str, Any]]:
    """Every file a Docker container receives (its carrier's uploads, secrets in the clear:
    in memory only), by path."""
    carrier = files_carrier(recording, container)
    return {u["file"]: u for u in carrier.unredacted.get("uploads", [])}


def seed_slo() -> Slo:
    """The seed plans' objectives, the default: 99.9 % available, p95 under 500 ms."""
    from components.api.settings import Slo

    return Slo(availability_percent=99.9, latency_ms=500, latency_percent=95)


def every_alert() -> tuple[Alert, ...]:
    """Every alert a stack can carry: each component's, on its workload's usual name, and
    Monitoring's own."""
    from components.api.alerts import alerts as api
    from components.edge.alerts import alerts as edge
    from components.frontend.alerts import alerts as frontend
    from components.monitoring.rules import OWN
    from components.postgres.alerts import alerts as postgres
    from components.redis.alerts import alerts as redis

    contributed = (
        *api("api", seed_slo()), *edge("edge"), *frontend("frontend"), *postgres("postgres"), *redis("redis")
    )  # fmt: skip
    return (*contributed, *OWN)
