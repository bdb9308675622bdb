"""Postgres with postgres.tls on, run by Debian's server from the rendered files: network
clients connect over TLS only, verified against the stack's CA, and a renewed certificate is
picked up by a reload."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.certificates import issue, make_ca
from tests.components.postgres.cluster import (
    PG_BIN,
    Cluster,
    require_postgres,
    stack_files,
)
from tests.live import server_root
from tests.support import ROOT

sys.path.insert(0, str(ROOT / "images" / "api"))
from refapi import pgwire, tls

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[Cluster, Path]]:
    require_postgres()
    with server_root("postgres") as root:
        running = Cluster(root, stack_files(tls=True))
        running.prepare()
        certificates = root / "certificates"
        certificates.mkdir()
        ca = make_ca(certificates)
        running.install_tls(*issue(certificates, ca, "server"))
        running.start()
        try:
            yield running, ca[1]
        finally:
            running.stop()


def app_password(cluster: Cluster) -> str:
    return cluster.files["login-app"].strip()


def psql_tcp(
    cluster: Cluster, sslmode: str, ca: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """The app user over TCP, as a network client, with libpq's own TLS settings."""
    dsn = f"host=localhost port={cluster.port} dbname=app user=app sslmode={sslmode}"
    if ca is not None:
        dsn += f" sslrootcert={ca}"
    return subprocess.run(
        [
            str(PG_BIN / "psql"),
            "-X",
            "-qtA",
            "-d",
            dsn,
            "-c",
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        ],
        env={"PGPASSWORD": app_password(cluster), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def serial(cluster: Cluster, ca: Path) -> str:
    """The serial number of the certificate the server presents now."""
    raw = socket.create_connection(("localhost", cluster.port), 5)
    with tls.start_postgres(raw, "localhost", str(ca)) as conn:
        return str(conn.getpeercert()["serialNumber"])


def test_a_plaintext_connection_is_refused(cluster: tuple[Cluster, Path]) -> None:
    result = psql_tcp(cluster[0], "disable")
    assert result.returncode != 0
    assert "no encryption" in result.stderr, result.stderr


def test_a_verified_connection_works(cluster: tuple[Cluster, Path]) -> None:
    server, ca = cluster
    result = psql_tcp(server, "verify-full", ca)
    assert (result.returncode, result.stdout.strip()) == (0, "t"), result.stderr
    # The reference API's own client, as the stack configures it (verify-full).
    with pgwire.Connection(
        "localhost", server.port, "app", "app", app_password(server), ca_file=str(ca)
    ) as db:
        assert db.execute("SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()") == [
            ("true",)
        ]


def test_a_client_that_does_not_trust_the_ca_is_refused(
    cluster: tuple[Cluster, Path], tmp_path: Path
) -> None:
    other = make_ca(tmp_path)[1]
    result = psql_tcp(cluster[0], "verify-full", other)
    assert result.returncode != 0
    assert "certificate verify failed" in result.stderr, result.stderr


def test_a_renewed_certificate_is_served_after_the_agents_reload(
    cluster: tuple[Cluster, Path],
) -> None:
    server, ca = cluster
    before = serial(server, ca)
    server.install_tls(
        *issue(server.root / "certificates", (ca.with_name("ca.key"), ca), "renewed")
    )
    assert serial(server, ca) == before  # read only at start or reload
    # The backup agent's watch, as it runs beside the server (prodstack_pg.agent).
    watch = (
        "from prodstack_pg.agent import ServerFileWatch; "
        "from prodstack_pg.environment import Paths; "
        "w = ServerFileWatch(Paths.from_env()); w.seen = 'before'; "
        "assert w.reload_if_changed()"
    )
    server.run(
        "/usr/bin/python3",
        "-c",
        watch,
        env={
            **server.env(),
            "PRODSTACK_RELOAD_FILES": f"{server.tls_cert}:{server.tls_key}",
        },
    )
    assert serial(server, ca) != before
    assert psql_tcp(server, "verify-full", ca).returncode == 0
