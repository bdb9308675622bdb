"""Redis from the rendered redis.conf and ACL file, run for real on loopback."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator

import pytest

from components.logins import LoginsConfig
from infra.render.mock_runtime import stand_in
from tests.components.logins_support import IDLE_SECONDS, deliver, play_rollover
from tests.components.redis.server import RedisServer
from tests.live import owned_tempdir, rendered_files, require, server_root, signal_group
from tests.support import render

pytestmark = pytest.mark.live
LIMIT_MIB = 64


@pytest.fixture(scope="module")
def redis() -> Iterator[tuple[RedisServer, dict[str, str]]]:
    require("redis-server", "redis-cli")
    recording = render("dev", {"redis": {"resources": {"limits": {"memory": f"{LIMIT_MIB}Mi"}}}})
    files = rendered_files(recording, "prodstack-dev-redis-0")
    app, admin = (
        stand_in(f"secrets-{n}", "password") for n in ("redis-password", "redis-admin-password")
    )
    with server_root("redis") as root:
        server = RedisServer(root, files)
        server.prepare()
        owned_tempdir(root, "redis")
        server.start()
        try:
            yield server, {"app": app, "admin": admin}
        finally:
            if server.process and server.process.poll() is None:
                server.kill(signal.SIGTERM)


def test_unauthenticated_commands_are_refused(redis: tuple[RedisServer, dict[str, str]]) -> None:
    server, _ = redis
    result = server.cli(None, None, "GET", "x")
    assert "NOAUTH" in result.stdout + result.stderr


def test_app_user_reads_and_writes_but_nothing_dangerous(
    redis: tuple[RedisServer, dict[str, str]],
) -> None:
    server, pw = redis
    assert server.cli("app", pw["app"], "SET", "greeting", "hello").stdout.strip() == "OK"
    assert server.cli("app", pw["app"], "GET", "greeting").stdout.strip() == "hello"
    for command in (
        ["FLUSHALL"],
        ["CONFIG", "GET", "maxmemory"],
        ["DEBUG", "SLEEP", "0"],
        ["KEYS", "*"],
        ["ACL", "LIST"],
        ["SHUTDOWN"],
        # No Lua: scripts and functions stay out of a stolen app password's reach.
        ["EVAL", "return 1", "0"],
        ["SCRIPT", "LOAD", "return 1"],
        [
            "FUNCTION",
            "LOAD",
            "#!lua name=lib\nredis.register_function('f', function() return 1 end)",
        ],
        ["FCALL", "f", "0"],
    ):
        answer = server.cli("app", pw["app"], *command).stdout
        # Refused by the ACL (NOPERM), or before it for DEBUG (enable-debug-command no).
        assert "NOPERM" in answer or "command not allowed" in answer, command
    wrong = server.cli("app", "wrong", "PING")
    assert "WRONGPASS" in wrong.stderr and "PONG" not in wrong.stdout


def test_debug_and_module_commands_are_disabled_even_for_admin(
    redis: tuple[RedisServer, dict[str, str]],
) -> None:
    server, pw = redis
    assert (
        "DEBUG command not allowed"
        in server.cli("admin", pw["admin"], "DEBUG", "SLEEP", "0").stdout
    )
    loaded = server.cli("admin", pw["admin"], "MODULE", "LOAD", "/tmp/module.so").stdout
    assert "MODULE command not allowed" in loaded


def test_maxmemory_is_in_force(redis: tuple[RedisServer, dict[str, str]]) -> None:
    server, pw = redis
    expected = LIMIT_MIB * 1024 * 1024 * 50 // 100
    assert server.cli("admin", pw["admin"], "CONFIG", "GET", "maxmemory").stdout.split() == [
        "maxmemory",
        str(expected),
    ]
    assert (
        server.cli("admin", pw["admin"], "CONFIG", "GET", "maxmemory-policy").stdout.split()[1]
        == "noeviction"
    )
    # Fill past the limit: noeviction refuses writes instead of dropping data.
    refused = ""
    for i in range(LIMIT_MIB + 10):
        # A 1 MB value in one command (the app user may not run scripts).
        refused = server.cli("app", pw["app"], "SETRANGE", f"filler:{i}", "999999", "x").stdout
        if "OOM" in refused:
            break
    assert "OOM command not allowed when used memory > 'maxmemory'" in refused
    for i in range(LIMIT_MIB + 10):
        server.cli("app", pw["app"], "UNLINK", f"filler:{i}")


def test_acknowledged_writes_survive_kill_9(redis: tuple[RedisServer, dict[str, str]]) -> None:
    server, pw = redis
    script = "\n".join(f"SET durable:{i} {i}" for i in range(2000)) + "\n"
    result = subprocess.run(
        [
            "redis-cli",
            "--no-auth-warning",
            "-p",
            str(server.port),
            "--user",
            "app",
            "--pass",
            pw["app"],
        ],
        input=script,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert result.stdout.split().count("OK") == 2000  # every write acknowledged
    server.kill(signal.SIGKILL)  # no shutdown, no final save
    server.start()
    count = server.cli(
        "admin", pw["admin"], "EVAL", "return #redis.call('KEYS', 'durable:*')", "0"
    ).stdout.strip()
    assert count == "2000"


def test_a_rollover_keeps_both_logins_valid_then_retires_the_old_one(
    redis: tuple[RedisServer, dict[str, str]],
) -> None:
    """The logins keeper (images/scripts/redis_logins.sh) on this server: passwords applied
    in place, and the first login turned off only once it has been idle."""
    server, pw = redis
    recording = render("dev", {})
    keeper_files = rendered_files(recording, "prodstack-dev-redis-logins-0")
    files = server.root / "logins"
    old = {"app": keeper_files["login-app"], "app_b": keeper_files["login-app_b"]}
    deliver(files, LoginsConfig("app", "app_b", IDLE_SECONDS), old)
    (files / "redis-admin-password").write_text(pw["admin"])
    script = files / "redis_logins.sh"
    script.write_text(keeper_files["redis_logins.sh"])
    keeper = subprocess.Popen(
        ["sh", str(script)],
        env={
            "PATH": "/usr/bin:/bin",
            "REDIS_SOCKET": str(server.socket),
            "REDIS_ADMIN_USER": "admin",
            "PRODSTACK_CONFIG": str(files),
            "PRODSTACK_SECRETS": str(files),
            "PRODSTACK_LOGINS_ALIVE": str(files / "alive"),
        },
        stdout=open(server.root / "logins.log", "a"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def can_log_in(login: str, password: str) -> bool:
        return server.cli(login, password, "PING").stdout.strip() == "PONG"

    def hold(login: str, password: str, seconds: float) -> None:
        server.cli(login, password, "BLPOP", "never-pushed", str(int(seconds)))

    try:
        play_rollover(files, old, can_log_in, hold)
        assert (files / "alive").exists()
    finally:
        signal_group(keeper, signal.SIGTERM)
        server.cli("admin", pw["admin"], "ACL", "SETUSER", "app", "on")
