"""The API component: its config file, its image, its wiring to dependencies."""

from __future__ import annotations

import json

from components.api.component import ApiArgs, api_workload
from components.api.settings import ApiSettings
from components.connections import ServiceConnection
from components.workload import File
from infra.settings.defaults import defaults_for
from tests.support import PROD, one, render


def settings() -> ApiSettings:
    return ApiSettings.model_validate(defaults_for("dev", "t")["api"])


def test_api_json_carries_paths_and_dependencies_but_no_secrets() -> None:
    redis = ServiceConnection(
        name="redis",
        kind="redis",
        workload="redis",
        host="redis",
        port=6379,
        secret_files=(File("redis-password", "s3cret-value-123"),),
    )
    workload = api_workload("api", ApiArgs(settings(), (), (redis,)), "img:1", "1")
    (config,) = workload.main.config_files
    document = json.loads(str(config.content))
    assert document["readiness_path"] == "/health/ready"
    assert document["dependencies"] == [
        {
            "name": "redis",
            "kind": "redis",
            "host": "redis",
            "port": 6379,
            "database": None,
            "user": None,
            "secret_files": {"password": "/run/prodstack/secrets/redis-password"},
        }
    ]
    assert "s3cret-value-123" not in str(config.content)
    assert [f.name for f in workload.main.secret_files] == ["redis-password"]
    assert [(p.workload, p.ports) for p in workload.connects_to] == [("redis", (6379,))]


def test_registry_image_is_used_as_given() -> None:
    recording = render("prod", PROD)
    deployment = one(recording, "kubernetes:apps/v1:Deployment", "api")
    image = deployment.inputs["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == PROD["api"]["image"]  # type: ignore[index]
    assert recording.of_type("docker:index/image:Image") == []
    assert recording.outputs["apiImage"] == image


def test_stack_outputs_name_the_api() -> None:
    outputs = render("dev", {}).outputs
    assert outputs["apiInternalUrl"] == "http://api:8080"
    assert outputs["platform"] == "docker"
