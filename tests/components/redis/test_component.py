"""The Redis component on both platforms, under Pulumi mocks."""

from __future__ import annotations

from infra.render.mock_runtime import Recording
from tests.support import one, render


def test_prod_persistence_is_protected(prod: Recording) -> None:
    statefulset = one(prod, "kubernetes:apps/v1:StatefulSet", "redis")
    assert statefulset.protect and statefulset.retain_on_delete
    pod = statefulset.inputs["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["containers"]] == ["redis", "exporter", "logins"]
    # Prod speaks TLS only: the watcher has redis-server read a renewed certificate again.
    command = pod["containers"][0]["command"]
    assert command[:2] == ["sh", "/run/prodstack/config/watch.sh"]
    reload = command[command.index("--reload") + 1]
    assert "CONFIG SET tls-cert-file /run/prodstack/internal-tls/tls.crt" in reload
    assert command[command.index("--watch") :] == [
        *("--watch", "/run/prodstack/internal-tls/tls.crt"),
        *("--watch", "/run/prodstack/internal-tls/tls.key"),
        *("--watch", "/run/prodstack/internal-tls/ca.crt"),
        *("--", "redis-server", "/run/prodstack/config/redis.conf"),
    ]


def test_acl_and_exporter_password_are_secret_files(prod: Recording) -> None:
    secret = one(prod, "kubernetes:core/v1:Secret", "redis-redis-secrets").inputs
    # The admin's password: the watcher tells Redis to reload its certificate with it.
    assert set(secret["stringData"]) == {"users.acl", "redis-admin-password"}
    exporter = one(prod, "kubernetes:core/v1:Secret", "redis-exporter-secrets").inputs
    assert set(exporter["stringData"]) == {"redis-exporter-passwords.json"}
    config = one(prod, "kubernetes:core/v1:ConfigMap", "redis-redis-config").inputs["data"]
    assert "aclfile /run/prodstack/secrets/users.acl" in config["redis.conf"]


def test_ephemeral_redis_is_not_protected() -> None:
    recording = render("pr-4", {"environment": "ephemeral"})
    volume = one(recording, "docker:index/volume:Volume", "prodstack-pr-4-redis-data")
    assert not volume.protect and not volume.retain_on_delete


def test_reachable_only_from_api_and_prometheus(prod: Recording) -> None:
    policy = one(prod, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "redis").inputs["spec"]
    reaches = {
        rule["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"]: [
            p["port"] for p in rule["ports"]
        ]
        for rule in policy["ingress"]
    }
    assert reaches == {"api": [6379], "prometheus": [9121]}


def test_exporter_password_file_serves_exporters_before_and_after_1_69() -> None:
    import json

    from components.redis.component import exporter_password_map

    keys = json.loads(exporter_password_map("pw"))
    # The socket's address without and with the user (what 1.69 looks up: tried on the
    # image's exporter, it reads redis_up 0 with the first key alone).
    assert keys == {
        "unix:///run/redis/redis.sock": "pw",
        "unix://exporter@/run/redis/redis.sock": "pw",
    }
