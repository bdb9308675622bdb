"""Connections kept open to a data store and reused across requests, as an application's
pool keeps them (at most SIZE idle). One the server closed while it sat idle (a restart, an
idle timeout) is dropped when taken, before a request is sent on it. Kept-open sessions are
also how a data store's logins keeper sees that a login is still in use (components/logins.py).
"""

from __future__ import annotations

import select
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, Protocol, TypeVar

SIZE = 4


class Closable(Protocol):
    sock: socket.socket

    def close(self) -> None: ...


C = TypeVar("C", bound=Closable)


class Pool(Generic[C]):
    def __init__(self, connect: Callable[[], C], size: int = SIZE) -> None:
        self._connect = connect
        self._size = size
        self._idle: list[C] = []
        self._lock = threading.Lock()

    @contextmanager
    def connection(self) -> Iterator[C]:
        """A connection for one request: back to the pool after it, closed after a failure
        (its state is unknown)."""
        conn = self._take()
        try:
            yield conn
        except BaseException:
            conn.close()
            raise
        with self._lock:
            if len(self._idle) < self._size:
                self._idle.append(conn)
                return
        conn.close()

    def _take(self) -> C:
        while True:
            with self._lock:
                if not self._idle:
                    break
                conn = self._idle.pop()
            if _still_open(conn.sock):
                return conn
            conn.close()
        return self._connect()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


def _still_open(sock: socket.socket) -> bool:
    """An idle connection has nothing to read; if it has, the server closed it or said
    something unasked (an error before closing)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable
