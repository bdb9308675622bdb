"""postgresql.conf, pg_hba.conf and pgbackrest.conf as generated from typed values."""

from __future__ import annotations

import configparser
import dataclasses

import pytest

from components.config_values import ConfigValueError
from components.postgres.config import PostgresConfig
from components.postgres.hba import HbaConfig
from components.postgres.pgbackrest import PgBackRestConfig, S3Location, render_secrets


def config(major: int = 17, memory: int = 1024, connections: int = 100) -> PostgresConfig:
    return PostgresConfig(
        major=major,
        memory_limit_mib=memory,
        max_connections=connections,
        archive_timeout_seconds=60,
        slow_query_ms=500,
        hba_file="/run/prodstack/config/pg_hba.conf",
    )


def settings(text: str) -> dict[str, str]:
    pairs = (line.split(" = ", 1) for line in text.splitlines() if " = " in line)
    return {key: value.split("  #")[0] for key, value in pairs}


def test_memory_follows_the_limit() -> None:
    small, large = settings(config(memory=512).render()), settings(config(memory=4096).render())
    assert (small["shared_buffers"], large["shared_buffers"]) == ("'128MB'", "'1024MB'")
    assert (small["effective_cache_size"], large["effective_cache_size"]) == ("'384MB'", "'3072MB'")
    assert large["maintenance_work_mem"] == "'256MB'"
    # Sorts of every connection together stay within what shared buffers leave.
    cfg = config(memory=4096, connections=100)
    assert cfg.work_mem_mib * 100 * 3 <= 4096 - cfg.shared_buffers_mib


def test_memory_settings_stay_within_what_postgres_can_hold() -> None:
    """A terabyte-sized limit (22 TiB, found by the generated settings test) is capped at the
    largest value Postgres takes, not rendered into a file it refuses to start with."""
    huge = settings(config(memory=22 * 1024 * 1024, connections=10).render())
    assert huge["effective_cache_size"] == "'16777215MB'"  # INT_MAX 8 kB pages
    assert huge["shared_buffers"] == "'5767168MB'"  # a quarter, within its own maximum
    assert huge["work_mem"] == "'576716MB'"
    assert config(memory=64 * 1024 * 1024).shared_buffers_mib == 8388607


def test_point_in_time_recovery_settings() -> None:
    rendered = settings(config().render())
    assert rendered["wal_level"] == "'replica'"
    assert rendered["archive_mode"] == "on"
    assert rendered["archive_command"] == "'pgbackrest --stanza=main archive-push %p'"
    assert rendered["archive_timeout"] == "'60s'"
    assert rendered["password_encryption"] == "'scram-sha-256'"
    assert rendered["shared_preload_libraries"] == "'pg_stat_statements'"
    assert rendered["log_min_duration_statement"] == "500"


@pytest.mark.parametrize(
    ("major", "present", "absent"),
    [
        (15, set(), {"reserved_connections", "allow_alter_system"}),
        (16, {"reserved_connections"}, {"allow_alter_system"}),
        (17, {"reserved_connections", "allow_alter_system"}, set()),
    ],
)
def test_newer_settings_are_rendered_only_for_their_major(
    major: int, present: set[str], absent: set[str]
) -> None:
    """Debian's Postgres 15 (the live drill) refuses unknown settings; 17 is the image's."""
    rendered = settings(config(major=major).render())
    assert present <= set(rendered)
    assert not absent & set(rendered)
    assert f"Rendered for PostgreSQL {major}." in config(major=major).render()


def test_hba_is_scram_only_and_ends_in_reject() -> None:
    rules = HbaConfig("app", ("app", "app_b"), "monitor").rules()
    network = [r for r in rules if r.kind == "host"]
    assert {r.method for r in network[:-1]} == {"scram-sha-256"}
    assert (network[-1].database, network[-1].user, network[-1].method) == ("all", "all", "reject")
    # The monitor user (the exporter beside the server) comes through the socket only.
    assert [(r.database, r.user) for r in network[:-1]] == [("app", "app,app_b")]
    local = [(r.database, r.user, r.method) for r in rules if r.kind == "local"]
    assert ("postgres", "monitor", "scram-sha-256") in local
    assert "trust" not in HbaConfig("app", ("app", "app_b"), "monitor").render()


def parse(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    parser.read_string(text)
    return parser


def test_pgbackrest_volume_repository_is_encrypted_and_retained() -> None:
    ini = parse(PgBackRestConfig("/data", "lz4", 4, "count", 7).render())
    assert ini["global"]["repo1-type"] == "posix"
    assert ini["global"]["repo1-cipher-type"] == "aes-256-cbc"
    assert "repo1-cipher-pass" not in ini["global"]  # only in the secret include file
    assert (ini["global"]["repo1-retention-full"], ini["global"]["repo1-retention-diff"]) == (
        "4",
        "7",
    )
    assert ini["global"]["compress-type"] == "lz4"
    assert ini["main"]["pg1-path"] == "/data"


def test_pgbackrest_s3_repository_and_secret_include() -> None:
    location = S3Location("s3.example.com", "bucket", "eu-west-1", "/prod", "path", "shared")
    ini = parse(PgBackRestConfig("/data", "zst", 30, "time", 14, s3=location).render())
    assert ini["global"]["repo1-type"] == "s3"
    assert ini["global"]["repo1-s3-bucket"] == "bucket"
    assert ini["global"]["repo1-retention-full-type"] == "time"
    secrets = parse(render_secrets("passphrase", "AKIA", "secret"))
    assert dict(secrets["global"]) == {
        "repo1-cipher-pass": "passphrase",
        "repo1-s3-key": "AKIA",
        "repo1-s3-key-secret": "secret",
    }


def test_pgbackrest_refuses_a_value_that_would_add_an_option() -> None:
    """A line break in the endpoint would add `repo1-storage-verify-tls=n` on a line of its own."""
    location = S3Location(
        "s3.example.com\nrepo1-storage-verify-tls=n", "bucket", "eu-west-1", "/p", "path", "auto"
    )
    with pytest.raises(ConfigValueError, match=r"pgbackrest\.conf: must not contain control"):
        PgBackRestConfig("/data", "lz4", 4, "count", 7, s3=location).render()
    with pytest.raises(ConfigValueError, match="U\\+000D"):
        render_secrets("pass\rrepo1-cipher-type=none", None, None)


def test_postgresql_conf_refuses_a_value_that_would_end_its_line() -> None:
    with pytest.raises(ConfigValueError, match=r"postgresql\.conf: must not contain control"):
        dataclasses.replace(config(), hba_file="/run/hba.conf'\nssl = off").render()
