"""TLS to the data stores, verified as libpq's sslmode=verify-full does: the chain against
the stack's CA, and the server's name against the host the API connects to."""

from __future__ import annotations

import socket
import ssl
import struct
from collections.abc import Callable

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
    (`upgrade`: how the protocol switches to TLS, start_postgres for Postgres)."""
    sock = socket.create_connection((host, port), timeout)
    sock.settimeout(timeout)
    if not ca_file:
        return sock
    try:
        return upgrade(sock, host, ca_file)
    except BaseException:
        sock.close()
        raise
