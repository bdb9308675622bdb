"""Is each dependency answering its own protocol? Postgres and Redis, no client libraries."""

from __future__ import annotations

import struct
import threading
from collections.abc import Sequence

from refapi import resp, tls
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
    with tls.open_socket(dependency.host, dependency.port, TIMEOUT_SECONDS) as raw:
        raw.settimeout(TIMEOUT_SECONDS)
        conn = (
            tls.start_postgres(raw, dependency.host, dependency.ca_file)
            if dependency.ca_file
            else raw
        )
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
    """AUTH as the application user when a password is configured, then PING."""
    with resp.Connection(
        dependency.host,
        dependency.port,
        dependency.user,
        dependency.secret("password"),
        TIMEOUT_SECONDS,
        ca_file=dependency.ca_file,
    ) as conn:
        reply = conn.command("PING")
    if reply != "PONG":
        raise ConnectionError(f"PING answered {reply!r}")


CHECKS = {"postgres": _postgres, "redis": _redis}


def check(dependency: Dependency) -> str | None:
    """None when ready, else why not."""
    try:
        CHECKS[dependency.kind](dependency)
    except (OSError, ConnectionError, KeyError, resp.RedisError) as error:
        return f"{type(error).__name__}: {error}"
    return None


class Readiness:
    """Whether this replica should be sent requests. Until every dependency has answered
    once (with the replica's own credentials), each ask checks them: a release or a new
    password that cannot log in never goes into rotation. From then on it is the replica's
    own state alone, answered without any I/O: an outage of a shared dependency must not take
    every replica out of its Service at once (each request that needs the dependency fails
    fast with 503 instead, and the dependency's own alerts page), and a prober's every hit
    must not cost the database a connection."""

    def __init__(self, dependencies: Sequence[Dependency]) -> None:
        self.dependencies = dependencies
        self.confirmed = threading.Event()

    def failures(self) -> dict[str, str]:
        """Each dependency that does not answer yet, with why; none once confirmed."""
        if self.confirmed.is_set():
            return {}
        failures = {d.name: why for d in self.dependencies if (why := check(d))}
        if not failures:
            self.confirmed.set()
        return failures
