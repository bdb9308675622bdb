"""nginx's worker count follows the container's CPU limit, on the edge and the frontend, and
nginx autoscales on CPU alone."""

from __future__ import annotations

import re

import pytest

from components.nginx_config import worker_processes
from components.workload import Resources
from infra.settings.errors import SettingsError
from tests.support import PROD, one, pinned, render, uploads_of

HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"


@pytest.mark.parametrize(("limit", "workers"), [(100, 1), (1000, 1), (1500, 2), (4000, 4)])
def test_one_worker_per_cpu_of_the_limit(limit: int, workers: int) -> None:
    assert worker_processes(Resources(50, 64, limit, 256)) == workers


def test_the_rendered_nginx_configurations_count_workers_from_the_limit() -> None:
    edge_limit = {"resources": {"limits": {"cpu": "3"}, "requests": {"cpu": "1"}}}
    recording = render("dev", {"edge": edge_limit, "frontend": {"enabled": True}})
    for container, workers in (("prodstack-dev-edge-0", 3), ("prodstack-dev-frontend-0", 1)):
        conf = next(
            u["content"] for p, u in uploads_of(recording, container).items() if p.endswith(".conf")
        )
        assert re.findall(r"^worker_processes (\S+);$", conf, re.M) == [str(workers)], container


def test_nginx_autoscales_on_cpu_alone_and_refuses_a_memory_target() -> None:
    recording = render("prod", {**PROD, "frontend": {"enabled": True, "image": pinned("web")}})
    for name in ("edge", "frontend", "api"):
        metrics = one(recording, HPA, name).inputs["spec"]["metrics"]
        kinds = [m["resource"]["name"] for m in metrics]
        assert kinds == (["cpu", "memory"] if name == "api" else ["cpu"]), name
    with pytest.raises(SettingsError, match=r"edge\.autoscaling\.targetMemoryPercent"):
        render("prod", {**PROD, "edge": {"autoscaling": {"targetMemoryPercent": 80}}})
