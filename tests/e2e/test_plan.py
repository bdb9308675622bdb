"""The engine's plan of representative changes to the dev stack (tests/e2e/plan.py), pinned:
what `pulumi up` would replace, in which order, and what it leaves running. Under mocks
only: no engine needed."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from infra.program import main as program_main
from infra.render.mock_runtime import MockRun
from infra.render.stack_config import load_stack_config
from tests.e2e.engine import RenderedStack
from tests.e2e.plan import Plan, Resource, plan
from tests.e2e.stack import change_settings
from tests.support import ROOT

P = "prodstack-dev"


def rendered(settings: dict[str, dict[str, Any]] | None = None) -> RenderedStack:
    config = load_stack_config(ROOT, "dev")
    change_settings(config, settings or {})
    return RenderedStack.of(MockRun(config).run(program_main))


@pytest.fixture(scope="module")
def before() -> RenderedStack:
    return rendered()


def planned(before: RenderedStack, settings: dict[str, dict[str, Any]]) -> Plan:
    return plan(before.resources.values(), rendered(settings).resources.values())


def changed_names(update: Plan) -> set[str]:
    return {s.resource.name for s in update.changes}


def test_the_same_stack_plans_nothing(before: RenderedStack) -> None:
    update = plan(before.resources.values(), rendered().resources.values())
    assert update.changes == [] and update.deletes == []
    assert update.render().endswith("Resources: no changes")


def test_an_api_release_creates_the_new_replica_before_deleting_the_old(
    before: RenderedStack,
) -> None:
    """Surge (components/platform/docker/rollout.py): everything of the API's replica is
    named by its release, so the engine creates it all anew, and deletes the old replica
    only after every create, while the edge and the data stores are not touched."""
    update = planned(before, {"api": {"env": {"LOG_LEVEL": "info"}}})
    api = update.step(f"{P}-api-0")
    assert api is not None and api.op == "replace" and not api.delete_first
    assert "envs" in api.keys and "name" in api.keys
    # The replica, and its files under its release's names (a volume and its carrier).
    assert changed_names(update) == {f"{P}-api-0", f"{P}-api-api-files"}
    assert {s.resource.type.rsplit(":", 1)[1] for s in update.changes} == {"Container", "Volume"}
    assert update.deleted(f"{P}-api-0")  # the old one, after every create
    assert not update.deleted_first
    assert update.step(f"{P}-edge-0") is None and update.step(f"{P}-postgres-0") is None


def test_an_edge_rate_limit_reaches_the_running_edge_without_replacing_it(
    before: RenderedStack,
) -> None:
    """The edge reloads a changed nginx.conf (Container.reloads_files): only its files
    carrier is replaced, in place (a fixed name: deleted first), and the edge keeps its
    published ports and connections."""
    update = planned(before, {"edge": {"rateLimits": {"api": {"rate": 20}}}})
    assert changed_names(update) == {f"{P}-edge-edge-files"}
    carrier = update.step(f"{P}-edge-edge-files")
    assert carrier is not None and carrier.op == "replace" and carrier.delete_first
    assert carrier.keys == ("uploads",)
    # Deleting the carrier first takes nothing with it: the edge reads the volume, not the
    # carrier's ID.
    assert [r.name for r in update.deleted_first[carrier.resource.urn]] == [carrier.resource.name]


def renewed(stack: RenderedStack, name: str) -> RenderedStack:
    """The state as `pulumi refresh` leaves it when a certificate entered its early-renewal
    window: pulumi-tls marks it ready for renewal, and plans its replacement."""
    old = stack.named(name)
    inputs = {**old.inputs, "readyForRenewal": True}
    resources = dict(stack.resources)
    resources[old.urn] = dataclasses.replace(old, inputs=inputs)
    return RenderedStack(resources)


def test_a_renewed_edge_certificate_reaches_the_edge_by_a_reload(before: RenderedStack) -> None:
    update = plan(
        renewed(before, "edge-tls-cert").resources.values(), rendered().resources.values()
    )
    cert = update.step("edge-tls-cert")
    assert cert is not None and cert.op == "replace" and not cert.delete_first
    assert update.step(f"{P}-edge-edge-files") is not None  # the new certificate's files
    assert update.step(f"{P}-edge-0") is None  # the edge reloads them


def test_a_postgres_start_setting_recreates_postgres_on_its_volume(
    before: RenderedStack,
) -> None:
    """Postgres has data: recreated under its fixed name (deleted first; its files label
    digests what of postgresql.conf it reads at start), never beside a second server on the
    same data volume."""
    update = planned(before, {"postgres": {"maxConnections": 150}})
    server = update.step(f"{P}-postgres-0")
    assert server is not None and server.op == "replace" and server.delete_first
    assert "labels" in server.keys
    carrier = update.step(f"{P}-postgres-postgres-files")
    assert carrier is not None and carrier.delete_first
    assert update.step(f"{P}-postgres-data") is None  # the data volume stays


def test_a_reloadable_postgres_setting_reaches_it_in_place(before: RenderedStack) -> None:
    """A setting a reload applies (the slow-query threshold): the files carriers are
    replaced and the server stays; its backup agent has it reload (ServerFileWatch)."""
    update = planned(before, {"postgres": {"slowQueryMs": 250}})
    assert update.step(f"{P}-postgres-0") is None
    assert update.step(f"{P}-postgres-postgres-files") is not None


def test_a_rollover_changes_the_passwords_in_place_and_releases_the_api(
    before: RenderedStack,
) -> None:
    """The data stores' carriers write the new passwords; neither the servers (what they
    read only at start is unchanged) nor their logins keepers (which read their files every
    second) are replaced; the API surges to a release with the new login."""
    update = planned(before, {"secrets": {"rollover": {"databasePassword": 1, "redisPassword": 1}}})
    for store in ("postgres", "redis"):
        assert update.step(f"{P}-{store}-0") is None, store
        assert update.step(f"{P}-{store}-{store}-files") is not None, store
        assert update.step(f"{P}-{store}-logins-files") is not None, store
        assert update.step(f"{P}-{store}-logins-0") is None, store
    api = update.step(f"{P}-api-0")
    assert api is not None and api.op == "replace" and not api.delete_first


def test_a_change_the_provider_would_not_apply_replaces_the_container(
    before: RenderedStack,
) -> None:
    """A healthcheck change alone would be recorded and never applied; the stack's label of
    those fields makes it a replacement."""
    update = planned(before, {"api": {"healthCommand": ["api-healthcheck", "--quiet"]}})
    api = update.step(f"{P}-api-0")
    assert api is not None and api.op == "replace"
    assert not api.unapplied


def test_the_plan_names_what_the_provider_only_records() -> None:
    old = Resource("urn:c", "docker:index/container:Container", "c", True, {"tmpfs": {"/a": ""}})
    new = dataclasses.replace(old, inputs={"tmpfs": {"/b": ""}})
    (step,) = plan([old], [new]).changes
    assert step.op == "update" and step.unapplied == ("tmpfs",)
    assert "recorded, never applied: tmpfs" in plan([old], [new]).render()


def test_a_new_edge_image_recreates_the_edge_under_its_fixed_names(
    before: RenderedStack,
) -> None:
    """The edge publishes host ports, which a second edge could not bind: recreated, each
    container deleted before its successor is created; its volumes stay."""
    update = planned(before, {"edge": {"image": "registry.example/nginx:1.28.1"}})
    for name in (f"{P}-edge-0", f"{P}-edge-exporter-0"):
        step = update.step(name)
        assert step is not None and step.op == "replace" and step.delete_first, name
    assert not [s for s in update.changes if s.resource.type.endswith("volume:Volume")]


@pytest.mark.parametrize(
    "change",
    [
        {"redis": {"image": "redis:7.2.12-bookworm"}},
        {"postgres": {"buildBase": "postgres:17.7-bookworm"}},
    ],
    ids=["redis", "postgres"],
)
def test_a_data_store_upgrade_keeps_its_data_volume(
    before: RenderedStack, change: dict[str, dict[str, Any]]
) -> None:
    """A volume's labels force its replacement; a version among them would delete a
    database's data on every image upgrade."""
    update = planned(before, change)
    assert update.changes, "the change changed nothing"
    data = {r.name for r in before.resources.values() if r.name.endswith("-data")}
    assert data and not {s.resource.name for s in update.changes} & data
    assert not any(update.deleted(name) for name in data)
