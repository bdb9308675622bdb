"""Is each dependency answering its own protocol? Postgres and Redis, no client libraries."""

from __future__ import annotations

import socket
import struct

from refapi.config import Dependency

TIMEOUT_SECONDS = 1.0


def _postgres(dependency: Dependency) -> None:
    """Send a startup message; a live server answers with an authentication request ('R')."""
    user = (dependency.secret("user") or "readiness").encode()
    body = struct.pack("!I", 196608) + b"user\0" + user + b"\0\0"
    with socket.create_connection((dependency.host, dependency.port), TIMEOUT_SECONDS) as conn:
        conn.settimeout(TIMEOUT_SECONDS)
        conn.sendall(struct.pack("!I", len(body) + 4) + body)
        reply = conn.recv(1)
    if reply not in (b"R", b"E"):
        raise ConnectionError(f"unexpected reply {reply!r}")


def _redis(dependency: Dependency) -> None:
    """AUTH with the application user's password when one is configured, then PING."""
    password = dependency.secret("password")
    user = dependency.secret("user") or "default"
    commands = b""
    if password:
        commands += _resp("AUTH", user, password)
    commands += _resp("PING")
    with socket.create_connection((dependency.host, dependency.port), TIMEOUT_SECONDS) as conn:
        conn.settimeout(TIMEOUT_SECONDS)
        conn.sendall(commands)
        reply = b""
        while b"PONG" not in reply and b"-" not in reply[:1] and len(reply) < 512:
            chunk = conn.recv(512)
            if not chunk:
                break
            reply += chunk
    if not reply.startswith(b"+") or b"PONG" not in reply:
        raise ConnectionError(reply.decode(errors="replace").strip() or "no reply")


def _resp(*parts: str) -> bytes:
    encoded = [p.encode() for p in parts]
    return b"*%d\r\n" % len(encoded) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in encoded)


CHECKS = {"postgres": _postgres, "redis": _redis}


def check(dependency: Dependency) -> str | None:
    """None when ready, else why not."""
    try:
        CHECKS[dependency.kind](dependency)
    except (OSError, ConnectionError, KeyError) as error:
        return f"{type(error).__name__}: {error}"
    return None
