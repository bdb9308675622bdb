"""The Postgres container's entrypoint: initialise an empty volume, sync role passwords from
the secret files, then become the server (exec, so signals reach it directly)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from prodstack_pg import sql
from prodstack_pg.environment import Paths

APP_DATABASE = os.environ.get("PRODSTACK_DATABASE", "app")
APP_USER = os.environ.get("PRODSTACK_APP_USER", "app")
# The app's logins, its own role first (components/postgres/component.py).
APP_LOGINS = os.environ.get("PRODSTACK_APP_LOGINS", APP_USER).split(",")
MONITOR_USER = os.environ.get("PRODSTACK_MONITOR_USER", "monitor")


def log(message: str) -> None:
    print(f"prodstack-postgres: {message}", flush=True)


def run(*command: str) -> None:
    subprocess.run(command, check=True)


def initialise(paths: Paths) -> bool:
    """initdb on an empty data directory; True when it did."""
    if (paths.data_dir / "PG_VERSION").exists():
        return False
    paths.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    log(f"initialising {paths.data_dir}")
    run(
        str(paths.bin_dir / "initdb"),
        "-D",
        str(paths.data_dir),
        "-U",
        "postgres",
        "--data-checksums",
        "--auth-local=peer",
        "--auth-host=scram-sha-256",
        "--encoding=UTF8",
        "--locale=C.UTF-8",
    )
    return True


def maintenance_server(paths: Paths, socket_dir: Path, action: str) -> None:
    """Start or stop the server for maintenance: no TCP, no archiving, and a private socket,
    so neither clients nor readiness probes mistake it for the real server."""
    if action == "start":
        options = (
            f"-c config_file={paths.config_file} -c listen_addresses='' "
            f"-c unix_socket_directories={socket_dir} -c archive_mode=off -c port={paths.port}"
        )
        run(
            str(paths.bin_dir / "pg_ctl"),
            "-D",
            str(paths.data_dir),
            "-w",
            "-t",
            "600",
            "-o",
            options,
            "-l",
            str(socket_dir / "maintenance.log"),
            "start",
        )
    else:
        run(str(paths.bin_dir / "pg_ctl"), "-D", str(paths.data_dir), "-m", "fast", "-w", "stop")


def prepare(paths: Paths, new_cluster: bool) -> None:
    """Roles and passwords every start (so a rotated secret takes effect), the database once."""
    socket_dir = Path(tempfile.mkdtemp(prefix="pg-maintenance-"))
    maintenance_server(paths, socket_dir, "start")
    try:
        passwords = sql.roles_sql(
            MONITOR_USER,
            paths.secret("postgres-monitor-password"),
            {login: paths.secret(f"login-{login}") for login in APP_LOGINS},
        )
        paths.psql(passwords, socket_dir=socket_dir)
        if new_cluster:
            paths.psql(sql.database_sql(APP_DATABASE, APP_USER), socket_dir=socket_dir)
        paths.psql(sql.EXTENSIONS_SQL, database=APP_DATABASE, socket_dir=socket_dir)
    finally:
        maintenance_server(paths, socket_dir, "stop")
    # Kept when the maintenance server failed: its log is in there.
    shutil.rmtree(socket_dir, ignore_errors=True)


def main() -> None:
    paths = Paths.from_env()
    paths.socket_dir.mkdir(parents=True, exist_ok=True)
    new_cluster = initialise(paths)
    prepare(paths, new_cluster)
    log("starting postgres")
    postgres = str(paths.bin_dir / "postgres")
    os.execv(
        postgres,
        [
            postgres,
            "-D",
            str(paths.data_dir),
            "-c",
            f"config_file={paths.config_file}",
            *sys.argv[1:],
        ],
    )


if __name__ == "__main__":
    main()
