"""A settings document the model accepts gives configurations their servers accept.

Hypothesis generates settings documents across every key of the model
(tests/settings_strategies.py), the real program renders each under Pulumi's mocks, and each
server's own check runs on what it rendered (tests/server_checks.py). A document the model
refuses is discarded, with one clean SettingsError; a document it accepts whose configuration
a server refuses fails the test.

CI runs a bounded number of examples (PRODSTACK_GENERATED_EXAMPLES, 40 by default); the
scheduled workflow .github/workflows/generated-settings.yml runs thousands.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, event, given, reject, settings

from infra.settings import SettingsError, declared_secret_keys
from infra.settings.defaults import defaults_for, merged
from infra.settings.model import StackSettings
from tests.live import require, server_root
from tests.server_checks import PROGRAMS, ServerChecks
from tests.settings_strategies import LEAVES, settings_documents
from tests.support import render

EXAMPLES = int(os.environ.get("PRODSTACK_GENERATED_EXAMPLES", "40"))
# What the local servers are: Debian 12's nginx and Postgres (the images run newer ones).
HOST_VERSIONS = {"edge": {"nginxVersion": "1.22"}, "postgres": {"version": 15}}


@pytest.fixture(scope="module")
def checks() -> Iterator[ServerChecks]:
    require(*PROGRAMS)
    with server_root("postgres") as root:
        yield ServerChecks(root)


def secrets_for(document: dict[str, Any]) -> dict[str, str]:
    """A value for every secret config key the document names, as a user would set them."""
    try:
        settings = StackSettings.model_validate(merged(defaults_for("dev", "dev"), document))
    except ValueError:
        return {}
    return {
        name: f"generated-secret-{index}"
        for index, name in enumerate(declared_secret_keys(settings))
    }


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    derandomize=os.environ.get("CI") == "true",
    # Explaining a failure reruns it hundreds of times, at seconds a run: the shrunk document
    # and the server's words say enough.
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
)
@given(document=settings_documents())
def test_a_document_the_model_accepts_renders_configs_its_servers_accept(
    checks: ServerChecks, document: dict[str, Any]
) -> None:
    stack = merged(document, HOST_VERSIONS)
    try:
        recording = render("dev", stack, secrets_for(stack))
    except SettingsError as error:
        event(f"refused by the model: {error.problems[0].split(':', 2)[1][:60]}")
        reject()
    event("accepted, checked by every server")
    failures = checks.failures(recording)
    assert not failures, f"{stack}\n" + "\n".join(map(str, failures))


def test_every_key_of_the_model_is_generated() -> None:
    """A key the strategies cannot generate (a type they do not know) would never be tried."""
    from hypothesis import strategies as st

    empty = [path for path, strategy in LEAVES if strategy.is_empty or strategy is st.nothing()]
    assert not empty
    assert len(LEAVES) > 150


BROKEN = {
    "edge": ("nginx.conf", "gzip on;", "gzip maybe;"),
    "frontend": ("frontend.conf", "gzip on;", "gzip maybe;"),
    "postgres": ("postgresql.conf", "max_connections = 100", "max_connections = lots"),
    "pgbackrest": ("pgbackrest.conf", "compress-type=lz4", "compress-type=zip"),
    "redis": ("redis.conf", "appendfsync everysec", "appendfsync sometimes"),
    "prometheus": ("rules.yml", "expr: ", "expr: sum(("),
    "alertmanager": ("alertmanager.yml", "group_wait: 30s", "group_wait: soon"),
    "blackbox": ("blackbox.yml", "fail_if_not_ssl", "fail_if_not_tls"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_each_server_check_refuses_a_broken_config(checks: ServerChecks, case: str) -> None:
    """The checks can fail: each server refuses its file with one bad line, and only it."""
    recording = render("dev", {**HOST_VERSIONS, "frontend": {"enabled": True}})
    assert checks.failures(recording) == []
    name, good, bad = BROKEN[case]
    for resource in recording.resources:
        for upload in resource.unredacted.get("uploads", []):
            if upload["file"].endswith("/" + name):
                assert good in upload["content"], (name, good)
                upload["content"] = upload["content"].replace(good, bad, 1)
    failures = checks.failures(recording)
    server = "postgres" if case == "pgbackrest" else case
    assert [failure.server for failure in failures] == [server], failures
