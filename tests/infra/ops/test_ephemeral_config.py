"""Deriving an ephemeral stack from dev: naming, time-to-live, config."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from infra.ops.ephemeral_config import (
    EphemeralError,
    derive,
    label_time,
    parse_ttl,
    public_ports,
    stack_name,
)
from infra.program import main as program_main
from infra.render.mock_runtime import run_program
from infra.render.stack_config import StackConfig, load_stack_config
from tests.support import ROOT

NOW = dt.datetime(2026, 11, 22, 9, 30, 15, 123456, tzinfo=dt.UTC)


def dev() -> StackConfig:
    return load_stack_config(ROOT, "dev")


@pytest.mark.parametrize("name", ["pr-123", "a", "feature-x2"])
def test_names_become_prefixed_stacks(name: str) -> None:
    assert stack_name(name) == f"ephemeral-{name}"


@pytest.mark.parametrize("name", ["", "PR-1", "1abc", "pr_1", "pr-", "prod/x", "a" * 21])
def test_bad_names_say_what_is_allowed(name: str) -> None:
    with pytest.raises(EphemeralError, match="lowercase letters, digits and -"):
        stack_name(name)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90m", dt.timedelta(minutes=90)),
        ("4h", dt.timedelta(hours=4)),
        ("7d", dt.timedelta(days=7)),
    ],
)
def test_ttl(text: str, expected: dt.timedelta) -> None:
    assert parse_ttl(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [("4", "like 90m"), ("4w", "like 90m"), ("5m", "between 10m and 7d"), ("8d", "between")],
)
def test_bad_ttl(text: str, message: str) -> None:
    with pytest.raises(EphemeralError, match=message):
        parse_ttl(text)


def test_config_is_dev_with_ephemeral_settings() -> None:
    spec = derive(dev(), "pr-7", dt.timedelta(hours=4), NOW)
    config = spec.config
    assert config["prodstack:environment"] == "ephemeral"
    assert config["prodstack:protectData"] == "false"
    assert config["prodstack:expiresAt"] == "20261122T133015Z"
    assert spec.expires_tag == "2026-11-22T13:30:15Z"
    # dev's own values are kept, ours merged into them key by key.
    api = json.loads(config["prodstack:api"])
    assert api["env"] == {"LOG_LEVEL": "debug"} and api["image"] == "reference"
    assert config["prodstack:platform"] == "docker"
    retention = json.loads(config["prodstack:postgres"])["backup"]["retention"]
    assert retention == {"full": 1, "fullType": "count", "diff": 1}
    assert json.loads(config["prodstack:monitoring"])["retentionDays"] == 1
    edge = json.loads(config["prodstack:edge"])
    assert (
        edge["publicPorts"] == public_ports("pr-7")
        and spec.http_port == edge["publicPorts"]["http"]
    )


def test_each_name_gets_its_own_ports_stable_across_runs() -> None:
    ports = {name: public_ports(name) for name in ("pr-1", "pr-2", "pr-3")}
    assert ports == {name: public_ports(name) for name in ports}
    assert len({p["https"] for p in ports.values()}) == 3
    for pair in ports.values():
        assert 20000 <= pair["https"] < 30000 and pair["http"] == pair["https"] + 1
        assert 80 not in pair.values() and 443 not in pair.values()


def test_the_derived_config_is_a_valid_ephemeral_stack() -> None:
    """Through the real program: it validates, protects nothing and labels its expiry."""
    spec = derive(dev(), "pr-7", dt.timedelta(hours=4), NOW)
    config = StackConfig(project="prodstack", stack=spec.stack, values=dict(spec.config))
    recording = run_program(config, program_main)
    assert recording.outputs["environment"] == "ephemeral"
    https = public_ports("pr-7")["https"]
    assert recording.outputs["url"] == f"https://localhost:{https}"
    assert not [r.name for r in recording.resources if r.protect or r.retain_on_delete]
    networks = recording.of_type("docker:index/network:Network")
    assert networks and all(
        {"label": "prodstack.dev/expires-at", "value": label_time(spec.expires_at)}
        in n.inputs["labels"]
        for n in networks
    )
    edge = next(r for r in recording.resources if r.name == "prodstack-ephemeral-pr-7-edge-0")
    published = {(p["internal"], p["external"]) for p in edge.inputs["ports"]}
    assert published == {(8080, https + 1), (8443, https)}


def test_secret_dev_values_are_refused_with_a_way_forward() -> None:
    config = dev()
    config.values["prodstack:stripeApiKey"] = "placeholder"
    config.secret_keys.add("prodstack:stripeApiKey")
    with pytest.raises(EphemeralError, match=r"prodstack:stripeApiKey.*--stack ephemeral-pr-7"):
        derive(config, "pr-7", dt.timedelta(hours=4), NOW)


def test_expiry_is_only_for_ephemeral_stacks() -> None:
    from infra.settings.errors import SettingsError
    from tests.support import render

    with pytest.raises(SettingsError, match="prodstack:expiresAt: only ephemeral stacks expire"):
        render("dev", {"expiresAt": "20261122T133015Z"})
