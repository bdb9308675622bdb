"""The edge on loopback: Debian's nginx, started by the rendered entrypoint (the reloader) from
the rendered nginx.conf, in front of an upstream of the test's choosing."""

from __future__ import annotations

import http.client
import os
import signal
import ssl
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from components.edge.component import edge_command
from components.exporters import NGINX_STATUS
from components.workload import TlsFiles
from tests.certificates import issue, make_ca
from tests.images.reference_api import RunningApi, start_api
from tests.live import (
    as_user,
    free_ports,
    owned_tempdir,
    rendered_files,
    require,
    server_root,
    wait_for_port,
)
from tests.support import render

DEBIAN_NGINX = "1.22"


def require_nginx() -> None:
    require("/usr/sbin/nginx", "openssl")


def stack_files(
    values: dict[str, object] | None = None, monitoring: dict[str, object] | None = None
) -> dict[str, str]:
    """The edge's files as the dev stack renders them, for Debian's nginx version."""
    recording = render(
        "dev",
        {"edge": {"nginxVersion": DEBIAN_NGINX, **(values or {})}, "monitoring": monitoring or {}},
    )
    return rendered_files(recording, "prodstack-dev-edge-0")


def replace_exact(text: str, replacements: dict[str, str]) -> str:
    """Swap rendered paths and ports for the test's; each must be in the rendered text."""
    for old, new in replacements.items():
        if old not in text:
            raise AssertionError(f"{old!r} is not in the rendered configuration")
        text = text.replace(old, new)
    return text


def nginx_scratch(root: Path, status_port: int, conf: str = "") -> dict[str, str]:
    """An nginx of the stack's status port, status socket, pid, temporary files and (when
    `conf` has one) its cache, moved into `root`/tmp (replace_exact's replacements)."""
    moved = {
        "listen 127.0.0.1:8081;": f"listen 127.0.0.1:{status_port};",
        f"listen unix:{NGINX_STATUS.mount_path}/": f"listen unix:{root}/tmp/",
        "pid /tmp/": f"pid {root}/tmp/",
        "_temp_path /tmp/": f"_temp_path {root}/tmp/",
    }
    if "proxy_cache_path /tmp/" in conf:
        moved["proxy_cache_path /tmp/"] = f"proxy_cache_path {root}/tmp/"
    return moved


@dataclass
class Edge:
    root: Path
    files: dict[str, str]
    upstream: str
    # Other upstreams than the API: their in-stack address (frontend:8080) and this machine's.
    other_upstreams: dict[str, str] = field(default_factory=dict)
    # Distinct free ports, picked together (0: pick).
    http_port: int = 0
    https_port: int = 0
    status_port: int = 0
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        if not (self.http_port and self.https_port and self.status_port):
            self.http_port, self.https_port, self.status_port = free_ports(3)

    @property
    def log(self) -> Path:
        return self.root / "edge.log"

    def prepare(self, ca: tuple[Path, Path]) -> None:
        (self.root / "tmp").mkdir(exist_ok=True)
        self.key, self.cert = issue(self.root, ca, "server")
        conf = replace_exact(
            self.files["nginx.conf"],
            {
                "listen 8080": f"listen 127.0.0.1:{self.http_port}",
                "listen 8443 ssl": f"listen 127.0.0.1:{self.https_port} ssl",
                **nginx_scratch(self.root, self.status_port, self.files["nginx.conf"]),
                "/run/prodstack/secrets/tls.crt": str(self.root / "tls.crt"),
                "/run/prodstack/secrets/tls.key": str(self.root / "tls.key"),
                # the upstream: the API's address on this machine
                " api:8080;": f" {self.upstream};",
                **{f" {ours};": f" {here};" for ours, here in self.other_upstreams.items()},
            },
        )
        (self.root / "nginx.conf").write_text(conf)
        (self.root / "watch.sh").write_text(self.files["watch.sh"])
        self.install_certificate(self.cert, self.key)

    def install_certificate(self, cert: Path, key: Path) -> None:
        for source, target in ((cert, "tls.crt"), (key, "tls.key")):
            temporary = self.root / f".{target}"
            temporary.write_bytes(source.read_bytes())
            temporary.replace(self.root / target)  # atomic, as a Secret volume update is
        owned_tempdir(self.root, "www-data")

    def start(self, reload_seconds: int = 30, prefix: tuple[str, ...] = ()) -> None:
        """`prefix` runs the entrypoint under another command (taskset, for the benchmark)."""
        # nginx reopens /dev/stderr by path, as www-data: the log must be www-data's file.
        self.log.touch()
        owned_tempdir(self.root, "www-data")

        self.process = subprocess.Popen(
            as_user(
                "www-data",
                [
                    *prefix,
                    # The container's command (components/edge/component.py), on this
                    # machine's paths.
                    *edge_command(
                        str(self.root / "nginx.conf"),
                        TlsFiles(str(self.root / "tls.crt"), str(self.root / "tls.key")),
                        script=str(self.root / "watch.sh"),
                    ),
                ],
            ),
            env={
                "PATH": "/usr/sbin:/usr/bin:/bin",
                "PRODSTACK_RELOAD_SECONDS": str(reload_seconds),
            },
            stdout=open(self.log, "ab"),  # noqa: SIM115 - lives as long as the process
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for_port(self.process, self.status_port, self.log, "nginx")

    def stop(self) -> int | None:
        """SIGTERM to the entrypoint alone, as the container runtime sends it to PID 1."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        children = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(self.process.pid)],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.split()
        entrypoint = int(children[0]) if os.geteuid() == 0 and children else self.process.pid
        os.kill(entrypoint, signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)

    def context(self, ca: Path, version: ssl.TLSVersion | None = None) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(ca))
        if version is not None:
            # Let the client offer old versions, so a refusal can only be the server's.
            context.set_ciphers("DEFAULT:@SECLEVEL=0")
            context.minimum_version = version
            context.maximum_version = version
        return context


SECURITY_HEADERS = (
    "Strict-Transport-Security",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "Referrer-Policy",
    "Permissions-Policy",
    "Content-Security-Policy",
)


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes


def https_request(
    edge: Edge,
    ca: Path,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> Reply:
    """One request to the edge's HTTPS port, by the stack's name, trusting `ca`."""
    connection = http.client.HTTPSConnection(
        "localhost", edge.https_port, context=edge.context(ca), timeout=10
    )
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        connection.close()


class HasHeaders(Protocol):
    status: int

    @property
    def headers(self) -> Any: ...  # an HTTPMessage, or a dict of one (tests/e2e)


def assert_security_headers(reply: HasHeaders) -> None:
    """Every security header the edge sends, on this reply (an error included): the live
    harness's replies and the running stack's alike."""
    missing = [h for h in SECURITY_HEADERS if not reply.headers.get(h)]
    assert not missing, (reply.status, missing)
    assert "max-age=31536000" in reply.headers["Strict-Transport-Security"]
    assert reply.headers["X-Content-Type-Options"] == "nosniff"


@dataclass
class EdgeAndApi:
    edge: Edge
    ca: tuple[Path, Path]
    api: RunningApi
    root: Path


@contextmanager
def edge_in_front_of_api(
    reload_seconds: int = 30,
    edge_settings: dict[str, object] | None = None,
    files: dict[str, str] | None = None,
) -> Iterator[EdgeAndApi]:
    """The dev stack's edge (with `edge_settings` over dev's), or one of the given `files`,
    on loopback, certified by a fresh test CA, in front of the reference API; both stopped
    on exit."""
    require_nginx()
    with server_root("www-data") as root:
        ca = make_ca(root)
        (root / "api").mkdir()
        api = start_api(root / "api", [])
        api_address = f"127.0.0.1:{api.base.rsplit(':', 1)[1]}"
        edge = Edge(root / "edge", files or stack_files(edge_settings), api_address)
        (root / "edge").mkdir()
        owned_tempdir(root, "www-data")
        edge.prepare(ca)
        edge.start(reload_seconds=reload_seconds)
        try:
            yield EdgeAndApi(edge, ca, api, root)
        finally:
            edge.stop()
            api.process.kill()
            api.process.wait()
