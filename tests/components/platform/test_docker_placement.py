"""The Docker placement, container by container, on the dev settings with test doubles."""

from __future__ import annotations

from typing import Any

import pytest

from components.platform.docker import FILES_LABEL, FILES_ROOT
from components.platform.labels import ROLE_LABEL
from components.workload import CONFIG_DIR, SECRETS_DIR
from infra.render.mock_runtime import RecordedResource, Recording
from tests.components.platform.doubles import program_with_doubles
from tests.support import PROD, files_carrier, one, render, uploads_of

CONTAINER = "docker:index/container:Container"


@pytest.fixture(scope="module")
def dev() -> Recording:
    return render("dev", {"environment": "dev"}, program=lambda: program_with_doubles(False))


def labels(spec: dict[str, Any]) -> dict[str, str]:
    return {x["label"]: x["value"] for x in spec.get("labels", [])}


def containers(recording: Recording) -> dict[str, dict[str, Any]]:
    """The containers that run (files carriers never do)."""
    return {
        r.name: r.inputs
        for r in recording.of_type(CONTAINER)
        if labels(r.inputs).get(ROLE_LABEL) != "files"
    }


def carriers(recording: Recording) -> dict[str, dict[str, Any]]:
    return {
        r.name: r.inputs
        for r in recording.of_type(CONTAINER)
        if labels(r.inputs).get(ROLE_LABEL) == "files"
    }


def network_names(spec: dict[str, Any]) -> set[str]:
    return {n["name"] for n in spec.get("networksAdvanced", [])}


def test_backend_network_is_internal(dev: Recording) -> None:
    networks = {r.inputs["name"]: r.inputs for r in dev.of_type("docker:index/network:Network")}
    assert networks["prodstack-dev-backend"]["internal"] is True
    assert not networks["prodstack-dev-frontend"].get("internal")


def test_every_container_is_hardened(dev: Recording) -> None:
    specs = containers(dev)
    assert set(specs) == {
        "prodstack-dev-api-0",
        "prodstack-dev-postgres-0",
        "prodstack-dev-postgres-backup-agent-0",
        "prodstack-dev-postgres-exporter-0",
        "prodstack-dev-redis-0",
        "prodstack-dev-redis-exporter-0",
        "doubles-store-0",
        "doubles-store-exporter-0",
        "prodstack-dev-edge-0",
        "prodstack-dev-edge-exporter-0",
        "prodstack-dev-prometheus-0",
        "prodstack-dev-alertmanager-0",
        "prodstack-dev-blackbox-0",
        "prodstack-dev-grafana-0",
    }
    for name, spec in specs.items():
        user, group = spec["user"].split(":")
        assert int(user) > 0 and int(group) > 0, name
        assert spec["readOnly"] is True
        assert spec["capabilities"] == {"drops": ["ALL"]}
        assert spec["securityOpts"] == ["no-new-privileges:true"]
        assert spec["privileged"] is False
        assert spec["tmpfs"]["/tmp"].startswith("rw,noexec,nosuid")
        assert spec["memory"] > 0 and float(spec["cpus"]) > 0
        assert spec["memorySwap"] == spec["memory"]
        assert spec["restart"] == "unless-stopped"
        assert spec["logDriver"] == "json-file"
        assert spec["logOpts"] == {"max-size": "10m", "max-file": "3"}
        assert spec["healthcheck"]["tests"][0] == "CMD"
        assert spec["wait"] is True
        assert spec.get("networkMode", "").split(":")[0] not in ("host",)
        assert "pidMode" not in spec and "ipcMode" not in spec


def test_api_healthcheck_runs_its_readiness_check(dev: Recording) -> None:
    check = containers(dev)["prodstack-dev-api-0"]["healthcheck"]
    assert check["tests"] == ["CMD", "api-healthcheck", "http://127.0.0.1:8080/health/ready"]


def test_only_the_edge_publishes_ports(dev: Recording) -> None:
    published = {name for name, spec in containers(dev).items() if spec.get("ports")}
    assert published == {"prodstack-dev-edge-0"}
    ports = containers(dev)["prodstack-dev-edge-0"]["ports"]
    assert {(p["internal"], p["external"]) for p in ports} == {(8443, 443), (8080, 80)}


def test_tiers_map_to_networks(dev: Recording) -> None:
    specs = containers(dev)
    assert network_names(specs["prodstack-dev-api-0"]) == {
        "prodstack-dev-frontend",
        "prodstack-dev-backend",
    }
    assert network_names(specs["doubles-store-0"]) == {"doubles-backend"}
    assert network_names(specs["prodstack-dev-edge-0"]) == {"prodstack-dev-frontend"}
    for spec in specs.values():
        for network in spec.get("networksAdvanced", []):
            assert network["aliases"][0] in (
                "api",
                "postgres",
                "redis",
                "store",
                "edge",
                "prometheus",
                "alertmanager",
                "blackbox",
                "grafana",
            )


def test_sidecars_share_the_replica_network_namespace(dev: Recording) -> None:
    exporter = containers(dev)["doubles-store-exporter-0"]
    assert exporter["networkMode"] == "container:doubles-store-0-id"
    assert "networksAdvanced" not in exporter


def test_secrets_are_root_owned_read_only_files_never_env(dev: Recording) -> None:
    carrier = files_carrier(dev, "prodstack-dev-api-0")
    # The SDK marks the whole upload list secret; the unredacted view is in memory only.
    assert carrier.inputs["uploads"][0]["content"] == "[secret]"
    uploads = uploads_of(dev, "prodstack-dev-api-0")
    secret = uploads[f"{SECRETS_DIR}/signing-key"]
    assert (secret["owner"], secret["group"], secret["permissions"]) == ("0", "10001", "0440")
    assert uploads[f"{CONFIG_DIR}/api.json"]["permissions"] == "0444"
    for spec in containers(dev).values():
        for env in spec.get("envs", []):
            assert not any(s in env for s in dev.secret_values), env


def test_files_reach_read_only_containers_through_a_volume(dev: Recording) -> None:
    api = one(dev, CONTAINER, "prodstack-dev-api-0")
    assert {
        "type": "volume",
        "source": "prodstack-dev-api-api-files",
        "target": FILES_ROOT,
        "readOnly": True,
    } in api.inputs["mounts"]
    # A serving container carries no uploads: the provider would extract them at `/`, which
    # Docker refuses on a read-only root.
    assert all("uploads" not in spec for spec in containers(dev).values())
    carrier = one(dev, CONTAINER, "prodstack-dev-api-api-files")
    assert carrier.urn in api.depends_on
    # A changed file replaces the carrier, and with its new ID the containers reading it.
    assert labels(api.inputs)[FILES_LABEL] == "prodstack-dev-api-api-files-id"


def test_files_carriers_never_run_and_write_only_into_their_volume(dev: Recording) -> None:
    found = carriers(dev)
    assert "prodstack-dev-api-api-files" in found and "prodstack-dev-redis-redis-files" in found
    for name, spec in found.items():
        assert spec["start"] is False and spec["mustRun"] is False, name
        assert spec["networkMode"] == "none"
        assert spec["mounts"] == [{"type": "volume", "source": name, "target": FILES_ROOT}]
        uploaded = one(dev, CONTAINER, name).unredacted["uploads"]
        assert uploaded and all(u["file"].startswith(FILES_ROOT + "/") for u in uploaded)
        assert spec["capabilities"] == {"drops": ["ALL"]} and not spec.get("privileged")
        assert "healthcheck" not in spec and "ports" not in spec


def test_data_volume_is_mounted_and_labelled(dev: Recording) -> None:
    store = containers(dev)["doubles-store-0"]
    assert {"type": "volume", "source": "doubles-store-data", "target": "/var/lib/store"} in (
        store["mounts"]
    )
    volume = one(dev, "docker:index/volume:Volume", "doubles-store-data")
    assert not volume.protect and not volume.retain_on_delete


def test_prod_data_volume_on_docker_is_protected() -> None:
    certificate = {"source": "supplied", "certConfig": "edgeCert", "keyConfig": "edgeKey"}
    values = {**PROD, "platform": "docker", "edge": {**PROD["edge"], "certificate": certificate}}
    recording = render(
        "prod",
        values,
        secrets={"edgeCert": "placeholder-certificate-pem", "edgeKey": "placeholder-key-pem"},
        program=lambda: program_with_doubles(False),
    )
    volume: RecordedResource = one(recording, "docker:index/volume:Volume", "doubles-store-data")
    assert volume.protect and volume.retain_on_delete


def test_reference_image_is_built_locally_and_tagged_by_content(dev: Recording) -> None:
    image = one(dev, "docker:index/image:Image", "api-image").inputs
    assert image["skipPush"] is True
    assert image["imageName"].startswith("prodstack-api:")
    assert image["build"]["context"].endswith("images/api")
    assert containers(dev)["prodstack-dev-api-0"]["image"] == image["imageName"]


def test_scheduled_jobs_run_in_a_scheduler_sidecar_beside_the_first_replica() -> None:
    recording = render("dev", {"environment": "dev"}, program=lambda: program_with_doubles(True))
    cron = one(recording, CONTAINER, "doubles-store-backup-cron-0")
    runner = f"{CONFIG_DIR}/prodstack-cron.py"
    assert cron.inputs["entrypoints"] == ["python3", runner]
    assert cron.inputs["command"] == [
        "--schedule",
        "0 3 * * *",
        "--deadline-seconds",
        "3600",
        "--",
        "backup",
    ]
    assert cron.inputs["networkMode"] == "container:doubles-store-0-id"
    assert cron.inputs["healthcheck"]["tests"] == ["CMD", "python3", runner, "--health"]
    files = uploads_of(recording, "doubles-store-backup-cron-0")
    assert "def next_after" in files[runner]["content"]
    assert cron.inputs["readOnly"] is True and cron.inputs["capabilities"] == {"drops": ["ALL"]}
