"""Where things are, from the environment the placement sets (paths only, never secrets)."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

# Each path's environment variable and its default (the image's layout).
VARIABLES = {
    "bin_dir": "PG_BIN",
    "data_dir": "PGDATA",
    "config_file": "PG_CONFIG_FILE",
    "socket_dir": "PG_SOCKET_DIR",
    "secrets_dir": "PRODSTACK_SECRETS",
    "state_dir": "PRODSTACK_STATE",
    "scratch_dir": "PRODSTACK_SCRATCH",
    "port": "PGPORT",
    "stanza": "PGBACKREST_STANZA",
}
DEFAULTS = {
    "bin_dir": "/usr/lib/postgresql/17/bin",
    "data_dir": "/var/lib/postgresql/data/pgdata",
    "config_file": "/run/prodstack/config/postgresql.conf",
    "socket_dir": "/var/run/postgresql",
    "secrets_dir": "/run/prodstack/secrets",
    "state_dir": "/var/lib/postgresql/data/prodstack",
    "scratch_dir": "/var/lib/postgresql/scratch",
    "port": "5432",
    "stanza": "main",
}


@dataclass(frozen=True)
class Paths:
    bin_dir: Path
    data_dir: Path
    config_file: Path
    socket_dir: Path
    secrets_dir: Path
    state_dir: Path
    scratch_dir: Path
    port: int
    stanza: str

    @classmethod
    def from_env(cls) -> Paths:
        env = os.environ
        values = {field: env.get(var, DEFAULTS[field]) for field, var in VARIABLES.items()}
        return cls(
            bin_dir=Path(values["bin_dir"]),
            data_dir=Path(values["data_dir"]),
            config_file=Path(values["config_file"]),
            socket_dir=Path(values["socket_dir"]),
            secrets_dir=Path(values["secrets_dir"]),
            state_dir=Path(values["state_dir"]),
            scratch_dir=Path(values["scratch_dir"]),
            port=int(values["port"]),
            stanza=values["stanza"],
        )

    def as_env(self) -> dict[str, str]:
        """The environment that `from_env` reads these paths back from."""
        return {var: str(getattr(self, field)) for field, var in VARIABLES.items()}

    def secret(self, name: str) -> str:
        return (self.secrets_dir / name).read_text().strip()

    def psql(
        self,
        sql: str,
        database: str = "postgres",
        port: int | None = None,
        socket_dir: Path | None = None,
    ) -> str:
        """Run SQL as the postgres superuser over the local socket (peer authentication)."""
        result = subprocess.run(
            self.psql_command(database, port, socket_dir),
            input=sql,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(f"psql failed: {result.stderr.strip()}")
        return result.stdout.strip()

    def psql_command(
        self, database: str = "postgres", port: int | None = None, socket_dir: Path | None = None
    ) -> list[str]:
        """psql as the superuser over the socket, reading SQL from its standard input."""
        return [
            str(self.bin_dir / "psql"),
            "-X",
            "-qtA",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            str(socket_dir or self.socket_dir),
            "-p",
            str(port or self.port),
            "-U",
            "postgres",
            "-d",
            database,
        ]


def pgbackrest(
    paths: Paths, *args: str, timeout: float = 6 * 3600
) -> subprocess.CompletedProcess[str]:
    """pgBackRest, configured by PGBACKREST_CONFIG and PGBACKREST_CONFIG_INCLUDE_PATH."""
    return subprocess.run(
        ["pgbackrest", f"--stanza={paths.stanza}", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
