"""The Postgres container's entrypoint: initialise an empty volume, sync role passwords from
the secret files, then become the server (exec, so signals reach it directly)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from prodstack_pg import sql
from prodstack_pg.environment import Paths

APP_DATABASE = os.environ.get("PRODSTACK_DATABASE", "app")
APP_USER = os.environ.get("PRODSTACK_APP_USER", "app")
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


def local_only_server(paths: Paths, action: str) -> None:
    """Start or stop the server for maintenance: socket only, no archiving yet."""
    if action == "start":
        run(
            str(paths.bin_dir / "pg_ctl"),
            "-D",
            str(paths.data_dir),
            "-w",
            "-t",
            "120",
            "-o",
            f"-c config_file={paths.config_file} -c listen_addresses='' "
            f"-c archive_mode=off -c port={paths.port}",
            "-l",
            str(Path(tempfile.gettempdir()) / "postgres-init.log"),
            "start",
        )
    else:
        run(str(paths.bin_dir / "pg_ctl"), "-D", str(paths.data_dir), "-m", "fast", "-w", "stop")


def prepare(paths: Paths, new_cluster: bool) -> None:
    local_only_server(paths, "start")
    try:
        paths.psql(
            sql.roles_sql(
                APP_USER,
                paths.secret("postgres-app-password"),
                MONITOR_USER,
                paths.secret("postgres-monitor-password"),
            )
        )
        if new_cluster:
            paths.psql(sql.database_sql(APP_DATABASE, APP_USER))
        paths.psql(sql.EXTENSIONS_SQL, database=APP_DATABASE)
    finally:
        local_only_server(paths, "stop")


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
