"""Every image the Docker stack runs, built from Debian's packages: for hosts that cannot reach
a container registry (an air gap, a CI runner behind a mirror), and for the end-to-end suite.

`images/debian/<name>/Dockerfile` stands in for one upstream image, offering exactly what the
stack relies on (paths, users, ports, entry points). They all start from `images/debian/base`,
which starts from a trixie root filesystem made by debootstrap and imported once per host.
An image is tagged by the digest of its Dockerfile and its base, so an unchanged one is never
rebuilt. `overrides()` is the settings tree that points a stack at them.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILES = ROOT / "images" / "debian"
ROOTFS = "prodstack-rootfs:trixie"
SUITE = "trixie"
REPOSITORY = "prodstack-debian"
# Debian 13's nginx; the edge's configuration is rendered for it.
NGINX_VERSION = "1.26"


@dataclass(frozen=True)
class DebianImage:
    name: str  # its directory under images/debian
    # The settings it is the value of, as (group, key) in Pulumi.<stack>.yaml.
    settings: tuple[tuple[str, str], ...]


IMAGES = (
    # The edge runs it; the reference frontend is built from it.
    DebianImage("nginx-unprivileged", (("edge", "image"), ("frontend", "buildBase"))),
    DebianImage("nginx-exporter", (("edge", "exporterImage"),)),
    DebianImage("redis", (("redis", "image"),)),
    DebianImage("redis-exporter", (("redis", "exporterImage"),)),
    # The project's own images are built from these instead of the official ones.
    DebianImage("postgres", (("postgres", "buildBase"),)),
    DebianImage("postgres-exporter", (("postgres", "exporterImage"),)),
    DebianImage("python", (("api", "buildBase"),)),
    DebianImage("prometheus", (("monitoring", "prometheusImage"),)),
    DebianImage("alertmanager", (("monitoring", "alertmanagerImage"),)),
    DebianImage("blackbox-exporter", (("monitoring", "blackboxImage"),)),
)


class ImageBuildError(RuntimeError):
    """A base or an image could not be made; the message says which and why."""


Log = Callable[[str], None]


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def tag_of(name: str, base: str) -> str:
    """`prodstack-debian/NAME:DIGEST`, the digest of its Dockerfile and of its base's tag."""
    dockerfile = (DOCKERFILES / name / "Dockerfile").read_bytes()
    digest = hashlib.sha256(base.encode() + b"\0" + dockerfile).hexdigest()[:12]
    return f"{REPOSITORY}/{name}:{digest}"


def exists(image: str) -> bool:
    found = subprocess.run(["docker", "image", "inspect", image], capture_output=True, check=False)
    return found.returncode == 0


def _run(command: list[str], what: str, **kwargs: Any) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise ImageBuildError(f"{what} failed (exit {done.returncode}):\n{tail}")


def ensure_rootfs(log: Log = _say) -> str:
    """The trixie root filesystem as an image, made once per host with debootstrap."""
    if exists(ROOTFS):
        return ROOTFS
    if shutil.which("debootstrap") is None:
        raise ImageBuildError("debootstrap is not installed (apt-get install debootstrap)")
    log(f"debootstrap {SUITE} (once per host, about a minute)")
    with tempfile.TemporaryDirectory(prefix="prodstack-rootfs-") as target:
        _run(["debootstrap", "--variant=minbase", SUITE, target], "debootstrap")
        tar = subprocess.Popen(["tar", "-C", target, "-c", "."], stdout=subprocess.PIPE)
        try:
            _run(["docker", "import", "-", ROOTFS], "docker import", stdin=tar.stdout)
        finally:
            if tar.stdout is not None:
                tar.stdout.close()
            tar.wait()
    return ROOTFS


def build(name: str, base: str, base_arg: str, log: Log = _say) -> str:
    """Build images/debian/NAME from `base` unless that exact image exists; its tag."""
    tag = tag_of(name, base)
    if exists(tag):
        return tag
    log(f"building {tag}")
    _run(
        ["docker", "build", "--build-arg", f"{base_arg}={base}", "-t", tag, "-q", "."],
        f"docker build of images/debian/{name}",
        cwd=DOCKERFILES / name,
    )
    return tag


def build_all(log: Log = _say) -> dict[str, str]:
    """Every Debian-built image, by name; builds only what is missing."""
    base = build("base", ensure_rootfs(log), "ROOTFS", log)
    return {image.name: build(image.name, base, "BASE", log) for image in IMAGES}


def overrides(tags: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The settings that point a Docker stack at the Debian-built images. Grafana has no
    Debian build, so it is left out; the edge's configuration is rendered for Debian's nginx."""
    tree: dict[str, dict[str, Any]] = {
        "edge": {"nginxVersion": NGINX_VERSION},
        "monitoring": {"grafana": False},
    }
    for image in IMAGES:
        for group, key in image.settings:
            tree.setdefault(group, {})[key] = tags[image.name]
    return tree
