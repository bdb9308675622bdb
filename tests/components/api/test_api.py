"""The API component: its config file, its image, its wiring to dependencies."""

from __future__ import annotations

import json

from components.api.component import ApiArgs, api_workload
from components.api.settings import ApiSettings
from components.connections import ServiceConnection
from components.workload import File, PlacedWorkload, TlsFiles
from infra.settings.defaults import defaults_for
from tests.support import PROD, one, render


def settings() -> ApiSettings:
    return ApiSettings.model_validate(defaults_for("dev", "t")["api"])


def test_api_json_carries_paths_and_dependencies_but_no_secrets() -> None:
    server = PlacedWorkload("redis", "redis", {"redis": 6379, "redis-metrics": 9121})
    redis = ServiceConnection(
        kind="redis",
        server=server,
        port_name="redis",
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
            # Plain Redis: no CA to verify it against.
            "ca_file": None,
        }
    ]
    assert "s3cret-value-123" not in str(config.content)
    assert [f.name for f in workload.main.secret_files] == ["redis-password"]
    # The API declares the connection, by reference, on the Redis port only.
    assert [(p.workload, p.ports) for p in workload.connects_to] == [(server, (6379,))]


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


def test_docker_healthcheck_runs_the_api_readiness_check() -> None:
    api = one(render("dev", {}), "docker:index/container:Container", "prodstack-dev-api-0")
    check = api.inputs["healthcheck"]
    assert check["tests"] == ["CMD", "api-healthcheck", "http://127.0.0.1:8080/health/ready"]


def test_reference_image_is_built_locally_and_tagged_by_content() -> None:
    recording = render("dev", {})
    image = one(recording, "docker:index/image:Image", "api-image").inputs
    assert image["skipPush"] is True
    assert image["imageName"].startswith("prodstack-api:")
    assert image["build"]["context"].endswith("images/api")
    api = one(recording, "docker:index/container:Container", "prodstack-dev-api-0")
    assert api.inputs["image"] == image["imageName"]


def test_prod_api_probes_its_health_endpoints_and_scales_with_a_budget() -> None:
    recording = render("prod", PROD)
    pod = one(recording, "kubernetes:apps/v1:Deployment", "api").inputs["spec"]["template"]
    container = pod["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": 8080}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": 8080}
    hpa = one(recording, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "api").inputs
    assert hpa["spec"]["minReplicas"] >= 2 and hpa["spec"]["maxReplicas"] > 2
    one(recording, "kubernetes:policy/v1:PodDisruptionBudget", "api")
    secret = one(recording, "kubernetes:core/v1:Secret", "api-api-secrets").inputs
    assert set(secret["stringData"]) == {
        "signing-key",
        "postgres-password",
        "redis-password",
        "redis-user",
    }


def test_a_tls_only_store_is_verified_against_the_stack_ca() -> None:
    server = PlacedWorkload("redis", "redis", {"redis": 6379})
    redis = ServiceConnection(kind="redis", server=server, port_name="redis", tls=True)
    client = TlsFiles(
        cert_file="",
        key_file="",
        ca_file="/run/prodstack/config/internal-ca.crt",
        config_files=(File("internal-ca.crt", "-----BEGIN CERTIFICATE-----"),),
    )
    workload = api_workload("api", ApiArgs(settings(), (), (redis,), tls=client), "img:1", "1")
    # The CA comes with the container's own config, as its `tls`.
    config, ca = workload.main.delivered_config_files
    document = json.loads(str(config.content))
    assert document["dependencies"][0]["ca_file"] == "/run/prodstack/config/internal-ca.crt"
    assert ca.name == "internal-ca.crt"
