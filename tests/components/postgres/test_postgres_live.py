"""Postgres and pgBackRest from the rendered configuration, run for real on loopback.

The cluster is started by the image's entrypoint, archives through the rendered
archive_command, and is backed up and restored with the rendered pgbackrest.conf.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from components.logins import LoginsConfig
from tests.components.logins_support import IDLE_SECONDS, NEW_PASSWORD, deliver, play_rollover
from tests.components.postgres.cluster import (
    DEBIAN_MAJOR,
    PG_BIN,
    SYSTEM_PYTHON,
    Cluster,
    require_postgres,
    stack_files,
)
from tests.live import as_user, free_port, owned_tempdir, server_root, signal_group

pytestmark = pytest.mark.live
ARCHIVE_TIMEOUT = 10
MARKER_A = "plaintext-marker-batch-a-7f3c"
MARKER_B = "plaintext-marker-batch-b-91d2"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    require_postgres()
    with server_root("postgres") as root:
        running = Cluster(root, stack_files(ARCHIVE_TIMEOUT))
        running.prepare()
        running.start()
        try:
            running.pgbackrest("stanza-create")
            running.pgbackrest("check")
            yield running
        finally:
            running.stop()


@pytest.fixture
def restores(cluster: Cluster) -> Path:
    """Where a test restores to: under the cluster's root, which the postgres user can reach.
    Kept short: a Unix socket path may not exceed 107 characters."""
    return owned_tempdir(Path(tempfile.mkdtemp(prefix="r", dir=cluster.root)), "postgres")


def app_psql(
    cluster: Cluster,
    sql: str,
    user: str = "app",
    database: str = "app",
    password: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Over TCP with a password, as the API connects."""
    secret = password if password is not None else cluster.files["login-app"]
    return subprocess.run(
        [
            str(PG_BIN / "psql"),
            "-X",
            "-qtA",
            "-h",
            "127.0.0.1",
            "-p",
            str(cluster.port),
            "-U",
            user,
            "-d",
            database,
            "-c",
            sql,
        ],
        env={"PGPASSWORD": secret, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )


def test_entrypoint_creates_an_unprivileged_app_role_owning_its_database(cluster: Cluster) -> None:
    role = cluster.psql(
        "SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = 'app'"
    )
    assert role == "f|f|f"
    assert (
        cluster.psql("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'app'")
        == "app"
    )
    assert app_psql(cluster, "SELECT current_user").stdout.strip() == "app"
    assert (
        cluster.psql(
            "SELECT extname FROM pg_extension WHERE extname = 'pg_stat_statements'", database="app"
        )
        == "pg_stat_statements"
    )


def test_hba_allows_only_scram_and_each_role_its_own_database(cluster: Cluster) -> None:
    assert app_psql(cluster, "SELECT 1", password="wrong").returncode != 0
    other_db = app_psql(cluster, "SELECT 1", database="postgres")
    assert other_db.returncode != 0 and "pg_hba.conf rejects connection" in other_db.stderr
    superuser = app_psql(cluster, "SELECT 1", user="postgres", database="postgres")
    assert superuser.returncode != 0
    method = cluster.psql("SELECT auth_method FROM pg_hba_file_rules WHERE 'app' = ANY(user_name)")
    assert method == "scram-sha-256"
    assert cluster.psql("SHOW password_encryption") == "scram-sha-256"


def test_rendered_settings_are_in_force(cluster: Cluster) -> None:
    settings = dict(
        line.split("|")
        for line in cluster.psql(
            "SELECT name, setting FROM pg_settings WHERE name IN "
            "('wal_level', 'archive_mode', 'archive_timeout', 'max_connections', "
            "'shared_preload_libraries', 'log_min_duration_statement')"
        ).splitlines()
    )
    assert settings == {
        "wal_level": "replica",
        "archive_mode": "on",
        "archive_timeout": str(ARCHIVE_TIMEOUT),
        "max_connections": "100",
        "shared_preload_libraries": "pg_stat_statements",
        "log_min_duration_statement": "500",
    }


def wait_archived(cluster: Cluster, lsn: str, timeout: float) -> float:
    """Seconds until the WAL segment holding `lsn` is in the repository."""
    segment = cluster.psql(f"SELECT pg_walfile_name('{lsn}')")
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        last = cluster.psql("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")
        if last and last >= segment:
            return time.monotonic() - started
        time.sleep(0.2)
    raise AssertionError(f"{segment} not archived within {timeout} s")


def test_point_in_time_recovery(cluster: Cluster, restores: Path) -> None:
    # A full backup by the backup agent's own code path.
    cluster.module(
        "prodstack_pg.agent",
        "--full",
        "0 1 * * 0",
        "--diff",
        "0 1 * * 1-6",
        "--once",
        "full",
    )
    assert [b["type"] for b in cluster.info()["backup"]] == ["full"]
    cluster.psql("CREATE TABLE batches (batch text, marker text, n int)", database="app")
    cluster.psql(
        f"INSERT INTO batches SELECT 'A', '{MARKER_A}', g FROM generate_series(1, 1000) g",
        database="app",
    )
    time.sleep(1.1)
    target = cluster.psql("SELECT now()")
    time.sleep(1.1)
    cluster.psql(
        f"INSERT INTO batches SELECT 'B', '{MARKER_B}', g FROM generate_series(1, 500) g",
        database="app",
    )
    lsn = cluster.psql("SELECT pg_switch_wal()")
    wait_archived(cluster, lsn, timeout=30)

    by_batch = "SELECT batch, count(*) FROM batches GROUP BY 1 ORDER BY 1"
    at_target = cluster.query_restored(
        restores / "to-target",
        by_batch,
        "--type=time",
        f"--target={target}",
        "--target-action=promote",
    )
    assert at_target == "A|1000"
    latest = cluster.query_restored(restores / "latest", by_batch)
    assert latest.splitlines() == ["A|1000", "B|500"]

    assert cluster.pgbackrest("verify").returncode == 0


def test_repository_is_encrypted(cluster: Cluster) -> None:
    files = [p for p in cluster.repository.rglob("*") if p.is_file()]
    assert files
    for path in files:
        content = path.read_bytes()
        # pgBackRest's aes-256-cbc files carry OpenSSL's salted header; nothing is in clear.
        assert content.startswith(b"Salted__"), path
        assert MARKER_A.encode() not in content and MARKER_B.encode() not in content


def test_committed_data_is_archived_within_archive_timeout(
    cluster: Cluster, restores: Path
) -> None:
    """After a restart too: a freshly started server switches no segment at archive_timeout
    until its first checkpoint, which the backup agent makes (ServerStartWatch)."""
    if not cluster.info()["backup"]:
        cluster.pgbackrest("--type=full", "backup")  # to restore the archived row onto
    cluster.stop()
    cluster.start()
    done = cluster.run(
        SYSTEM_PYTHON,
        "-c",
        "from prodstack_pg.agent import ServerStartWatch; from prodstack_pg.environment "
        "import Paths; print(ServerStartWatch(Paths.from_env()).checkpoint_if_restarted())",
        env=cluster.env(),
    )
    assert done.stdout.splitlines()[-1] == "True", done.stdout + done.stderr
    cluster.psql("CREATE TABLE IF NOT EXISTS heartbeat (at timestamptz)", database="app")
    time.sleep(ARCHIVE_TIMEOUT + 1)  # let the previous segment switch settle
    cluster.psql("INSERT INTO heartbeat VALUES (now())", database="app")
    lsn = cluster.psql("SELECT pg_current_wal_lsn()")
    gap = wait_archived(cluster, lsn, timeout=ARCHIVE_TIMEOUT * 3)
    # archive_timeout forces the switch; archiving the segment takes a moment more.
    assert gap <= ARCHIVE_TIMEOUT + 2, f"{gap:.1f} s"
    # And that segment is enough to recover the row: restore to the end of the archive.
    rows = cluster.query_restored(restores / "gap", "SELECT count(*) FROM heartbeat")
    assert rows == "1"


def test_restore_drill_reports_success_then_failure_on_a_corrupted_repository(
    cluster: Cluster,
) -> None:
    if not cluster.info()["backup"]:
        cluster.pgbackrest("--type=full", "backup")
    ok = cluster.module("prodstack_pg.drill", check=False, timeout=600)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert '"success": true' in ok.stdout and '"recorded": true' in ok.stdout
    # Recorded on the backup it restored, in the repository, where the agent reads it.
    newest = cluster.info()["backup"][-1]
    assert newest["annotation"]["prodstack-drill-success"] == "1"

    corrupted = cluster.root / "repo-corrupted"
    shutil.copytree(cluster.repository, corrupted)
    for path in (corrupted / "backup").rglob("*"):
        if path.is_file() and path.suffix not in (".info", ".copy"):
            path.write_bytes(b"\0" * max(1, path.stat().st_size))
    cluster.write_pgbackrest(corrupted, cluster.config / f"pgbackrest-{corrupted.name}.conf")
    owned_tempdir(corrupted, "postgres")
    owned_tempdir(cluster.config, "postgres")

    failed = cluster.module("prodstack_pg.drill", env=cluster.env(corrupted), check=False)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert '"success": false' in failed.stdout


def test_backup_agent_serves_backup_archive_and_drill_metrics(cluster: Cluster) -> None:
    """The drill runs apart from the agent (a job of its own); the agent finds its result
    on the backup in the repository, and keeps it in its state directory from its schedule
    loop (the backup it annotated expires), not while serving a scrape."""
    schedules = ("--full", "0 1 * * 0", "--diff", "0 1 * * 1-6")
    if not cluster.info()["backup"]:  # run alone: the agent's own full backup first
        cluster.module("prodstack_pg.agent", *schedules, "--once", "full")
    cluster.module("prodstack_pg.drill", timeout=600)
    port = free_port()
    agent = subprocess.Popen(
        as_user(
            "postgres",
            [SYSTEM_PYTHON, "-m", "prodstack_pg.agent", *schedules, "--metrics-port", str(port)],
        ),
        env=cluster.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    kept_file = cluster.paths.state_dir / "restore-drill.json"
    try:
        text = ""
        deadline = time.monotonic() + 60
        while "prodstack_restore_drill_success" not in text and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                    text = r.read().decode()
            except OSError:
                time.sleep(0.5)
        while not kept_file.exists() and time.monotonic() < deadline:
            time.sleep(0.5)  # the schedule loop keeps it, on its first round
    finally:
        os.killpg(agent.pid, signal.SIGTERM)
        agent.wait(timeout=30)
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    now = time.time()
    full = samples[("prodstack_backup_last_success_timestamp_seconds", (("type", "full"),))]
    assert now - 3600 < full <= now
    assert samples[("prodstack_backup_last_size_bytes", (("type", "full"),))] > 1_000_000
    archived = samples[("prodstack_wal_archive_last_success_timestamp_seconds", ())]
    assert now - 3600 < archived <= now
    assert samples[("prodstack_restore_drill_success", ())] == 1.0
    assert samples[("prodstack_restore_drill_duration_seconds", ())] > 0
    kept = json.loads(kept_file.read_text())
    assert (kept["success"], kept["started"]) == (
        True,
        samples[("prodstack_restore_drill_last_run_timestamp_seconds", ())],
    )


def test_a_rollover_keeps_both_logins_valid_then_retires_the_old_one(cluster: Cluster) -> None:
    """The logins keeper (prodstack_pg.logins) on this cluster: the second login acts as the
    app's role, and the first is refused only once it has been idle."""
    files = owned_tempdir(cluster.root, "postgres")
    old = {"app": cluster.files["login-app"], "app_b": cluster.files["login-app_b"]}
    deliver(files, LoginsConfig("app", "app_b", IDLE_SECONDS), old)
    env = cluster.env() | {
        "PRODSTACK_CONFIG": str(files),
        "PRODSTACK_SECRETS": str(files),
        "PRODSTACK_LOGINS_ALIVE": str(files / "alive"),
    }
    keeper = subprocess.Popen(
        as_user("postgres", [SYSTEM_PYTHON, "-m", "prodstack_pg.logins"]),
        env=env,
        stdout=open(cluster.root / "tmp" / "logins.log", "a"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def can_log_in(login: str, password: str) -> bool:
        return app_psql(cluster, "SELECT 1", user=login, password=password).returncode == 0

    def hold(login: str, password: str, seconds: float) -> None:
        app_psql(cluster, f"SELECT pg_sleep({seconds})", user=login, password=password)

    try:
        play_rollover(files, old, can_log_in, hold)
        # The second login creates what the app's role owns.
        made = app_psql(
            cluster,
            "CREATE TABLE made_by_b (x int); SELECT current_user, "
            "pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'made_by_b'",
            user="app_b",
            password=NEW_PASSWORD,
        )
        assert made.stdout.split() == ["app|app"], made.stderr
        assert (files / "alive").exists()
    finally:
        signal_group(keeper, signal.SIGTERM)
        cluster.psql("ALTER ROLE app LOGIN")  # for the module's other tests


def test_each_setting_is_marked_restart_exactly_when_the_server_reads_it_only_at_start(
    cluster: Cluster,
) -> None:
    """The restart view (components/postgres/config.py) leaves out what a reload applies:
    if a setting the server reads only at start were left out, a change to it would never
    reach the server; one marked needlessly would restart the only Postgres for nothing."""
    from components.postgres.config import PostgresConfig

    rendered = PostgresConfig(
        major=DEBIAN_MAJOR,
        memory_limit_mib=1024,
        max_connections=100,
        archive_timeout_seconds=60,
        slow_query_ms=500,
        hba_file="/x",
        tls_cert_file="/c",
        tls_key_file="/k",
    ).settings()
    names = [s.name for s in rendered if s.since <= DEBIAN_MAJOR]
    quoted = ", ".join(f"'{n}'" for n in names)
    rows = cluster.psql(f"SELECT name, context FROM pg_settings WHERE name IN ({quoted})")
    context = dict(line.split("|") for line in rows.splitlines())
    assert set(context) == set(names)  # each is a setting this server knows
    for setting in rendered:
        if setting.name in context:
            assert setting.restart == (context[setting.name] == "postmaster"), (
                setting.name,
                context[setting.name],
            )


def test_a_reloadable_setting_reaches_the_server_without_a_restart(cluster: Cluster) -> None:
    """The backup agent's watch (prodstack_pg.agent.ServerFileWatch) reads postgresql.conf
    through the server and has it reload when it changed: a new slow-query threshold applies
    and the server keeps running (the old render restarted the pod for any change)."""
    started = cluster.psql("SELECT pg_postmaster_start_time()")
    conf = cluster.config / "postgresql.conf"
    original = conf.read_text()
    assert "log_min_duration_statement = 500" in original
    watch = (
        "from prodstack_pg.agent import ServerFileWatch; "
        "from prodstack_pg.environment import Paths; "
        "w = ServerFileWatch(Paths.from_env()); "
        "assert not w.reload_if_changed(); "  # the first look only notes what it sees
        "import pathlib, time; p = pathlib.Path(w.files[0]); "
        "p.write_text(p.read_text().replace('log_min_duration_statement = 500', "
        "'log_min_duration_statement = 750')); "
        "assert w.reload_if_changed(); assert not w.reload_if_changed()"
    )
    try:
        cluster.run(
            SYSTEM_PYTHON,
            "-c",
            watch,
            env={
                **cluster.env(),
                "PRODSTACK_RELOAD_FILES": f"{conf}:{cluster.config / 'pg_hba.conf'}",
            },
        )
        deadline = time.monotonic() + 10
        while cluster.psql("SHOW log_min_duration_statement") != "750ms":
            assert time.monotonic() < deadline, cluster.psql("SHOW log_min_duration_statement")
            time.sleep(0.2)
        assert cluster.psql("SELECT pg_postmaster_start_time()") == started
    finally:
        conf.write_text(original)
        cluster.psql("SELECT pg_reload_conf()")
