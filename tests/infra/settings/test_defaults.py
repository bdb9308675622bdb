"""Defaults per environment, and the shipped stacks parse to what they promise."""

from __future__ import annotations

from pathlib import Path

import yaml

from infra.render.stack_config import load_stack_config
from infra.settings import parse_settings
from infra.settings.docs import settings_markdown
from infra.settings.model import StackSettings
from tests.support import PROD, ROOT, config_of


def settings_of(stack: str, values: dict[str, object]) -> StackSettings:
    config = config_of(stack, values)
    return parse_settings(config.values, config.secret_keys, stack)[0]


def test_dev_defaults_to_one_docker_host_unprotected() -> None:
    s = settings_of("dev", {})
    assert (s.environment, s.platform, s.domain) == ("dev", "docker", "localhost")
    assert s.api.replicas == 1 and not s.api.autoscaling.enabled
    assert s.protect_data is False


def test_prod_defaults_to_kubernetes_protected_and_autoscaled() -> None:
    s = settings_of("prod", PROD)
    assert s.platform == "kubernetes"
    assert s.protect_data is True
    assert s.api.autoscaling.enabled and s.api.autoscaling.min_replicas >= 2
    # The seed plans' figures.
    assert (s.api.resources.requests.cpu, s.api.resources.requests.memory) == (250, 512)
    assert (s.api.resources.limits.cpu, s.api.resources.limits.memory) == (1000, 1024)


def test_ephemeral_stacks_protect_nothing() -> None:
    s = settings_of("pr-42", {"environment": "ephemeral"})
    assert s.protect_data is False
    assert s.kubernetes.namespace == "prodstack-pr-42"
    assert s.docker.name_prefix == "prodstack-pr-42"


def test_user_values_override_defaults_key_by_key() -> None:
    s = settings_of("dev", {"api": {"resources": {"limits": {"memory": "768Mi"}}}})
    assert s.api.resources.limits.memory == 768
    assert s.api.resources.requests.memory == 128  # the dev default beside it is kept


def test_shipped_dev_stack() -> None:
    config = load_stack_config(ROOT, "dev")
    s = parse_settings(config.values, config.secret_keys, "dev")[0]
    assert (s.platform, s.domain, s.api.replicas) == ("docker", "localhost", 1)


def test_shipped_prod_stack() -> None:
    config = load_stack_config(ROOT, "prod")
    s = parse_settings(config.values, config.secret_keys, "prod")[0]
    assert s.platform == "kubernetes"
    assert s.domain != "localhost"
    assert s.api.autoscaling.enabled and s.api.autoscaling.min_replicas >= 2
    assert "@sha256:" in s.api.image


def test_encrypted_values_become_secret_placeholders(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: prodstack\nruntime: python\n")
    (tmp_path / "Pulumi.x.yaml").write_text(
        "config:\n  prodstack:stripeKey:\n    secure: AAABAJk=\n  prodstack:api:\n    replicas: 2\n"
    )
    config = load_stack_config(tmp_path, "x")
    assert config.secret_keys == {"prodstack:stripeKey"}
    assert config.values["prodstack:stripeKey"] in config.placeholders
    assert config.values["prodstack:api"] == '{"replicas": 2}'


def test_project_config_schema_describes_every_top_level_key() -> None:
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    declared = project["config"]
    keys = {f.alias or n for n, f in StackSettings.model_fields.items()}
    assert set(declared) == keys
    assert all(entry.get("description") for entry in declared.values())
    assert project["runtime"]["options"]["toolchain"] == "uv"
    assert project["runtime"]["options"]["virtualenv"] == ".venv"


def test_settings_doc_is_up_to_date() -> None:
    """docs/settings.md is generated; regenerate it with `make settings-doc`."""
    assert (ROOT / "docs" / "settings.md").read_text() == settings_markdown()


def test_settings_doc_says_how_rate_limits_combine_with_edge_replicas() -> None:
    """A group's own description (what holds for all its keys) is documented with it."""
    rows = [
        line for line in settings_markdown().splitlines() if "`prodstack:edge.rateLimits`" in line
    ]
    assert len(rows) == 1
    assert "per edge replica" in rows[0] and "N times the rate" in rows[0]
