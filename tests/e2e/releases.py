"""Releases and changes of the running end-to-end stack, measured under steady traffic:
what tests/e2e/test_updates.py asserts and bench/rollout.py prints."""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import docker
from docker.errors import NotFound

from components.postgres.config import SOCKET_DIR
from components.redis.component import UNIX_SOCKET as REDIS_SOCKET
from components.redis.component import admin_cli
from infra.ops.traffic import Report, measured
from tests.e2e.plan import Plan
from tests.e2e.stack import RunningStack
from tests.support import ROOT

RATE = 20  # requests a second, over four kept-alive connections
HEALTHY_SECONDS = 120
RELOADED = b"prodstack-watch: files changed, reloaded"
# Steady traffic before and after each change: the baseline, and the tail.
SETTLE_SECONDS = 3.0


def figures(what: str, report: Report, began: float, ended: float) -> None:
    """The change's seconds and the traffic's figures: p99 before it (the baseline) against
    p99 from its start to the end of the traffic (deletes come last, and what they leave
    behind shows after)."""
    steady = report.between(0, began)
    since = report.between(began, float("inf"))
    print(
        f"\n{what}: {ended - began:.1f} s; {report.summary()}; p99 before "
        f"{report.p99(steady) * 1000:.0f} ms, from its start {report.p99(since) * 1000:.0f} ms; "
        f"unavailable {report.unavailable_seconds():.1f} s"
    )


def update_under_traffic(
    stack: RunningStack, what: str, settings: dict[str, dict[str, Any]]
) -> tuple[Plan, Report]:
    planned: list[Plan] = []
    report, began, ended, _ = measured(
        stack.https_port,
        stack.ca_pem,
        lambda: planned.append(stack.update(settings)),
        settle=SETTLE_SECONDS,
        rate=RATE,
    )
    figures(what, report, began, ended)
    return planned[0], report


def retag(image: str, suffix: str) -> str:
    """The same image under another tag: a new image reference, as a registry build gives."""
    repository, tag = image.rsplit(":", 1)
    docker.from_env().images.get(image).tag(repository, f"{tag}-{suffix}")
    return f"{repository}:{tag}-{suffix}"


def gone(container: Any) -> bool:
    try:
        container.reload()
    except NotFound:
        return True
    return False


def wait_healthy(container: Any) -> None:
    deadline = time.monotonic() + HEALTHY_SECONDS
    while time.monotonic() < deadline:
        container.reload()
        if container.attrs["State"].get("Health", {}).get("Status") == "healthy":
            return
        time.sleep(0.5)
    raise AssertionError(f"{container.name} not healthy in {HEALTHY_SECONDS} s")


def new_frontend_release(image: str, release: str = "release-2") -> str:
    """The reference frontend with a changed script (new content hashes), built on the
    running frontend's image and tagged `release`: what a new build of the app gives."""
    work = Path(tempfile.mkdtemp(prefix="prodstack-frontend-"))
    try:
        source = work / "src"
        shutil.copytree(ROOT / "images" / "frontend" / "src", source)
        with (source / "app.js").open("a") as script:
            script.write(f"\n// {release}\n")
        dist = work / "dist"
        subprocess.run(["sh", str(source / "build.sh"), str(source), str(dist)], check=True)
        dockerfile = (
            f"FROM {image}\nUSER 0\nRUN rm -rf /usr/share/nginx/html/assets\n"
            "COPY dist /usr/share/nginx/html\nUSER 101:101\n"
        )
        (work / "Dockerfile").write_text(dockerfile)
        context = io.BytesIO()
        with tarfile.open(fileobj=context, mode="w") as tar:
            tar.add(work / "Dockerfile", "Dockerfile")
            tar.add(dist, "dist")
        context.seek(0)
        repository = image.rsplit(":", 1)[0]
        tag = f"{repository}:{release}"
        docker.from_env().images.build(fileobj=context, custom_context=True, tag=tag, rm=True)
        return tag
    finally:
        shutil.rmtree(work)


def edge_reloaded(stack: RunningStack, count: int, seconds: float = 30) -> float:
    """When (wall clock) the edge's watcher reloaded nginx for the `count`th time, from its
    own line on stderr; waits for it up to `seconds`."""
    edge = stack.container("edge")
    deadline = time.monotonic() + seconds
    while True:
        lines = [
            line for line in edge.logs(stdout=False, timestamps=True).splitlines()
            if RELOADED in line
        ]  # fmt: skip
        if len(lines) >= count:
            stamp = lines[count - 1].split(b" ", 1)[0].decode()
            return datetime.fromisoformat(stamp[:26] + "+00:00").timestamp()
        if time.monotonic() > deadline:
            raise AssertionError(f"the edge reloaded {len(lines)} times, not {count}")
        time.sleep(0.5)


# Both app credentials rolled over to their other login (components/logins.py).
ROLLOVER = {"secrets": {"rollover": {"databasePassword": 1, "redisPassword": 1}}}


def old_logins_revoked(stack: RunningStack) -> dict[str, bool]:
    """Whether the logins the rollover left (the app's own role and ACL user) are revoked,
    as each server says: Postgres's pg_roles, Redis's ACL."""
    can_login = stack.exec(
        "postgres",
        "psql",
        "-X",
        "-qtA",
        "-h",
        SOCKET_DIR,
        "-U",
        "postgres",
        "-c",
        "SELECT rolcanlogin FROM pg_roles WHERE rolname = 'app'",
        user="postgres",
    ).strip()
    flags = (
        stack.container("redis-logins")
        .exec_run(
            [
                "sh",
                "-c",
                f"{admin_cli(REDIS_SOCKET)} ACL GETUSER app",
            ]
        )
        .output.decode()
    )
    return {"postgres": can_login == "f", "redis": "\noff\n" in f"\n{flags}"}


def seconds_until_revoked(stack: RunningStack, limit: float) -> float:
    """From now until both old logins are revoked (bounded by `limit`)."""
    began = time.monotonic()
    while not all(old_logins_revoked(stack).values()):
        if time.monotonic() - began > limit:
            raise AssertionError(
                f"old logins not revoked in {limit} s: {old_logins_revoked(stack)}"
            )
        time.sleep(1)
    return time.monotonic() - began


def postgres_setting(stack: RunningStack, name: str) -> str:
    """The value the running server has in force (SHOW), over its socket."""
    return stack.exec(
        "postgres", "psql", "-X", "-qtA", "-h", SOCKET_DIR, "-U", "postgres",
        "-c", f"SHOW {name}", user="postgres",
    ).strip()  # fmt: skip


def seconds_until_applied(stack: RunningStack, name: str, value: str, limit: float) -> float:
    """From now until the running Postgres has `value` for the setting (bounded by `limit`):
    its backup agent notices the changed file and has it reload."""
    began = time.monotonic()
    while (now := postgres_setting(stack, name)) != value:
        if time.monotonic() - began > limit:
            raise AssertionError(f"{name} is {now}, not {value}, {limit} s after the update")
        time.sleep(0.5)
    return time.monotonic() - began
