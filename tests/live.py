"""Running Debian's servers in tests: as an unprivileged user, in temporary directories, on
loopback, from the configuration files the stack renders."""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from infra.render.mock_runtime import Recording
from tests.support import uploads_of


def require(*paths: str) -> None:
    """Skip when a server binary is missing (under CI=true a skip fails the run)."""
    missing = [p for p in paths if shutil.which(p) is None and not Path(p).exists()]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)} (scripts/test installs them)")


def wait_for_port(
    process: subprocess.Popen[bytes], port: int, log: Path, what: str, seconds: float = 20
) -> None:
    """Until a server started as `process` accepts connections on 127.0.0.1:`port`; its log
    in the failure if it exits or never does."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.1)
    raise AssertionError(f"{what} did not start:\n{log.read_text(errors='replace')}")


def answer_metrics(handler: BaseHTTPRequestHandler, text: str) -> None:
    """Answer a scrape, as an exporter does, from a stand-in target."""
    body = text.encode()
    handler.send_response(200)
    handler.send_header("Content-Type", "text/plain; version=0.0.4")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_ports(count: int) -> list[int]:
    """`count` distinct free ports: held open together while picked, so that two servers of
    one configuration never get the same one (free_port() twice may)."""
    with contextlib.ExitStack() as held:
        sockets = [held.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


def as_user(user: str, command: Sequence[str]) -> list[str]:
    """Servers refuse to run as root; tests run as root in CI."""
    if os.geteuid() == 0:
        runuser = shutil.which("runuser") or "/usr/sbin/runuser"
        return [runuser, "-u", user, "--", *command]
    return list(command)


@contextlib.contextmanager
def server_root(user: str) -> Iterator[Path]:
    """A temporary directory for a server's files, outside pytest's root-only temp tree."""
    root = Path(tempfile.mkdtemp(prefix="prodstack-live-"))
    os.chmod(root, 0o755)
    try:
        yield owned_tempdir(root, user)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def owned_tempdir(base: Path, user: str) -> Path:
    """A directory the server's user owns (chmod 700 where the server insists)."""
    base.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        entry = pwd.getpwnam(user)
        for path in [base, *base.rglob("*")]:
            # A server already running under `base` may remove its own files meanwhile.
            with contextlib.suppress(FileNotFoundError):
                os.chown(path, entry.pw_uid, entry.pw_gid, follow_symlinks=False)

    return base


def rendered_files(recording: Recording, container: str) -> dict[str, str]:
    """Every file (config and secret) a rendered Docker container receives, by file name."""
    return {Path(path).name: u["content"] for path, u in uploads_of(recording, container).items()}


def adapt(
    text: str,
    overrides: Mapping[str, str],
    pattern: str = r"^{key}\s*=\s*.*$",
    line: str = "{key} = {value}",
) -> str:
    """Replace the value of each overridden key, which must be in the rendered text: only
    paths and ports change; every other line is the stack's own."""
    for key, value in overrides.items():
        regex = re.compile(pattern.format(key=re.escape(key)), re.MULTILINE)
        if not regex.search(text):
            raise AssertionError(f"{key} is not in the rendered configuration")
        text = regex.sub(line.format(key=key, value=value).replace("\\", "\\\\"), text)
    return text


def signal_group(process: subprocess.Popen[bytes], sig: int, timeout: float = 30) -> None:
    """Signal a server started with start_new_session and wait until every process in its
    group has exited. Waiting for the leader alone is not enough under runuser: the server
    is runuser's child and may still hold its port for a moment after runuser is reaped."""
    os.killpg(process.pid, sig)
    process.wait(timeout=timeout)
    deadline = time.monotonic() + timeout
    while _group_alive(process.pid):
        if time.monotonic() > deadline:
            raise AssertionError(f"process group {process.pid} still running after {sig}")
        time.sleep(0.05)


def _group_alive(pgid: int) -> bool:
    """Whether any process of the group is still running (zombies have released everything)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            # The command name in parentheses may contain spaces; fields follow the last ')'.
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False
