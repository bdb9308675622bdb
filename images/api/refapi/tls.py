"""TLS to the data stores, verified as libpq's sslmode=verify-full does: the chain against
the stack's CA, and the server's name against the host the API connects to."""

from __future__ import annotations

import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

# libpq's SSLRequest: a startup message with this code asks the server to switch to TLS.
SSL_REQUEST = struct.pack("!II", 8, 80877103)


def client_context(ca_file: str) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def wrap(sock: socket.socket, host: str, ca_file: str) -> ssl.SSLSocket:
    return client_context(ca_file).wrap_socket(sock, server_hostname=host)


def start_postgres(sock: socket.socket, host: str, ca_file: str) -> ssl.SSLSocket:
    """Ask a Postgres server for TLS ('S': yes; 'N': it has none, and the API refuses)."""
    sock.sendall(SSL_REQUEST)
    answer = sock.recv(1)
    if answer != b"S":
        raise ConnectionError(f"{host} does not offer TLS (answered {answer!r})")
    return wrap(sock, host, ca_file)


def connect(
    host: str,
    port: int,
    timeout: float,
    ca_file: str | None,
    upgrade: Callable[[socket.socket, str, str], ssl.SSLSocket] = wrap,
) -> socket.socket:
    """A connection to a data store: plain, or with `ca_file` over TLS verified against it
    (`upgrade`: how the protocol switches to TLS, start_postgres for Postgres). `timeout`
    bounds the name's resolution and the connection together, then each read and write."""
    sock = open_socket(host, port, timeout)
    sock.settimeout(timeout)
    if not ca_file:
        return sock
    try:
        return upgrade(sock, host, ca_file)
    except BaseException:
        sock.close()
        raise


# Name lookups run in threads of their own, so that a caller can stop waiting for one:
# getaddrinfo takes no timeout, and a resolver that cannot reach its server (the host's
# network partitioned, the store's container gone) retries for 10 s or more (resolv.conf's
# default: 5 s, 2 attempts). A lookup given up on finishes in the background, in a daemon
# thread that never holds up the process's exit; at most LOOKUPS are outstanding at once.
LOOKUPS = 8
_outstanding = threading.BoundedSemaphore(LOOKUPS)


def resolve(host: str, port: int, timeout: float) -> list[Any]:
    """getaddrinfo's addresses for host:port within `timeout` seconds, or TimeoutError."""
    deadline = time.monotonic() + timeout
    if not _outstanding.acquire(timeout=timeout):
        raise TimeoutError(f"resolving {host} took more than {timeout:g} s")
    found: dict[str, Any] = {}
    done = threading.Event()

    def lookup() -> None:
        try:
            found["addresses"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as error:
            found["error"] = error
        finally:
            _outstanding.release()
            done.set()

    threading.Thread(target=lookup, name=f"resolve {host}", daemon=True).start()
    if not done.wait(max(0.0, deadline - time.monotonic())):
        raise TimeoutError(f"resolving {host} took more than {timeout:g} s")
    if "error" in found:
        raise found["error"]
    return list(found["addresses"])


def open_socket(host: str, port: int, timeout: float) -> socket.socket:
    """A TCP connection to host:port within `timeout` seconds, name resolution included."""
    deadline = time.monotonic() + timeout
    addresses = resolve(host, port, timeout)
    error: OSError = OSError(f"{host} has no address")
    for family, kind, protocol, _, address in addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"connecting to {host}:{port} took more than {timeout:g} s")
        sock = socket.socket(family, kind, protocol)
        sock.settimeout(remaining)
        try:
            sock.connect(address)
            return sock
        except OSError as failed:
            sock.close()
            error = failed
    raise error
