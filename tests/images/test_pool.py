"""The reference API's connection pool (images/api/refapi/pool.py) against a loopback server
that can hang up on an idle connection, as a restarted data store does."""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from tests.support import ROOT

sys.path.insert(0, str(ROOT / "images" / "api"))

from refapi.pool import Pool


class Connection:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.closed = False

    def close(self) -> None:
        self.closed = True
        self.sock.close()


@pytest.fixture
def server() -> Iterator[tuple[int, list[socket.socket]]]:
    """A server that accepts and keeps each connection, so the test can close it."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield listener.getsockname()[1], accepted
    listener.close()
    for conn in accepted:
        conn.close()


def test_a_connection_is_reused_and_one_the_server_closed_is_replaced(
    server: tuple[int, list[socket.socket]],
) -> None:
    port, accepted = server
    made: list[Connection] = []

    def connect() -> Connection:
        made.append(Connection(port))
        return made[-1]

    pool = Pool(connect)
    with pool.connection() as first:
        pass
    with pool.connection() as again:
        assert again is first  # kept open between requests
    deadline = time.monotonic() + 5
    while not accepted and time.monotonic() < deadline:
        time.sleep(0.05)
    accepted[0].close()  # the server restarts while the connection is idle
    time.sleep(0.2)
    with pool.connection() as fresh:
        assert fresh is not first and first.closed
    assert len(made) == 2


def test_a_connection_that_failed_is_not_reused(server: tuple[int, list[socket.socket]]) -> None:
    port, _ = server
    pool = Pool(lambda: Connection(port))
    with pytest.raises(RuntimeError), pool.connection() as failed:
        raise RuntimeError("the request failed on it")
    assert failed.closed
    with pool.connection() as other:
        assert other is not failed
