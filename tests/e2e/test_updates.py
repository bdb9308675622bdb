"""Day 2 on the running stack: releases, a rollback, edge changes and a missing upstream,
each applied as `pulumi up` would apply it (the engine's plan, tests/e2e/plan.py) under
steady traffic through the edge (infra/ops/traffic.py), every request counted. Runs after
the suite's other tests on the same stack: it changes it."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from typing import Any

import docker
import pytest

from infra.ops.traffic import asset_paths
from tests.components.edge.server import assert_security_headers
from tests.e2e.browser import chromium
from tests.e2e.procedures import https
from tests.e2e.releases import (
    RATE,
    ROLLOVER,
    edge_reloaded,
    gone,
    new_frontend_release,
    retag,
    seconds_until_applied,
    seconds_until_revoked,
    update_under_traffic,
    wait_healthy,
)
from tests.e2e.stack import RETIRE_AFTER_IDLE_SECONDS, RunningStack

# In the open tab: each file it loaded, fetched again past the browser's cache, and a
# client route followed (the app fetches its item from the API); their statuses.
PAGE_CHECK = """
(async () => {
  const statuses = [];
  for (const url of ASSETS) {
    statuses.push((await fetch(url, {cache: "no-store"})).status);
  }
  const link = document.querySelector('a[data-route][href^="/items/"]')
    || document.querySelector('a[data-route][href="/items"]');
  link.click();
  await new Promise((done) => setTimeout(done, 300));
  statuses.push(document.querySelector(".error") ? 500 : 200);
  history.back();
  await new Promise((done) => setTimeout(done, 300));
  return statuses;
})()
"""
RELEASE_TAGS = ("-r1", "-r2", ":release-2", ":release-3")


def test_an_api_release_and_its_rollback_drop_no_request(stack: RunningStack) -> None:
    """A new image and env: the new replica is created (its names carry its release),
    passes its health check, and only then is the old one stopped with its grace and
    removed; the edge follows Docker's DNS. The rollback is the same path back."""
    first = retag(str(stack.outputs["apiImage"]), "r1")
    second = retag(str(stack.outputs["apiImage"]), "r2")
    stack.update({"api": {"image": first, "env": {"RELEASE": "1"}}})  # the release running
    old = stack.container("api")

    plan, report = update_under_traffic(
        stack, "API release", {"api": {"image": second, "env": {"RELEASE": "2"}}}
    )
    step = plan.step(f"{stack.prefix}-api-0")
    assert step is not None and step.op == "replace" and not step.delete_first
    assert plan.deleted(f"{stack.prefix}-api-0")  # the old replica, after every create
    assert report.failures == [], report.summary()
    assert len(report.outcomes) >= RATE * 5
    new = stack.container("api")
    assert gone(old) and new.attrs["Config"]["Image"] == second
    assert "RELEASE=2" in new.attrs["Config"]["Env"]

    plan, report = update_under_traffic(
        stack, "API rollback", {"api": {"image": first, "env": {"RELEASE": "1"}}}
    )
    assert report.failures == [], report.summary()
    assert stack.container("api").attrs["Config"]["Image"] == first


def test_a_credential_rollover_drops_no_request_and_retires_the_old_logins(
    stack: RunningStack,
) -> None:
    """Both app credentials rolled over at once: the data stores take the new passwords in
    place (the same containers serve on), the API's new release logs in with them while the
    old one still uses the old logins, and the keepers revoke those once nothing uses them."""
    servers = {name: stack.container(name) for name in ("postgres", "redis")}
    plan, report = update_under_traffic(stack, "credential rollover", ROLLOVER)
    assert report.failures == [], report.summary()
    for name, server in servers.items():
        unchanged = plan.step(f"{stack.prefix}-{name}-0")
        assert unchanged is None or unchanged.op == "same", name
        assert not gone(server) and server.attrs["RestartCount"] == 0, name
    step = plan.step(f"{stack.prefix}-api-0")
    assert step is not None and step.op == "replace" and not step.delete_first
    # The old API replica is gone: its logins fall idle and are revoked.
    revoked_after = seconds_until_revoked(stack, RETIRE_AFTER_IDLE_SECONDS + 20)
    print(f"  old logins revoked {revoked_after:.1f} s after the update ended")
    assert https(stack, "/api/notes", "POST", {"text": "after the rollover"}).status == 201


def test_a_reloadable_postgres_setting_is_applied_without_a_restart(
    stack: RunningStack,
) -> None:
    """The slow-query threshold: postgresql.conf is rewritten in place, the backup agent has
    the server reload it, and the same server serves on (the old render recreated it)."""
    server = stack.container("postgres")
    change = {"postgres": {"slowQueryMs": 250}}
    plan, report = update_under_traffic(stack, "Postgres reloadable setting", change)
    assert report.failures == [], report.summary()
    unchanged = plan.step(f"{stack.prefix}-postgres-0")
    assert unchanged is None or unchanged.op == "same"
    # The agent looks every 20 s; the carrier wrote the file before the update ended.
    applied = seconds_until_applied(stack, "log_min_duration_statement", "250ms", limit=60)
    print(f"  applied by a reload {applied:.1f} s after the update ended")
    server.reload()
    assert not gone(server) and server.attrs["RestartCount"] == 0


def test_a_frontend_release_drops_no_request_and_keeps_the_old_assets(
    stack: RunningStack,
) -> None:
    """Traffic keeps asking for the page and the assets it named before the release:
    served by the old replicas, by the new ones' neighbours on a 404, then from the
    edge's cache of them."""
    old_assets = asset_paths(stack.https_port, stack.ca_pem)
    image = stack.container("frontend").attrs["Config"]["Image"]
    plan, report = update_under_traffic(
        stack, "frontend release", {"frontend": {"image": new_frontend_release(image)}}
    )
    step = plan.step(f"{stack.prefix}-frontend-0")
    assert step is not None and step.op == "replace" and not step.delete_first
    assert report.failures == [], report.summary()
    new_assets = asset_paths(stack.https_port, stack.ca_pem)
    assert set(new_assets) != set(old_assets)
    for path in old_assets:  # no replica has the old script any more; the edge kept it
        reply = https(stack, path)
        assert reply.status == 200, path
        assert_security_headers(reply)


def test_a_tab_opened_before_a_frontend_release_keeps_working(stack: RunningStack) -> None:
    """Debian's Chromium, headless, through the edge: a page opened before the release
    keeps loading the files it names (without its HTTP cache) and following its client
    routes during and after the release; then a reload gets the new release. No failed
    load, no Content-Security-Policy violation, no error in its console."""
    with chromium(stack.https_port) as browser:
        browser.open(stack.url + "/items")
        old = sorted({u for u, _ in browser.seen.responses if "/assets/" in u})
        assert old and browser.wait_for("document.querySelectorAll('li').length") == 50
        image = stack.container("frontend").attrs["Config"]["Image"]
        release = new_frontend_release(image, "release-3")
        updating = threading.Thread(target=stack.update, args=({"frontend": {"image": release}},))
        statuses: list[int] = []
        check = PAGE_CHECK.replace("ASSETS", json.dumps(old))
        updating.start()
        while updating.is_alive():
            statuses += browser.evaluate(check)
            time.sleep(1)
        updating.join()
        statuses += browser.evaluate(check)  # after: the old release is gone
        assert statuses and set(statuses) == {200}, statuses
        browser.open(stack.url + "/")
        new = {u for u, _ in browser.seen.responses if "/assets/" in u} - set(old)
        assert new, "the reload did not load the new release's files"
        assert browser.seen.failed_loads == []
        assert [r for r in browser.seen.responses if r[1] >= 400] == []
        assert browser.seen.csp_violations == [] and browser.seen.errors == []


def test_an_edge_change_is_reloaded_without_dropping_a_connection(stack: RunningStack) -> None:
    """A rate limit: the edge's files are rewritten (its carrier replaced) and nginx
    reloads them; the edge container, its published ports and its connections stay."""
    edge = stack.container("edge")
    started = edge.attrs["State"]["StartedAt"]
    began = time.time()
    plan, report = update_under_traffic(
        stack, "edge change", {"edge": {"rateLimits": {"api": {"rate": 150}}}}
    )
    assert [s.resource.name for s in plan.changes] == [f"{stack.prefix}-edge-edge-files"]
    assert edge_reloaded(stack, 1) >= began  # the watcher's own line, on stderr
    conf = stack.exec("edge", "cat", "/run/prodstack/config/nginx.conf")
    assert "rate=150r/s" in conf
    edge.reload()
    assert edge.attrs["State"]["StartedAt"] == started and edge.attrs["RestartCount"] == 0
    assert report.failures == [], report.summary()


def test_the_edge_starts_and_answers_while_the_api_is_missing(stack: RunningStack) -> None:
    api, edge = stack.container("api"), stack.container("edge")
    api.stop(timeout=30)
    try:
        # For up to its resolver validity (1 s) the edge may still try the stopped API's
        # address, and give up after its connect timeout (504); then the name is gone: 502.
        time.sleep(2)
        reply = https(stack, "/api/items")
        assert reply.status == 502
        assert_security_headers(reply)
        edge.restart(timeout=30)  # a fresh start, the API still gone
        wait_healthy(edge)
        assert https(stack, "/api/items").status == 502
        assert https(stack, "/").status == 200  # the frontend's routes still serve
    finally:
        api.start()
    wait_healthy(api)
    deadline = time.monotonic() + 10
    while https(stack, "/api/items").status != 200 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert https(stack, "/api/items").status == 200


def test_a_changed_healthcheck_reaches_the_running_container(stack: RunningStack) -> None:
    """The provider would record a healthcheck change and never apply it; the stack's
    label of such fields makes it a replacement, which reaches the engine."""
    command = ["python3", "/usr/local/bin/api-healthcheck"]
    plan = stack.update({"api": {"healthCommand": command}})
    step = plan.step(f"{stack.prefix}-api-0")
    assert step is not None and step.op == "replace"
    test = stack.container("api").attrs["Config"]["Healthcheck"]["Test"]
    assert test[:3] == ["CMD", *command]


@pytest.fixture(autouse=True, scope="module")
def _release_tags_removed() -> Any:
    """The tags these releases made, untagged after them (running containers keep their
    image; the stack is removed after the suite)."""
    yield
    client = docker.from_env()
    for image in client.images.list():
        for tag in image.tags:
            if tag.endswith(RELEASE_TAGS):
                with contextlib.suppress(docker.errors.APIError):
                    client.images.remove(tag)
