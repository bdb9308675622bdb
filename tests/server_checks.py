"""Each server's own check of a rendered Docker stack's configuration, on this machine.

What runs: `nginx -t` for the edge and the frontend; pgBackRest reading its configuration
(`help backup` loads and validates every option without reaching a repository); Postgres
started on its postgresql.conf and pg_hba.conf and stopped again; Redis started on its
redis.conf and ACL file, answering PING, and stopped again; `promtool check config` and `check rules`;
`amtool check-config`; the blackbox exporter's `--config.check`.

Only what ties a file to its container changes before a check, each by its key: paths under
/run/prodstack and /tmp move into a work directory holding a test CA's certificate and key,
ports become free loopback ports, upstream host names become 127.0.0.1 (nginx resolves them
when it loads), and Postgres' archive_command becomes `true` (pgBackRest's own configuration
is checked on its own; a failing archiver would hold up the shutdown). Every other line is the
stack's own.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from components.exporters import NGINX_STATUS
from infra.render.mock_runtime import Recording
from tests.certificates import issue, make_ca
from tests.components.redis.server import RedisServer
from tests.live import adapt, as_user, free_port, owned_tempdir, rendered_files

PG_BIN = Path("/usr/lib/postgresql/15/bin")
# The servers' programs, for require().
PROGRAMS = (
    "/usr/sbin/nginx",
    "pgbackrest",
    str(PG_BIN / "postgres"),
    "redis-server",
    "promtool",
    "amtool",
    "prometheus-blackbox-exporter",
    "openssl",
    "runuser",
)
TIMEOUT = 60


@dataclass
class Failure:
    server: str
    output: str

    def __str__(self) -> str:
        return f"{self.server}: {self.output.strip()[-1500:]}"


def _run(command: list[str], cwd: Path | None = None) -> tuple[int, str]:
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=TIMEOUT, check=False, cwd=cwd
    )
    return result.returncode, result.stdout + result.stderr


def _container(recording: Recording, role: str) -> str | None:
    """The first replica of a role (prodstack-dev-edge-0), if the stack runs one."""
    names = {r.name for r in recording.of_type("docker:index/container:Container")}
    return next((n for n in sorted(names) if re.fullmatch(rf".*-{role}-0", n)), None)


@dataclass
class ServerChecks:
    """A work directory with a test CA and an initialised Postgres cluster, reused by every
    check (each writes its files afresh)."""

    root: Path
    cluster: Path = field(init=False)
    # The test CA, and the certificate and key it signed for localhost.
    ca: Path = field(init=False)
    cert: Path = field(init=False)
    key: Path = field(init=False)

    def __post_init__(self) -> None:
        for directory in ("run/secrets", "run/config", "run/status", "tmp", "socket", "data"):
            (self.root / directory).mkdir(parents=True, exist_ok=True)
        ca = make_ca(self.root)
        self.ca = ca[1]
        self.key, self.cert = issue(self.root, ca, "server")
        for name in ("tls", "internal-tls"):
            shutil.copy(self.cert, self.root / "run/secrets" / f"{name}.crt")
            shutil.copy(self.key, self.root / "run/secrets" / f"{name}.key")
        shutil.copy(self.ca, self.root / "run/config/internal-ca.crt")
        self.cluster = self.root / "cluster"
        owned_tempdir(self.root, "postgres")
        subprocess.run(
            as_user("postgres", [str(PG_BIN / "initdb"), "-D", str(self.cluster), "-A", "trust"]),
            capture_output=True,
            check=True,
            timeout=TIMEOUT,
        )

    def localised(self, text: str) -> str:
        """Container paths moved into the work directory (before any path of its own is put
        in: the work directory is itself under /tmp)."""
        text = re.sub(r"(?<![\w/])/tmp/", f"{self.root}/tmp/", text)
        text = text.replace(f"{NGINX_STATUS.mount_path}/", f"{self.root}/run/status/")
        return text.replace("/run/prodstack/", f"{self.root}/run/")

    def failures(self, recording: Recording) -> list[Failure]:
        checks: dict[str, Callable[[dict[str, str]], str | None]] = {
            "edge": self.nginx("nginx.conf"),
            "frontend": self.nginx("frontend.conf"),
            "postgres": self.postgres,
            "redis": self.redis,
            "prometheus": self.prometheus,
            "alertmanager": self.alertmanager,
            "blackbox": self.blackbox,
        }
        failures = []
        for role, check in checks.items():
            name = _container(recording, role)
            if name is None:
                continue
            problem = check(rendered_files(recording, name))
            if problem is not None:
                failures.append(Failure(role, problem))
        return failures

    # -- each server's check: None when it accepts, else what it said ---------------------

    def nginx(self, config: str) -> Callable[[dict[str, str]], str | None]:
        def check(files: dict[str, str]) -> str | None:
            text = self.localised(files[config])
            # nginx resolves upstream servers when it loads: the stack's names are Docker's.
            text = re.sub(r"(?m)^(\s*server )[a-z][a-z0-9.-]*(:\d+;)", r"\g<1>127.0.0.1\2", text)
            path = self.root / config
            path.write_text(text)
            code, output = _run(["/usr/sbin/nginx", "-t", "-q", "-c", str(path)])
            return None if code == 0 else output

        return check

    def postgres(self, files: dict[str, str]) -> str | None:
        code, output = self._pgbackrest(files["pgbackrest.conf"])
        if code != 0 or "WARN" in output:
            return f"pgbackrest: {output}"
        config = self.root / "postgresql.conf"
        port = free_port()
        overrides = {
            "port": str(port),
            "unix_socket_directories": f"'{self.root / 'socket'}'",
            "hba_file": f"'{self.root / 'pg_hba.conf'}'",
            "archive_command": "'true'",
            "listen_addresses": "'127.0.0.1'",
        }
        config.write_text(adapt(self.localised(files["postgresql.conf"]), overrides))
        (self.root / "pg_hba.conf").write_text(files["pg_hba.conf"])
        owned_tempdir(self.root, "postgres")
        # Every setting as the server reads it (-C loads and checks the whole file), before
        # starting: a memory limit larger than this machine's is valid but cannot start here.
        code, output = _run(
            as_user("postgres", [str(PG_BIN / "postgres"), "-D", str(self.cluster),
                                 "-c", f"config_file={config}", "-C", "shared_buffers"])
        )  # fmt: skip
        if code != 0:
            return output
        start = [str(PG_BIN / "pg_ctl"), "-D", str(self.cluster), "-w", "-t", "30"]
        server = f"-c config_file={config}" + _within_this_machine(files["postgresql.conf"])
        options = ["-o", server, "-l", str(self.root / "postgres.log")]
        code, output = _run(as_user("postgres", [*start, *options, "start"]))
        log = (self.root / "postgres.log").read_text(errors="replace")
        if code != 0:
            return output + log
        code, output = _run(as_user("postgres", [*start, "-m", "fast", "stop"]))
        return None if code == 0 else output

    def _pgbackrest(self, text: str) -> tuple[int, str]:
        path = self.root / "pgbackrest.conf"
        path.write_text(self.localised(text))
        return _run(["pgbackrest", f"--config={path}", "--stanza=main", "help", "backup"])

    def redis(self, files: dict[str, str]) -> str | None:
        """Started as its live tests start it (tests/components/redis/server.py), through the
        rendered entry point when it speaks TLS, and answering PING."""
        server = RedisServer(Path(tempfile.mkdtemp(dir=self.root)), files)
        server.prepare()
        if server.tls:
            server.install_tls(self.key, self.cert, self.ca)
        owned_tempdir(server.root, "redis")
        try:
            server.start()
        except AssertionError as refused:
            return str(refused)
        finally:
            if server.process is not None and server.process.poll() is None:
                server.kill(signal.SIGTERM)
        return None

    def prometheus(self, files: dict[str, str]) -> str | None:
        rules = self.root / "run/config/rules.yml"
        rules.write_text(files["rules.yml"])
        code, output = _run(["promtool", "check", "rules", str(rules)])
        if code != 0:
            return output
        config = self.root / "prometheus.yml"
        config.write_text(self.localised(files["prometheus.yml"]))
        code, output = _run(["promtool", "check", "config", str(config)])
        return None if code == 0 else output

    def blackbox(self, files: dict[str, str]) -> str | None:
        config = self.root / "blackbox.yml"
        config.write_text(self.localised(files["blackbox.yml"]))
        if "probe-ca.crt" in files:
            (self.root / "run/config/probe-ca.crt").write_text(files["probe-ca.crt"])
        code, output = _run(
            ["prometheus-blackbox-exporter", f"--config.file={config}", "--config.check"]
        )
        return None if code == 0 else output

    def alertmanager(self, files: dict[str, str]) -> str | None:
        config = self.root / "alertmanager.yml"
        config.write_text(self.localised(files["alertmanager.yml"]))
        code, output = _run(["amtool", "check-config", str(config)])
        return None if code == 0 else output


def _within_this_machine(postgresql_conf: str) -> str:
    """Server options that shrink shared_buffers to a quarter of this machine's memory when
    the stack's (a quarter of the container's limit) is larger: Postgres allocates it at start,
    and a limit of a terabyte is valid on a node that has one."""
    match = re.search(r"^shared_buffers = '(\d+)MB'", postgresql_conf, re.MULTILINE)
    available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20 // 4
    if match and int(match[1]) > available:
        return f" -c shared_buffers={available}MB"
    return ""
