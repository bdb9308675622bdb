"""prometheus.yml: promtool accepts the Docker rendering; Kubernetes discovers the stack's pods."""

from __future__ import annotations

import dataclasses
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from components.config_values import ConfigValueError
from components.monitoring.prometheus import PrometheusConfig
from components.workload import PlacedWorkload, Target
from tests.live import require

POSTGRES = PlacedWorkload("postgres", "postgres", {"pg-metrics": 9187, "backup-metrics": 9854})
TARGETS = (
    Target(PlacedWorkload("api", "api", {"http": 8080}), "http"),
    Target(PlacedWorkload("edge", "edge", {"edge-metrics": 9113}), "edge-metrics"),
    Target(POSTGRES, "pg-metrics"),
    Target(POSTGRES, "backup-metrics"),
    Target(PlacedWorkload("redis", "redis", {"redis-metrics": 9121}), "redis-metrics"),
)


def config(platform: str) -> PrometheusConfig:
    return PrometheusConfig(
        platform == "kubernetes",
        "prodstack-dev",
        TARGETS,
        ("rules.yml",),
        "alertmanager:9093",
        "https://localhost/health/live",
        "blackbox:9115",
    )


def test_promtool_accepts_the_docker_configuration(tmp_path: Path) -> None:
    require("promtool")
    (tmp_path / "rules.yml").write_text("groups: []\n")
    path = tmp_path / "prometheus.yml"
    path.write_text(config("docker").render())
    result = subprocess.run(
        ["promtool", "check", "config", str(path)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_docker_jobs_are_the_workloads() -> None:
    jobs = {j["job_name"]: j for j in config("docker").document()["scrape_configs"]}  # type: ignore[index, union-attr]
    assert jobs["postgres"]["static_configs"][0]["targets"] == ["postgres:9187", "postgres:9854"]
    assert jobs["blackbox"]["static_configs"][0]["targets"] == ["https://localhost/health/live"]


def test_kubernetes_discovers_only_the_stacks_metrics_ports() -> None:
    # Debian's promtool is built without Kubernetes discovery, so this one is read, not run.
    document = yaml.safe_load(config("kubernetes").render())
    pods = document["scrape_configs"][0]
    assert pods["kubernetes_sd_configs"] == [
        {"role": "pod", "namespaces": {"names": ["prodstack-dev"]}}
    ]
    keep = [r for r in pods["relabel_configs"] if r.get("action") == "keep"]
    assert keep[1]["source_labels"] == [
        "__meta_kubernetes_pod_label_app_kubernetes_io_name",
        "__meta_kubernetes_pod_container_port_name",
    ]
    assert keep[1]["regex"] == (
        "(api;http|edge;edge-metrics|postgres;backup-metrics|postgres;pg-metrics"
        "|redis;redis-metrics)"
    )
    # The edge's plain `http` port is no target, though the API's port has that name.
    pattern = re.compile(keep[1]["regex"])
    assert pattern.fullmatch("api;http") and not pattern.fullmatch("edge;http")


def test_the_writer_refuses_a_control_character_in_any_value() -> None:
    broken = dataclasses.replace(config("docker"), public_url="https://localhost/\nhealth")
    with pytest.raises(ConfigValueError, match=r"prometheus\.yml: must not contain control"):
        broken.render()
