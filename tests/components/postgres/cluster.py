"""A Postgres cluster on loopback, started by the image's own entrypoint (prodstack_pg.server)
from the files the stack renders, with pgBackRest archiving into a local repository."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.certificates import install
from tests.live import adapt, as_user, free_port, owned_tempdir, rendered_files, require
from tests.support import ROOT, render

# The image's own code: where its programs find things, and how they run psql.
sys.path.insert(0, str(ROOT / "images" / "postgres"))
from prodstack_pg.environment import Paths

PG_BIN = Path("/usr/lib/postgresql/15/bin")
DEBIAN_MAJOR = 15
SYSTEM_PYTHON = "/usr/bin/python3"


def require_postgres() -> None:
    require(str(PG_BIN / "postgres"), "pgbackrest", SYSTEM_PYTHON, "runuser")


def stack_files(archive_timeout: int = 10, tls: bool = False) -> dict[str, str]:
    """The Postgres files of the dev stack, rendered for Debian's major."""
    recording = render(
        "dev",
        {
            "postgres": {
                "version": DEBIAN_MAJOR,
                "archiveTimeoutSeconds": archive_timeout,
                "tls": tls,
            }
        },
    )
    return rendered_files(recording, "prodstack-dev-postgres-0")


@dataclass
class Cluster:
    root: Path
    files: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[str] | None = None

    # -- layout -------------------------------------------------------------------------------

    @property
    def data(self) -> Path:
        return self.root / "volume" / "pgdata"

    @property
    def socket(self) -> Path:
        return self.root / "run"

    @property
    def repository(self) -> Path:
        return self.root / "repo"

    @property
    def config(self) -> Path:
        return self.root / "config"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets"

    @property
    def paths(self) -> Paths:
        """The image's layout, moved into this cluster's directory."""
        return Paths(
            bin_dir=PG_BIN,
            data_dir=self.data,
            config_file=self.config / "postgresql.conf",
            socket_dir=self.socket,
            secrets_dir=self.secrets,
            state_dir=self.root / "volume" / "prodstack",
            scratch_dir=self.root / "scratch",
            port=self.port,
            stanza="main",
        )

    def env(self, repository: Path | None = None) -> dict[str, str]:
        return {
            "PATH": f"{PG_BIN}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.root),
            "PYTHONPATH": str(self.root / "code"),
            **self.paths.as_env(),
            "PGBACKREST_CONFIG": str(
                self.config
                / (
                    "pgbackrest.conf"
                    if repository is None
                    else f"pgbackrest-{repository.name}.conf"
                )
            ),
            "PGBACKREST_CONFIG_INCLUDE_PATH": str(self.secrets),
        }

    def prepare(self) -> None:
        """Lay out the rendered files, with only paths and ports adapted."""
        for directory in ("config", "secrets", "run", "repo", "scratch", "volume", "tmp", "code"):
            (self.root / directory).mkdir(parents=True, exist_ok=True)
        code = self.root / "code"
        shutil.copytree(ROOT / "images" / "postgres" / "prodstack_pg", code / "prodstack_pg")
        shutil.copy(ROOT / "images" / "scripts" / "cron_runner.py", code / "cron_runner.py")
        paths = {
            "port": str(self.port),
            "unix_socket_directories": f"'{self.socket}'",
            "hba_file": f"'{self.config / 'pg_hba.conf'}'",
        }
        if "ssl_cert_file" in self.files["postgresql.conf"]:
            paths["ssl_cert_file"] = f"'{self.tls_cert}'"
            paths["ssl_key_file"] = f"'{self.tls_key}'"
        self.config.joinpath("postgresql.conf").write_text(
            adapt(self.files["postgresql.conf"], paths)
        )
        self.config.joinpath("pg_hba.conf").write_text(self.files["pg_hba.conf"])
        self.write_pgbackrest(self.repository, self.config / "pgbackrest.conf")
        for name in (
            "login-app",
            "login-app_b",
            "postgres-monitor-password",
            "pgbackrest-secrets.conf",
        ):
            self.secrets.joinpath(name).write_text(self.files[name])
        owned_tempdir(self.root, "postgres")
        os.chmod(self.secrets, 0o700)

    @property
    def tls_cert(self) -> Path:
        return self.secrets / "internal-tls.crt"

    @property
    def tls_key(self) -> Path:
        return self.secrets / "internal-tls.key"

    def install_tls(self, key: Path, cert: Path) -> None:
        """The server's certificate and key, as the placement delivers them (the key
        readable by the server alone), replaced atomically as a renewal would."""
        install(cert, self.tls_cert, "postgres")
        install(key, self.tls_key, "postgres")

    def write_pgbackrest(self, repository: Path, target: Path) -> None:
        target.write_text(
            adapt(
                self.files["pgbackrest.conf"],
                {
                    "repo1-path": str(repository),
                    "pg1-path": str(self.data),
                    "pg1-socket-path": str(self.socket),
                    "pg1-port": str(self.port),
                    "lock-path": str(self.root / "tmp"),
                    "log-path": str(self.root / "tmp"),
                },
                pattern=r"^{key}=.*$",
                line="{key}={value}",
            )
        )

    # -- processes ----------------------------------------------------------------------------

    def run(
        self,
        *command: str,
        env: dict[str, str] | None = None,
        check: bool = True,
        timeout: float = 600,
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            as_user("postgres", command),
            env=env or self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"{command} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def module(
        self,
        module: str,
        *args: str,
        env: dict[str, str] | None = None,
        check: bool = True,
        timeout: float = 600,
    ) -> subprocess.CompletedProcess[str]:
        return self.run(SYSTEM_PYTHON, "-m", module, *args, env=env, check=check, timeout=timeout)

    def start(self) -> None:
        """The image's entrypoint: initdb on first start, roles and passwords, then postgres."""
        log = open(self.root / "tmp" / "server.log", "a")  # noqa: SIM115 - lives with the process
        self.process = subprocess.Popen(
            as_user("postgres", [SYSTEM_PYTHON, "-m", "prodstack_pg.server"]),
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # runuser does not pass signals on; the group gets them
        )
        self.wait_ready(self.socket, self.port)

    def wait_ready(self, socket_dir: Path, port: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready = self.run(
                str(PG_BIN / "pg_isready"),
                "-q",
                "-h",
                str(socket_dir),
                "-p",
                str(port),
                check=False,
            )
            if ready.returncode == 0:
                return
            if self.process is not None and self.process.poll() is not None:
                break
            time.sleep(0.3)
        log = (self.root / "tmp" / "server.log").read_text(errors="replace")
        raise AssertionError(f"postgres did not become ready:\n{log[-3000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)  # fast shutdown
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None

    def psql(
        self,
        sql: str,
        database: str = "postgres",
        port: int | None = None,
        socket_dir: Path | None = None,
    ) -> str:
        command = self.paths.psql_command(database, port, socket_dir)
        return self.run(*command, "-c", sql).stdout.strip()

    def pgbackrest(
        self, *args: str, repository: Path | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return self.run("pgbackrest", "--stanza=main", *args, env=self.env(repository), check=check)

    def info(self) -> dict[str, Any]:
        return dict(json.loads(self.pgbackrest("--output=json", "info").stdout)[0])

    # -- restores -------------------------------------------------------------------------------

    def restore(self, target: Path, *options: str) -> None:
        target.mkdir(mode=0o700)
        owned_tempdir(target, "postgres")
        os.chmod(target, 0o700)
        self.pgbackrest(f"--pg1-path={target}", *options, "restore")

    def throwaway(self, data: Path) -> tuple[int, Path]:
        """Start a server on a restored directory, beside the main one; returns port, socket."""
        port, socket_dir = free_port(), data.parent / f"{data.name}-run"
        socket_dir.mkdir()
        owned_tempdir(socket_dir, "postgres")
        self.run(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(data),
            "-w",
            "-t",
            "120",
            "-l",
            str(data.parent / f"{data.name}.log"),
            "-o",
            f"-c config_file={self.config / 'postgresql.conf'} -c port={port} "
            f"-c unix_socket_directories={socket_dir} -c archive_mode=off",
            "start",
        )
        self.wait_promoted(port, socket_dir)
        return port, socket_dir

    def wait_promoted(self, port: int, socket_dir: Path, timeout: float = 300) -> None:
        """A restored server accepts read-only connections while it still replays WAL; the
        restore is complete only once recovery has ended."""
        deadline = time.monotonic() + timeout
        while self.psql("SELECT pg_is_in_recovery()", port=port, socket_dir=socket_dir) != "f":
            if time.monotonic() > deadline:
                raise AssertionError("the restored server did not finish recovery")
            time.sleep(0.2)

    def query_restored(self, target: Path, sql: str, *options: str, database: str = "app") -> str:
        """Restore into `target`, start it, wait for recovery to end, query, stop."""
        self.restore(target, *options)
        port, socket_dir = self.throwaway(target)
        try:
            return self.psql(sql, database=database, port=port, socket_dir=socket_dir)
        finally:
            self.stop_throwaway(target)

    def stop_throwaway(self, data: Path) -> None:
        self.run(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop", check=False)
