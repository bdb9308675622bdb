"""The frontend on loopback: the reference frontend built by its own build script, served by
Debian's nginx from the rendered frontend.conf, behind the rendered edge in front of the
reference API."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.certificates import make_ca
from tests.components.edge.server import (
    DEBIAN_NGINX,
    Edge,
    nginx_scratch,
    replace_exact,
    require_nginx,
)
from tests.images.reference_api import RunningApi, start_api
from tests.live import (
    as_user,
    free_ports,
    owned_tempdir,
    rendered_files,
    server_root,
    wait_for_port,
)
from tests.support import ROOT, render

SOURCE = ROOT / "images" / "frontend" / "src"
# The edge's address for the frontend in the rendered dev stack (its container's name).
IN_STACK = "frontend:8080"


def build_app(dist: Path, source: Path = SOURCE) -> Path:
    """The reference frontend as its image holds it: images/frontend/src/build.sh's output
    (from `source`, a changed copy of the sources for a new release)."""
    subprocess.run(["sh", str(source / "build.sh"), str(source), str(dist)], check=True)
    return dist


def hashed(dist: Path, suffix: str) -> str:
    """The URL path of the built file with this suffix (.js, .css) under /assets/."""
    return "/assets/" + next(p.name for p in (dist / "assets").glob(f"*{suffix}"))


def dev_files(settings: dict[str, object] | None = None) -> dict[str, dict[str, str]]:
    """The dev stack's frontend and edge files (the frontend enabled), for Debian's nginx."""
    values: dict[str, object] = {
        "edge": {"nginxVersion": DEBIAN_NGINX},
        "frontend": {"enabled": True},
    }
    for group, overrides in (settings or {}).items():
        base = values.get(group, {})
        assert isinstance(base, dict) and isinstance(overrides, dict)
        values[group] = {**base, **overrides}
    recording = render("dev", values)
    return {
        "frontend": rendered_files(recording, "prodstack-dev-frontend-0"),
        "edge": rendered_files(recording, "prodstack-dev-edge-0"),
    }


@dataclass
class FrontendServer:
    root: Path
    conf: str
    dist: Path
    port: int = 0
    status_port: int = 0
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        if not (self.port and self.status_port):
            self.port, self.status_port = free_ports(2)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        (self.root / "tmp").mkdir(parents=True, exist_ok=True)
        conf = replace_exact(
            self.conf,
            {
                "listen 8080;": f"listen 127.0.0.1:{self.port};",
                **nginx_scratch(self.root, self.status_port),
                "root /usr/share/nginx/html;": f"root {self.dist};",
            },
        )
        (self.root / "frontend.conf").write_text(conf)
        log = self.root / "frontend.log"
        log.touch()
        owned_tempdir(self.root, "www-data")
        self.process = subprocess.Popen(
            as_user(
                "www-data",
                ["/usr/sbin/nginx", "-e", "stderr", "-c", str(self.root / "frontend.conf")],
            ),
            stdout=open(log, "ab"),  # noqa: SIM115 - lives as long as the process
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for_port(self.process, self.status_port, log, "nginx")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


@dataclass
class FrontendStack:
    edge: Edge
    frontend: FrontendServer
    api: RunningApi
    ca: tuple[Path, Path]
    dist: Path


@contextmanager
def frontend_behind_edge(settings: dict[str, object] | None = None) -> Iterator[FrontendStack]:
    """The dev stack's edge (with its frontend) on loopback: the built app served by the
    rendered frontend.conf, the reference API, the edge in front of both; stopped on exit."""
    require_nginx()
    files = dev_files(settings)
    with server_root("www-data") as root:
        ca = make_ca(root)
        dist = build_app(root / "dist")
        frontend = FrontendServer(root / "frontend", files["frontend"]["frontend.conf"], dist)
        (root / "api").mkdir()
        api = start_api(root / "api", [])
        edge = Edge(
            root / "edge",
            files["edge"],
            f"127.0.0.1:{api.base.rsplit(':', 1)[1]}",
            other_upstreams={IN_STACK: frontend.address},
        )
        (root / "edge").mkdir()
        owned_tempdir(root, "www-data")
        try:
            frontend.start()
            edge.prepare(ca)
            edge.start()
            yield FrontendStack(edge, frontend, api, ca, dist)
        finally:
            edge.stop()
            frontend.stop()
            api.process.kill()
            api.process.wait()
