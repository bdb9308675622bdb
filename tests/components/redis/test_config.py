"""redis.conf and the ACL file as generated from typed values."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from components.config_values import ConfigValueError
from components.redis.component import redis_config
from components.redis.config import RedisAcl
from components.redis.settings import RedisSettings
from infra.settings.defaults import defaults_for


def directives(text: str) -> dict[str, str]:
    pairs = (line.split(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
    return {key: value for key, value in pairs}


def test_hardened_and_durable_directives() -> None:
    settings = RedisSettings.model_validate(defaults_for("prod", "p")["redis"])
    rendered = directives(redis_config(settings).render())
    assert rendered["protected-mode"] == "yes"
    assert rendered["enable-debug-command"] == "no"
    assert rendered["enable-module-command"] == "no"
    assert (rendered["appendonly"], rendered["appendfsync"]) == ("yes", "everysec")
    # Half the limit: the other half is for the fork that saves (components/redis/settings.py).
    assert rendered["maxmemory"] == str(1024 * 1024 * 1024 * 50 // 100)
    assert rendered["maxmemory-policy"] == "noeviction"
    assert rendered["save"] == "3600 1"


def test_acl_disables_default_and_stores_only_hashes() -> None:
    acl = RedisAcl(
        (("app", "app-secret-value"), ("app_b", "b-secret-value")),
        "admin-secret-value",
        "exporter-secret-value",
    ).render()
    lines = {line.split()[1]: line for line in acl.splitlines() if line}
    assert lines["default"].startswith("user default off resetpass")
    assert "-@dangerous -@admin -@scripting" in lines["app"]
    assert (
        lines["app_b"]
        .replace("app_b", "app")
        .replace(
            hashlib.sha256(b"b-secret-value").hexdigest(),
            hashlib.sha256(b"app-secret-value").hexdigest(),
        )
        == lines["app"]
    )
    allowed = RedisAcl((("app", "a"),), "b", "c", app_scripting=True).render()
    assert "-@scripting" not in allowed and "-@dangerous -@admin" in allowed
    assert "#" + hashlib.sha256(b"app-secret-value").hexdigest() in lines["app"]
    assert "secret-value" not in acl
    assert "+@all" not in lines["exporter"]


def test_redis_conf_refuses_a_value_that_would_end_its_line() -> None:
    settings = RedisSettings.model_validate(defaults_for("dev", "d")["redis"])
    config = dataclasses.replace(redis_config(settings), data_dir="/data\nenable-debug-command yes")
    with pytest.raises(ConfigValueError, match=r"redis\.conf: must not contain control"):
        config.render()
