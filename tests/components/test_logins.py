"""An app credential's two logins (components/logins.py): which slot a generation takes, and
what a rollover changes in the rendered prod stack."""

from __future__ import annotations

import json

from components.logins import slot_generations
from components.platform.kubernetes import FILES_DIGEST_ANNOTATION
from infra.render.mock_runtime import Recording
from tests.support import PROD, one, render

STATEFULSET = "kubernetes:apps/v1:StatefulSet"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
ROLLOVER = {"secrets": {"rollover": {"databasePassword": 1, "redisPassword": 1}}}


def test_each_generation_regenerates_only_the_slot_the_last_one_left_idle() -> None:
    previous = slot_generations(0)
    for generation in range(1, 6):
        now = slot_generations(generation)
        changed = {slot for slot in now if now[slot] != previous[slot]}
        assert changed == {"a" if generation % 2 == 0 else "b"}, generation
        previous = now


def pod_digest(recording: Recording, kind: str, name: str) -> str:
    template = one(recording, kind, name).inputs["spec"]["template"]
    return str(template["metadata"]["annotations"][FILES_DIGEST_ANNOTATION])


def api_users(recording: Recording) -> dict[str, str | None]:
    config = one(recording, CONFIG_MAP, "api-api-config").inputs["data"]["api.json"]
    return {d["name"]: d["user"] for d in json.loads(config)["dependencies"]}


def test_a_rollover_rolls_the_api_onto_the_other_logins_and_not_the_data_stores() -> None:
    before, after = render("prod", PROD), render("prod", {**PROD, **ROLLOVER})
    for store in ("postgres", "redis"):
        assert pod_digest(after, STATEFULSET, store) == pod_digest(before, STATEFULSET, store)
    assert pod_digest(after, DEPLOYMENT, "api") != pod_digest(before, DEPLOYMENT, "api")
    assert api_users(before) == {"postgres": "app", "redis": "app"}
    assert api_users(after) == {"postgres": "app_b", "redis": "app_b"}
    keeper = one(after, CONFIG_MAP, "postgres-logins-config").inputs["data"]["logins.conf"]
    assert keeper.splitlines()[:2] == ["active app_b", "retiring app"]
