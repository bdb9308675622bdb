"""Where things are, from the environment the placement sets (paths only, never secrets)."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path


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
        return cls(
            bin_dir=Path(env.get("PG_BIN", "/usr/lib/postgresql/17/bin")),
            data_dir=Path(env.get("PGDATA", "/var/lib/postgresql/data/pgdata")),
            config_file=Path(env.get("PG_CONFIG_FILE", "/run/prodstack/config/postgresql.conf")),
            socket_dir=Path(env.get("PG_SOCKET_DIR", "/var/run/postgresql")),
            secrets_dir=Path(env.get("PRODSTACK_SECRETS", "/run/prodstack/secrets")),
            state_dir=Path(env.get("PRODSTACK_STATE", "/var/lib/postgresql/data/prodstack")),
            scratch_dir=Path(env.get("PRODSTACK_SCRATCH", "/var/lib/postgresql/scratch")),
            port=int(env.get("PGPORT", "5432")),
            stanza=env.get("PGBACKREST_STANZA", "main"),
        )

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
            [
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
            ],
            input=sql,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(f"psql failed: {result.stderr.strip()}")
        return result.stdout.strip()


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
