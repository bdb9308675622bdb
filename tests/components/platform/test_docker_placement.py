"""The Docker placement, on the doubles: networks from the connection graph, hardened
containers, files through carriers, volumes, sidecars and scheduled jobs."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from components.platform.docker import FILES_LABEL, FILES_ROOT
from components.platform.docker.containers import UNAPPLIED_FIELDS_LABEL
from components.platform.labels import ROLE_LABEL
from components.workload import CONFIG_DIR, SECRETS_DIR, Checks, Port, Probe
from infra.render.mock_runtime import Recording
from tests.components.platform.doubles import (
    CHECKS,
    Edits,
    docker_args,
    on_docker,
    restarts_follow_restart_views,
)
from tests.support import one, render, uploads_of

CONTAINER = "docker:index/container:Container"
NETWORK = "docker:index/network:Network"


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


def joined(spec: dict[str, Any]) -> dict[str, list[str] | None]:
    """The networks a container joins, with the names it answers to on each."""
    return {n["name"]: n.get("aliases") for n in spec.get("networksAdvanced", [])}


def test_each_server_has_an_internal_network_and_only_the_edge_is_on_the_public_one(
    docker_stack: Recording,
) -> None:
    networks = {r.inputs["name"]: r.inputs for r in docker_stack.of_type(NETWORK)}
    # A network per container that has clients; public and egress are the routable two.
    assert set(networks) == {"t-public", "t-egress", "t-store", "t-store-exporter", "t-app"}
    internal = ("t-store", "t-store-exporter", "t-app")
    assert all(networks[n]["internal"] is True for n in internal)
    assert not networks["t-public"].get("internal") and not networks["t-egress"].get("internal")
    specs = containers(docker_stack)
    assert joined(specs["t-store-0"]) == {"t-store": ["store"]}
    assert joined(specs["t-store-exporter-0"]) == {"t-store-exporter": ["store-exporter"]}
    assert joined(specs["t-app-0"]) == {"t-app": ["app"], "t-store": None}
    assert joined(specs["t-front-0"]) == {"t-app": None, "t-public": ["front"]}
    # The scraper reaches the store's exporter and not the store's own port, and leaves the
    # stack through egress, the one thing it declares outside.
    assert joined(specs["t-scraper-0"]) == {
        "t-store-exporter": None,
        "t-app": None,
        "t-egress": None,
    }


def test_a_container_whose_ports_have_different_clients_is_refused() -> None:
    """One network cannot admit a client to one port of a container and not another."""
    import pulumi
    import pytest

    from components.platform.docker import DockerPlatform
    from components.workload import WorkloadError
    from tests.components.platform.doubles import app, store

    refused: list[str] = []

    def program() -> dict[str, Any]:
        placement = DockerPlatform("p", docker_args("t")).placement
        holder = pulumi.ComponentResource("prodstack:test:Doubles", "doubles", None)
        two_ports = store(protect=False, with_job=False)
        main = replace(two_ports.main, ports=(*two_ports.main.ports, Port("admin", 5433)))
        store_ref = placement.place(replace(two_ports, main=main), parent=holder)
        placement.place(app(store_ref), parent=holder)  # admitted to 5432 only
        with pytest.raises(WorkloadError) as error:
            placement.finish()
        refused.append(str(error.value))
        return {}

    render("t", program=program)
    assert refused == [
        "docker: container store of store serves ports [5432, 5433] on one network, and app "
        "may open only [5432]. Docker isolates containers, not ports: serve [5433] from a "
        "container of its own"
    ]


def test_a_workload_without_connections_gets_no_network_at_all() -> None:
    from components.platform.docker import DockerPlatform
    from tests.components.platform.doubles import store

    def lone() -> dict[str, Any]:
        import pulumi

        platform = DockerPlatform("p", docker_args("t"))
        holder = pulumi.ComponentResource("prodstack:test:Doubles", "doubles", None)
        platform.placement.place(store(protect=False, with_job=False), parent=holder)
        platform.placement.finish()
        return {}

    server = containers(render("t", program=lone))["t-store-0"]
    # Not Docker's default bridge, which every container on the host shares.
    assert server["networkMode"] == "none" and "networksAdvanced" not in server


def test_every_container_is_hardened(docker_stack: Recording) -> None:
    specs = containers(docker_stack)
    assert set(specs) == {
        "t-store-0",
        "t-store-exporter-0",
        "t-store-backup-cron-0",
        "t-app-0",
        "t-app-1",
        "t-front-0",
        "t-scraper-0",
    }
    for name, spec in specs.items():
        user, group = spec["user"].split(":")
        assert int(user) > 0 and int(group) > 0, name
        assert spec["readOnly"] is True
        assert spec["capabilities"] == {"drops": ["ALL"]}
        assert spec["securityOpts"] == ["no-new-privileges:true"]
        assert spec["privileged"] is False
        assert spec["tmpfs"]["/tmp"] == "rw,noexec,nosuid,nodev,size=64m"
        assert spec["memory"] == 256 and spec["memoryReservation"] == 64
        assert spec["memorySwap"] == spec["memory"] and spec["cpus"] == "0.5"
        assert spec["restart"] == "unless-stopped"
        assert spec["logDriver"] == "json-file"
        assert spec["logOpts"] == {"max-size": "10m", "max-file": "3"}
        assert spec["healthcheck"]["tests"][0] == "CMD"
        assert spec["wait"] is True
        assert spec.get("networkMode", "").split(":")[0] not in ("host",)
        assert "pidMode" not in spec and "ipcMode" not in spec


def test_the_healthcheck_runs_the_readiness_check_after_the_startup_grace(
    docker_stack: Recording,
) -> None:
    check = containers(docker_stack)["t-app-0"]["healthcheck"]
    assert check["tests"] == ["CMD", "app-check", "http://127.0.0.1:8080/ready"]
    assert check["startPeriod"] == "60s" and check["interval"] == "10s"


def test_only_the_public_workload_publishes_ports(docker_stack: Recording) -> None:
    published = {name for name, spec in containers(docker_stack).items() if spec.get("ports")}
    assert published == {"t-front-0"}
    ports = containers(docker_stack)["t-front-0"]["ports"]
    assert [(p["internal"], p["external"], p["ip"]) for p in ports] == [(8443, 443, "0.0.0.0")]


def test_every_container_has_a_network_namespace_of_its_own(docker_stack: Recording) -> None:
    """No container joins another's namespace (`container:`): none is left in a dead one
    when its neighbour restarts, and a sidecar's port is not open on its main container's
    network (the exporter reads the store through their shared scratch space instead)."""
    for name, spec in containers(docker_stack).items():
        assert not str(spec.get("networkMode", "")).startswith("container:"), name
    exporter = containers(docker_stack)["t-store-exporter-0"]
    assert joined(exporter) == {"t-store-exporter": ["store-exporter"]}


def test_secrets_are_root_owned_read_only_files_never_env(docker_stack: Recording) -> None:
    carrier = one(docker_stack, CONTAINER, "t-app-app-files")
    # The SDK marks the whole upload list secret; the unredacted view is in memory only.
    assert carrier.inputs["uploads"][0]["content"] == "[secret]"
    uploads = uploads_of(docker_stack, "t-app-0")
    secret = uploads[f"{SECRETS_DIR}/signing-key"]
    assert (secret["owner"], secret["group"], secret["permissions"]) == ("0", "10001", "0440")
    assert uploads[f"{CONFIG_DIR}/app.json"]["permissions"] == "0444"
    for spec in containers(docker_stack).values():
        for env in spec.get("envs", []):
            assert "signing-key-0123456789" not in env and "password-0123456789" not in env


def test_files_reach_read_only_containers_through_a_volume(docker_stack: Recording) -> None:
    app = one(docker_stack, CONTAINER, "t-app-0")
    volume = one(docker_stack, "docker:index/volume:Volume", "t-app-app-files")
    assert {
        "type": "volume",
        "source": volume.inputs["name"],
        "target": FILES_ROOT,
        "readOnly": True,
    } in app.inputs["mounts"]
    # A serving container carries no uploads: the provider would extract them at `/`, which
    # Docker refuses on a read-only root.
    assert all("uploads" not in spec for spec in containers(docker_stack).values())
    carrier = one(docker_stack, CONTAINER, "t-app-app-files")
    assert carrier.urn in app.depends_on


def test_a_changed_file_replaces_its_server_unless_the_server_applies_it_in_place() -> None:
    """The files label digests what the server reads only at start (File.restart_view): a
    change there replaces the store (labels force a replacement); a change the server takes
    in place (a password its logins keeper applies) replaces only the carrier."""

    def label(edits: Edits) -> str:
        recording = render("t", program=lambda: on_docker(edits=edits))
        return labels(one(recording, CONTAINER, "t-store-0").inputs)[FILES_LABEL]

    restarts_follow_restart_views(label)


def test_files_carriers_never_run_and_write_only_into_their_volume(
    docker_stack: Recording,
) -> None:
    found = carriers(docker_stack)
    assert set(found) == {"t-app-app-files", "t-store-store-files", "t-store-backup-cron-files"}
    for name, spec in found.items():
        assert spec["start"] is False and spec["mustRun"] is False, name
        assert spec["networkMode"] == "none"
        # On the engine, the volume is named like its carrier (with the release under surge).
        source = spec["name"]
        assert spec["mounts"] == [{"type": "volume", "source": source, "target": FILES_ROOT}]
        uploaded = one(docker_stack, CONTAINER, name).unredacted["uploads"]
        assert uploaded and all(u["file"].startswith(FILES_ROOT + "/") for u in uploaded)
        assert spec["capabilities"] == {"drops": ["ALL"]} and not spec.get("privileged")
        assert "healthcheck" not in spec and "ports" not in spec


def test_data_volume_is_mounted_and_labelled(docker_stack: Recording) -> None:
    store = containers(docker_stack)["t-store-0"]
    assert {"type": "volume", "source": "t-store-data", "target": "/var/lib/store"} in (
        store["mounts"]
    )
    volume = one(docker_stack, "docker:index/volume:Volume", "t-store-data")
    assert labels(volume.inputs)["prodstack.dev/volume"] == "data"
    assert not volume.protect and not volume.retain_on_delete


def test_protected_data_volume_survives_destroy() -> None:
    recording = render("t", program=lambda: on_docker(protect=True))
    volume = one(recording, "docker:index/volume:Volume", "t-store-data")
    assert volume.protect and volume.retain_on_delete


def test_scheduled_jobs_run_in_a_scheduler_sidecar_beside_the_first_replica(
    docker_stack: Recording,
) -> None:
    cron = one(docker_stack, CONTAINER, "t-store-backup-cron-0")
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
    # It reaches what the store's main container reaches: nothing, in this double.
    assert cron.inputs["networkMode"] == "none"
    assert cron.inputs["healthcheck"]["tests"] == ["CMD", "python3", runner, "--health"]
    files = uploads_of(docker_stack, "t-store-backup-cron-0")
    assert "def next_after" in files[runner]["content"]
    assert cron.inputs["readOnly"] is True and cron.inputs["capabilities"] == {"drops": ["ALL"]}


def test_a_workload_is_placed_once_and_never_after_the_placement_finished() -> None:
    import pulumi
    import pytest

    from components.platform.docker import DockerPlatform
    from components.workload import WorkloadError
    from tests.components.platform.doubles import store

    errors: list[str] = []

    def program() -> dict[str, Any]:
        placement = DockerPlatform("p", docker_args("t")).placement
        holder = pulumi.ComponentResource("prodstack:test:Doubles", "doubles", None)
        placement.place(store(protect=False, with_job=False), parent=holder)
        for late in (False, True):
            if late:
                placement.finish()
            with pytest.raises(WorkloadError) as error:
                placement.place(store(protect=False, with_job=False), parent=holder)
            errors.append(str(error.value))
        return {}

    render("t", program=program)
    assert errors == [
        "workload store: placed twice",
        "workload store: placed after the placement finished",
    ]


def test_a_cloud_role_by_web_identity_is_refused_not_dropped() -> None:
    """Every container on a Docker host shares the host's identity: a workload that asks for
    one of its own (Workload.cloud_role) must not run with the host's instead."""
    import pulumi
    import pytest

    from components.platform.docker import DockerPlatform
    from components.workload import WorkloadError
    from tests.components.platform.doubles import store

    errors: list[str] = []

    def program() -> dict[str, Any]:
        placement = DockerPlatform("p", docker_args("t")).placement
        holder = pulumi.ComponentResource("prodstack:test:Doubles", "doubles", None)
        role = "arn:aws:iam::123456789012:role/backups"
        placement.place(replace(store(False, False), cloud_role=role), parent=holder)
        with pytest.raises(WorkloadError) as error:
            placement.finish()
        errors.append(str(error.value))
        return {}

    render("t", program=program)
    assert errors == [
        "workload store: a cloud role by web identity needs per-workload identities "
        "(Kubernetes); on Docker give the credentials"
    ]


def test_a_forward_reference_is_checked_against_the_workload_finally_placed() -> None:
    """A reference made before its workload is placed (the edge routing to Grafana) names a
    workload that must be placed, with the ports its main container serves."""
    import pulumi
    import pytest

    from components.platform.docker import DockerPlatform
    from components.workload import WorkloadError
    from tests.components.platform.doubles import store

    refused: list[str] = []

    def program() -> dict[str, Any]:
        for i, reserved in enumerate(({"db": 5432}, {"db": 5433}, {"metrics": 9187}, None)):
            placement = DockerPlatform(f"p{i}", docker_args(f"t{i}"))
            holder = pulumi.ComponentResource("prodstack:test:Doubles", f"d{i}", None)
            if reserved is None:
                placement.placement.reference("ghost", {"web": 3000})
            else:
                placement.placement.reference("store", reserved)
            placement.placement.place(store(protect=False, with_job=False), parent=holder)
            if reserved == {"db": 5432}:
                placement.placement.finish()  # as placed: accepted
                continue
            with pytest.raises(WorkloadError) as error:
                placement.placement.finish()
            refused.append(str(error.value))
        return {}

    render("t", program=program)
    assert refused == [
        "workload store was referred to with ports {'db': 5433}, which its main container "
        "does not serve (it serves {'db': 5432})",
        # A sidecar's port is not on the main container's host.
        "workload store was referred to with ports {'metrics': 9187}, which its main "
        "container does not serve (it serves {'db': 5432})",
        "workload ghost was referred to but never placed (placed: store)",
    ]


def test_docker_refuses_a_managed_certificate_naming_the_setting() -> None:
    """What Docker cannot do is refused at render time, with the key that asked for it
    (the settings loader refuses the combination first; this is the placement's own word)."""
    import pulumi
    import pytest

    from components.platform.docker import DockerPlatform
    from components.platform.placement import ManagedCertificate
    from components.workload import WorkloadError

    refused: list[str] = []

    def program() -> dict[str, Any]:
        placement = DockerPlatform("p", docker_args("t")).placement
        holder = pulumi.ComponentResource("prodstack:test:Doubles", "doubles", None)
        with pytest.raises(WorkloadError) as error:
            placement.managed_certificate(
                ManagedCertificate(
                    "edge-tls", "example.com", "letsencrypt", {}, holder, "edge.certificate.source"
                )
            )
        refused.append(str(error.value))
        return {}

    render("t", program=program)
    assert refused == [
        "edge.certificate.source: cert-manager keeps certificates on Kubernetes only; on the "
        "docker platform use self-signed or supplied"
    ]


def test_certificates_inside_the_stack_name_the_hosts_clients_use() -> None:
    """A server's certificate carries the name its clients reach it by on this platform."""
    from components.platform.docker import DockerPlatform

    issued: list[Any] = []

    def program() -> dict[str, Any]:
        placement = DockerPlatform("p", docker_args("t")).placement
        issued.append(placement.certificate("store", "server"))
        issued.append(placement.certificate("app", "client"))
        return {}

    recording = render("t", program=program)
    server, client = issued
    assert (server.cert_file, server.ca_file) == (
        f"{SECRETS_DIR}/internal-tls.crt",
        f"{CONFIG_DIR}/internal-ca.crt",
    )
    request = one(recording, "tls:index/certRequest:CertRequest", "internal-tls-store-csr")
    assert request.inputs["dnsNames"] == ["localhost", "store"]
    # A client gets the CA alone, as a config file.
    assert (client.cert_file, [f.name for f in client.config_files]) == ("", ["internal-ca.crt"])


def test_a_stateless_workload_surges_under_names_of_its_release(docker_stack: Recording) -> None:
    """The app (no volumes, no host ports): every engine name of a replica carries its
    release, and the engine is asked to create the replacement first, so a changed app is
    created beside the old one and the old one deleted after (rollout.py)."""
    app = one(docker_stack, CONTAINER, "t-app-0")
    release = app.inputs["name"].removeprefix("t-app-0-")
    assert len(release) == 10 and int(release, 16) >= 0
    carrier = one(docker_stack, CONTAINER, "t-app-app-files")
    volume = one(docker_stack, "docker:index/volume:Volume", "t-app-app-files")
    for resource in (app, carrier, volume):
        assert resource.inputs["name"].endswith(f"-{release}"), resource.name
        assert resource.delete_before_replace is False, resource.name


def test_a_release_is_a_digest_of_what_the_replica_runs() -> None:
    def app_name(recording: Recording) -> str:
        return str(one(recording, CONTAINER, "t-app-0").inputs["name"])

    again = render("t", program=on_docker)
    changed = render("t", program=lambda: on_docker(edits={"app": {"image": "app:2"}}))
    assert app_name(again) == app_name(render("t", program=on_docker))
    assert app_name(changed) != app_name(again)


def test_a_workload_with_data_or_host_ports_is_recreated_under_fixed_names(
    docker_stack: Recording,
) -> None:
    """Two servers on one data directory would corrupt it, and a host port is bound once:
    the store and the public workload keep their names and are deleted first."""
    for name in ("t-store-0", "t-front-0", "t-store-store-files"):
        resource = one(docker_stack, CONTAINER, name)
        assert resource.inputs["name"] == name
        assert resource.delete_before_replace is True, name


def test_containers_are_stopped_with_their_grace_before_removal(docker_stack: Recording) -> None:
    """Without destroyGraceSeconds the provider stops a removed container with a timeout of
    0, a SIGKILL, and in-flight requests die with it."""
    for name, spec in containers(docker_stack).items():
        if spec.get("attach"):
            continue  # a release task runs to its end
        assert spec["destroyGraceSeconds"] == spec["stopTimeout"] > 0, name


def test_a_changed_healthcheck_or_tmpfs_replaces_the_container() -> None:
    """The provider neither replaces nor updates a container for these; a label digesting
    them (labels force a replacement) makes the change arrive."""

    def digest(recording: Recording) -> str:
        return labels(one(recording, CONTAINER, "t-store-0").inputs)[UNAPPLIED_FIELDS_LABEL]

    base = digest(render("t", program=on_docker))
    faster = Checks(
        startup=CHECKS.startup,
        readiness=Probe(("check",), period_seconds=3),
        liveness=CHECKS.liveness,
    )
    for edit in ({"checks": faster}, {"tmpfs": ("/tmp", "/run")}):
        edits = {"store": edit}
        assert digest(render("t", program=lambda e=edits: on_docker(edits=e))) != base
