"""Redis run on loopback by Debian's redis-server, from the files the stack renders."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from components.redis.component import ADMIN_PASSWORD_FILE, redis_command
from components.workload import TlsFiles
from tests.certificates import install
from tests.live import adapt, as_user, free_port, signal_group


@dataclass
class RedisServer:
    root: Path
    files: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    # The CA the server's certificate is checked against, when it speaks TLS only.
    ca: Path | None = None

    @property
    def socket(self) -> Path:
        """The socket the exporter beside the server reads (components/redis/config.py)."""
        return self.root / "redis.sock"

    @property
    def tls(self) -> bool:
        return "tls-port" in self.files["redis.conf"]

    def prepare(self) -> None:
        (self.root / "data").mkdir()
        paths = {
            "dir": str(self.root / "data"),
            "aclfile": str(self.root / "users.acl"),
            "unixsocket": str(self.socket),
        }
        if self.tls:
            paths |= {
                "tls-port": str(self.port),
                "tls-cert-file": str(self.root / "tls.crt"),
                "tls-key-file": str(self.root / "tls.key"),
                "tls-ca-cert-file": str(self.root / "ca.crt"),
            }
        else:
            paths["port"] = str(self.port)
        conf = adapt(self.files["redis.conf"], paths, pattern=r"^{key} .*$", line="{key} {value}")
        (self.root / "redis.conf").write_text(conf)
        (self.root / "users.acl").write_text(self.files["users.acl"])

    def install_tls(self, key: Path, cert: Path, ca: Path) -> None:
        """Replaced atomically, as a renewal of the mounted Secret would."""
        for source, name in ((cert, "tls.crt"), (key, "tls.key"), (ca, "ca.crt")):
            install(source, self.root / name, "redis")
        self.ca = ca

    def start(self, reload_seconds: int = 1) -> None:
        """Through the rendered entry point when the stack renders one (TLS), as the
        container runs it."""
        conf = str(self.root / "redis.conf")
        command = ["redis-server", conf]
        if "watch.sh" in self.files:
            (self.root / "watch.sh").write_text(self.files["watch.sh"])
            # The admin's password, with which the watcher has Redis reload its certificate.
            (self.root / ADMIN_PASSWORD_FILE).write_text(self.files[ADMIN_PASSWORD_FILE])
            command = [
                "env",
                f"PRODSTACK_RELOAD_SECONDS={reload_seconds}",
                # The container's command (components/redis/component.py), on this
                # machine's paths.
                *redis_command(
                    conf,
                    TlsFiles(
                        str(self.root / "tls.crt"),
                        str(self.root / "tls.key"),
                        ca_file=str(self.root / "ca.crt"),
                    ),
                    script=str(self.root / "watch.sh"),
                    socket=str(self.socket),
                    secrets_dir=str(self.root),
                ),
            ]
        self.process = subprocess.Popen(
            as_user("redis", command),
            stdout=open(self.root / "redis.log", "ab"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.cli("healthcheck", "none", "PING").stdout.strip() == "PONG":
                return
            time.sleep(0.1)
        raise AssertionError((self.root / "redis.log").read_text())

    def kill(self, sig: int) -> None:
        assert self.process is not None
        signal_group(self.process, sig)

    def cli(
        self, user: str | None, password: str | None, *command: str
    ) -> subprocess.CompletedProcess[str]:
        auth = ["--user", user, "--pass", password] if user and password else []
        tls = ["--tls", "--cacert", str(self.ca), "-h", "localhost"] if self.ca else []
        return subprocess.run(
            ["redis-cli", *tls, "--no-auth-warning", "-p", str(self.port), *auth, *command],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
