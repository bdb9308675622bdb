"""Redis with redis.tls on, run by Debian's redis-server through the rendered entry point:
the plain port is closed, clients verify the server, and a renewed certificate is picked up
without a restart."""

from __future__ import annotations

import signal
import socket
import ssl
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.redis.component import ADMIN_PASSWORD_FILE
from infra.render.mock_runtime import stand_in
from tests.certificates import issue, make_ca
from tests.components.redis.server import RedisServer
from tests.live import owned_tempdir, rendered_files, require, server_root
from tests.support import ROOT, render

sys.path.insert(0, str(ROOT / "images" / "api"))
from refapi import resp, tls

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def redis() -> Iterator[tuple[RedisServer, str]]:
    require("redis-server", "redis-cli")
    files = rendered_files(render("dev", {"redis": {"tls": True}}), "prodstack-dev-redis-0")
    app = stand_in("secrets-redis-password", "password")
    with server_root("redis") as root:
        server = RedisServer(root, files)
        server.prepare()
        certificates = root / "certificates"
        certificates.mkdir()
        ca = make_ca(certificates)
        server.install_tls(*issue(certificates, ca, "server"), ca[1])
        owned_tempdir(root, "redis")
        server.start()
        try:
            yield server, app
        finally:
            if server.process and server.process.poll() is None:
                server.kill(signal.SIGTERM)


def info_process_id(server: RedisServer) -> str:
    """The server's process id, as Redis reports it to the admin."""
    admin = server.files[ADMIN_PASSWORD_FILE]
    with resp.Connection("localhost", server.port, "admin", admin, ca_file=str(server.ca)) as conn:
        info = str(conn.command("INFO", "server"))
    return next(
        line.split(":", 1)[1].strip()
        for line in info.splitlines()
        if line.startswith("process_id:")
    )


def serial(server: RedisServer) -> str:
    assert server.ca is not None
    raw = socket.create_connection(("localhost", server.port), 5)
    with tls.wrap(raw, "localhost", str(server.ca)) as conn:
        return str(conn.getpeercert()["serialNumber"])


def test_a_plaintext_client_gets_nothing(redis: tuple[RedisServer, str]) -> None:
    server, app = redis
    with socket.create_connection(("127.0.0.1", server.port), 5) as raw:
        raw.settimeout(3)
        raw.sendall(resp.encode("AUTH", "app", app) + resp.encode("PING"))
        try:
            answer = raw.recv(1024)
        except (TimeoutError, ConnectionResetError):
            answer = b""
    assert b"+OK" not in answer and b"PONG" not in answer


def test_a_verified_client_works(redis: tuple[RedisServer, str]) -> None:
    server, app = redis
    assert server.ca is not None
    # The reference API's own client, as the stack configures it.
    with resp.Connection("localhost", server.port, "app", app, ca_file=str(server.ca)) as conn:
        assert conn.command("SET", "tls-check", "1") == "OK"
        assert conn.command("GET", "tls-check") == "1"


def test_a_client_that_does_not_trust_the_ca_is_refused(
    redis: tuple[RedisServer, str], tmp_path: Path
) -> None:
    server, app = redis
    other = make_ca(tmp_path)[1]
    with pytest.raises(ssl.SSLCertVerificationError):
        resp.Connection("localhost", server.port, "app", app, ca_file=str(other))


def test_a_renewed_certificate_is_served_without_a_restart(redis: tuple[RedisServer, str]) -> None:
    """The watcher has Redis read its files again (CONFIG SET of the tls-* paths): the same
    process serves the new certificate, and a connection opened before keeps working."""
    server, app = redis
    assert server.ca is not None
    before = serial(server)
    kept = resp.Connection("localhost", server.port, "app", app, ca_file=str(server.ca))
    process_id = info_process_id(server)
    ca_key = server.ca.with_name("ca.key")
    server.install_tls(
        *issue(server.root / "certificates", (ca_key, server.ca), "renewed"), server.ca
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if serial(server) != before:
                break
        except OSError:
            pass  # restarting
        time.sleep(0.5)
    assert serial(server) != before
    assert info_process_id(server) == process_id
    with kept:
        assert kept.command("GET", "tls-check") == "1"
    assert "reloaded" in (server.root / "redis.log").read_text()
