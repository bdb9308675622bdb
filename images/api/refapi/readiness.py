"""Is each dependency answering its own protocol? Postgres and Redis, no client libraries."""

from __future__ import annotations

import socket
import struct

from refapi.config import Dependency

TIMEOUT_SECONDS = 1.0


def _postgres(dependency: Dependency) -> None:
    """Send a startup message as the API's own user; a server that would let it in answers
    with an authentication request ('R'). Hanging up then is a normal disconnect, which the
    server does not log. An error ('E': starting up, rejected by pg_hba) is not ready."""
    user = (dependency.user or "").encode()
    database = (dependency.database or "").encode()
    body = struct.pack("!I", 196608) + b"user\0" + user + b"\0"
    if database:
        body += b"database\0" + database + b"\0"
    body += b"\0"
    with socket.create_connection((dependency.host, dependency.port), TIMEOUT_SECONDS) as conn:
        conn.settimeout(TIMEOUT_SECONDS)
        conn.sendall(struct.pack("!I", len(body) + 4) + body)
        reply = conn.recv(1024)
    if reply[:1] == b"E":
        raise ConnectionError(_postgres_error(reply))
    if reply[:1] != b"R":
        raise ConnectionError(f"unexpected reply {reply[:1]!r}")


def _postgres_error(reply: bytes) -> str:
    """The message field ('M') of an ErrorResponse."""
    for field in reply[5:].split(b"\0"):
        if field[:1] == b"M":
            return field[1:].decode(errors="replace")
    return "error response"


def _redis(dependency: Dependency) -> None:
    """AUTH with the application user's password when one is configured, then PING."""
    password = dependency.secret("password")
    user = dependency.user or "default"
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
