"""Generated and user-supplied secrets: strong, rotatable, secret outputs, files only."""

from __future__ import annotations

import json

from components.secrets import Secrets, SecretsArgs
from components.secrets.settings import SecretsSettings
from components.workload import SECRETS_DIR
from infra.render.mock_runtime import Recording
from policies.view import DOCKER_CONTAINER
from tests.support import PROD, one, render, uploads_of

PASSWORD = "random:index/randomPassword:RandomPassword"


def by_name(recording: Recording) -> dict[str, dict[str, object]]:
    return {r.name: r.inputs for r in recording.resources if r.type.startswith("random:")}


def test_generated_secrets_are_strong() -> None:
    generated = by_name(render("dev", {}))
    assert generated["secrets-database-password"]["length"] >= 32
    assert generated["secrets-redis-password"]["length"] >= 32
    # RandomBytes length is bytes: 48 bytes = 384 bits, above the 256 the seed plans ask.
    assert int(str(generated["secrets-signing-key"]["length"])) * 8 > 256


def secrets_program() -> dict[str, object]:
    settings = SecretsSettings.model_validate(
        {
            "rotation": "1",
            "rotate": {},
            "rollover": {},
            "retireAfterIdleSeconds": 60,
            "fromConfig": ["token"],
        }
    )
    secrets = Secrets("secrets", SecretsArgs(settings, {"token": "plain-user-value-123"}))
    return {
        "database": secrets["databasePassword"],
        "redis": secrets["redisPassword"],
        "signing": secrets["signingKey"],
        "user": secrets.user_supplied["token"],
        "files": [f.content for f in secrets.api_files()],
    }


def test_every_output_is_secret() -> None:
    recording = render("dev", {}, program=secrets_program)
    assert recording.outputs == {
        "database": "[secret]",
        "redis": "[secret]",
        "signing": "[secret]",
        "user": "[secret]",
        "files": ["[secret]", "[secret]"],
    }
    component = one(recording, "prodstack:index:Secrets", "secrets")
    generated = [r for r in recording.resources if r.type.startswith("random:")]
    # Eight secrets; the two app credentials have a second login each.
    assert len(generated) == 10
    assert all(r.parent == component.urn for r in generated)


def test_rotation_key_changes_every_keeper_but_the_backup_passphrase() -> None:
    before = by_name(render("dev", {}))
    after = by_name(render("dev", {"secrets": {"rotation": "2026-11-breach"}}))
    changed = {name for name in before if before[name]["keepers"] != after[name]["keepers"]}
    assert changed == set(before) - {"secrets-backup-cipher-pass"}
    assert len(changed) == 9


def test_one_secret_rotates_alone() -> None:
    before = by_name(render("dev", {}))
    after = by_name(render("dev", {"secrets": {"rotate": {"redisPassword": "2"}}}))
    assert before["secrets-redis-password"]["keepers"] != after["secrets-redis-password"]["keepers"]
    assert before["secrets-database-password"] == after["secrets-database-password"]


def test_user_supplied_secrets_reach_the_api_as_files_only() -> None:
    """Read unredacted, as the engine would send them: the value is in the API's secret
    files and nowhere in any container's environment, on either platform."""
    value = "sk_live_user_supplied_0123456789"
    for stack, base in (("prod", PROD), ("dev", {})):
        recording = render(
            stack,
            {**base, "secrets": {"fromConfig": ["stripeApiKey"]}},
            secrets={"stripeApiKey": value},
        )
        environments = [
            json.dumps(
                [
                    [c.get("env"), c.get("envFrom")]
                    for c in r.unredacted["spec"]["template"]["spec"]["containers"]
                ]
            )
            if r.type.startswith("kubernetes:apps/v1:")
            else json.dumps(r.unredacted.get("envs"))
            for r in recording.resources
            if r.type.startswith("kubernetes:apps/v1:") or r.type == DOCKER_CONTAINER
        ]
        assert environments and not [e for e in environments if value in e], stack
        assert not [e for e in environments if "secretKeyRef" in e or "secretRef" in e], stack
        if stack == "prod":
            secret = one(recording, "kubernetes:core/v1:Secret", "api-api-secrets")
            assert secret.unredacted["stringData"]["stripe-api-key"] == value
            assert secret.inputs["stringData"]["stripe-api-key"] == "[secret]"
        else:
            files = uploads_of(recording, "prodstack-dev-api-0")
            assert files[f"{SECRETS_DIR}/stripe-api-key"]["content"] == value
        dumped = str([r.inputs for r in recording.resources]) + str(recording.outputs)
        assert value not in dumped  # redacted wherever the engine would show it
