"""The Postgres component on both platforms, under Pulumi mocks."""

from __future__ import annotations

import configparser
import json

from infra.render.mock_runtime import Recording
from tests.support import one, render, uploads_of

STATEFULSET = "kubernetes:apps/v1:StatefulSet"
CONTAINER = "docker:index/container:Container"


def test_server_agent_exporter_and_logins_keeper_share_one_pod(prod: Recording) -> None:
    pod = one(prod, STATEFULSET, "postgres").inputs["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["containers"]] == [
        "postgres",
        "backup-agent",
        "exporter",
        "logins",
    ]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["socket"]["emptyDir"]["medium"] == "Memory"
    for name in ("postgres", "backup-agent"):
        container = next(c for c in pod["containers"] if c["name"] == name)
        assert {m["name"] for m in container["volumeMounts"]} >= {"data", "socket"}
        assert container["securityContext"]["runAsUser"] == 999


def test_prod_data_is_protected_and_backed_up_off_site(prod: Recording) -> None:
    statefulset = one(prod, STATEFULSET, "postgres")
    assert statefulset.protect and statefulset.retain_on_delete
    claims = statefulset.inputs["spec"]["volumeClaimTemplates"]
    assert [c["metadata"]["name"] for c in claims] == ["data"]  # the repository is in S3
    config = one(prod, "kubernetes:core/v1:ConfigMap", "postgres-postgres-config").inputs["data"]
    backrest = configparser.ConfigParser()
    backrest.read_string(config["pgbackrest.conf"])
    assert backrest["global"]["repo1-type"] == "s3"
    assert backrest["global"]["repo1-cipher-type"] == "aes-256-cbc"
    assert "cipher-pass" not in config["pgbackrest.conf"]


def test_prod_backups_write_with_the_databases_own_role_not_the_nodes(prod: Recording) -> None:
    config = one(prod, "kubernetes:core/v1:ConfigMap", "postgres-postgres-config").inputs["data"]
    backrest = configparser.ConfigParser()
    backrest.read_string(config["pgbackrest.conf"])
    assert backrest["global"]["repo1-s3-key-type"] == "web-id"
    account = one(prod, "kubernetes:core/v1:ServiceAccount", "postgres").inputs
    assert account["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/prodstack-backups"
    }
    # No other workload takes on a role, and nothing may ask the metadata service.
    others = [a for a in prod.of_type("kubernetes:core/v1:ServiceAccount") if a.name != "postgres"]
    assert all(not a.inputs["metadata"].get("annotations") for a in others)
    egress = json.dumps(
        [
            p.inputs["spec"].get("egress")
            for p in prod.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
        ]
    )
    assert "169.254.169.254" not in egress


def test_ephemeral_stacks_protect_nothing() -> None:
    recording = render("pr-3", {"environment": "ephemeral"})
    volumes = recording.of_type("docker:index/volume:Volume")
    assert {v.name for v in volumes} >= {
        "prodstack-pr-3-postgres-data",
        "prodstack-pr-3-postgres-backups",
    }
    assert not any(r.protect or r.retain_on_delete for r in recording.resources)


def test_dev_keeps_the_repository_on_its_own_volume(dev: Recording) -> None:
    server = one(dev, CONTAINER, "prodstack-dev-postgres-0").inputs
    targets = {m["source"]: m["target"] for m in server["mounts"]}
    assert targets["prodstack-dev-postgres-data"] == "/var/lib/postgresql/data"
    assert targets["prodstack-dev-postgres-backups"] == "/var/lib/pgbackrest"
    socket = one(dev, "docker:index/volume:Volume", "prodstack-dev-postgres-socket-0").inputs
    assert socket["driverOpts"]["type"] == "tmpfs"


def test_credentials_reach_containers_only_as_files(prod: Recording) -> None:
    secret = one(prod, "kubernetes:core/v1:Secret", "postgres-postgres-secrets").inputs
    assert set(secret["stringData"]) == {
        "login-app",
        "login-app_b",
        "postgres-monitor-password",
        "pgbackrest-secrets.conf",
    }
    pod = one(prod, STATEFULSET, "postgres").inputs["spec"]["template"]["spec"]
    exporter = next(c for c in pod["containers"] if c["name"] == "exporter")
    env = {e["name"]: e["value"] for e in exporter["env"]}
    assert env["DATA_SOURCE_PASS_FILE"] == "/run/prodstack/secrets/postgres-monitor-password"
    assert not any(value in prod.secret_values for value in env.values())


def test_only_the_api_and_prometheus_reach_it(prod: Recording) -> None:
    policy = one(prod, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "postgres").inputs["spec"]
    reaches = {
        rule["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"]: sorted(
            p["port"] for p in rule["ports"]
        )
        for rule in policy["ingress"]
    }
    # Prometheus scrapes the exporter and the agent but cannot open the database port.
    assert reaches == {"api": [5432], "prometheus": [9187, 9854]}
    service = one(prod, "kubernetes:core/v1:Service", "postgres").inputs["spec"]
    assert service["type"] == "ClusterIP"
    api = one(prod, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "api").inputs["spec"]
    assert {
        r["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for r in api["egress"]
    } == {"postgres", "redis"}


def test_on_docker_it_lives_on_its_own_internal_network_only(dev: Recording) -> None:
    server = one(dev, CONTAINER, "prodstack-dev-postgres-0").inputs
    assert [n["name"] for n in server["networksAdvanced"]] == ["prodstack-dev-postgres"]
    assert "ports" not in server
    # The agent and the exporter are on networks of their own, which Prometheus joins: it
    # never shares one with the database port.
    agent = one(dev, CONTAINER, "prodstack-dev-postgres-backup-agent-0").inputs
    assert [n["name"] for n in agent["networksAdvanced"]] == ["prodstack-dev-postgres-backup-agent"]
    prometheus = one(dev, CONTAINER, "prodstack-dev-prometheus-0").inputs
    assert "prodstack-dev-postgres" not in {n["name"] for n in prometheus["networksAdvanced"]}
    assert agent["command"][:2] == ["--full", "0 1 * * 0"]


def test_the_api_is_told_where_the_database_is(dev: Recording) -> None:
    files = uploads_of(dev, "prodstack-dev-api-0")
    config = json.loads(files["/run/prodstack/config/api.json"]["content"])
    postgres = next(d for d in config["dependencies"] if d["kind"] == "postgres")
    assert (postgres["host"], postgres["port"], postgres["database"], postgres["user"]) == (
        "postgres",
        5432,
        "app",
        "app",
    )
    assert postgres["secret_files"] == {"password": "/run/prodstack/secrets/postgres-password"}
    assert "/run/prodstack/secrets/postgres-password" in files


def test_connection_strings_are_secret_outputs(dev: Recording) -> None:
    assert dev.outputs["databaseUrl"] == "[secret]"
    assert dev.outputs["redisUrl"] == "[secret]"
    assert dev.outputs["postgresEndpoint"] == "postgres:5432"
    assert dev.outputs["redisEndpoint"] == "redis:6379"


def test_the_backup_agent_and_the_drill_have_the_files_a_throwaway_server_needs(
    dev: Recording,
) -> None:
    """The drill and a point-in-time restore start a server with postgresql.conf, which
    names pg_hba.conf: without it the restored server refuses to start."""
    for container in ("backup-agent", "drill-cron"):
        files = uploads_of(dev, f"prodstack-dev-postgres-{container}-0")
        assert "/run/prodstack/config/pg_hba.conf" in files
        assert (
            "hba_file = '/run/prodstack/config/pg_hba.conf'"
            in (files["/run/prodstack/config/postgresql.conf"]["content"])
        )


def test_the_drill_restores_into_a_volume_of_its_own(dev: Recording, prod: Recording) -> None:
    """Not into the database's pod: the old render restored into an emptyDir of the
    Postgres pod (sizeLimit 100Gi, no ephemeral-storage request), so a drill could fill the
    node's disk and get the database evicted."""
    statefulset = one(prod, STATEFULSET, "postgres").inputs["spec"]["template"]["spec"]
    assert "drill" not in {v["name"] for v in statefulset["volumes"]}
    for container in statefulset["containers"]:
        requested = container["resources"]["requests"]["ephemeral-storage"]
        assert requested.endswith(("Mi", "Gi")), container["name"]
    cron = one(prod, "kubernetes:batch/v1:CronJob", "postgres-drill").inputs["spec"]
    pod = cron["jobTemplate"]["spec"]["template"]
    assert pod["metadata"]["labels"]["prodstack.dev/task"] == "drill"
    (scratch,) = [v for v in pod["spec"]["volumes"] if v["name"] == "drill"]
    # Its throwaway server listens on a socket alone: it never holds the server's key.
    secrets = [v["secret"]["secretName"] for v in pod["spec"]["volumes"] if "secret" in v]
    assert "postgres-internal-tls" not in secrets, secrets
    claim = scratch["ephemeral"]["volumeClaimTemplate"]["spec"]
    assert claim["resources"]["requests"] == {"storage": "20Gi"}  # postgres.storageGib
    assert claim["storageClassName"] == "expandable-ssd"
    away = pod["spec"]["affinity"]["podAntiAffinity"][
        "preferredDuringSchedulingIgnoredDuringExecution"
    ][0]["podAffinityTerm"]
    assert away["topologyKey"] == "kubernetes.io/hostname"
    assert away["labelSelector"]["matchLabels"]["app.kubernetes.io/name"] == "postgres"
    # On Docker: a named volume of the drill's own, which the server never mounts.
    drill = one(dev, CONTAINER, "prodstack-dev-postgres-drill-cron-0").inputs
    server = one(dev, CONTAINER, "prodstack-dev-postgres-0").inputs
    drill_volumes = {m["source"]: m["target"] for m in drill["mounts"] if m["type"] == "volume"}
    assert drill_volumes["prodstack-dev-postgres-drill-0"] == "/var/lib/postgresql/scratch"
    assert "prodstack-dev-postgres-drill-0" not in {m["source"] for m in server["mounts"]}
    assert "prodstack-dev-postgres-data" not in drill_volumes


def test_a_reloadable_setting_does_not_restart_the_database_and_a_start_setting_does() -> None:
    """The old render rolled the only Postgres pod for any change of postgresql.conf."""
    from tests.support import PROD

    def digest(**postgres: object) -> str:
        values = {**PROD, "postgres": {**PROD["postgres"], **postgres}}
        template = one(render("prod", values), STATEFULSET, "postgres").inputs["spec"]["template"]
        return str(template["metadata"]["annotations"]["prodstack.dev/files-sha256"])

    base = digest()
    assert digest(slowQueryMs=750) == base  # log_min_duration_statement: a reload
    assert digest(maxConnections=150) != base  # max_connections: a restart
