"""Steady traffic through the stack's edge while something changes, every request counted.

A bounded load (a rate, a duration cap, a request cap) from a few clients that keep their
connections alive as browsers do, mixing the API's reads and writes (a note written, then
read back) with the frontend's page and assets. Every request ends as a success (2xx), or a
failure: a 5xx, any other unexpected status, a connection error, a timeout. A request on a
kept-alive connection that the server had closed while idle, before any byte of the reply,
is retried once on a new connection, as browsers and HTTP libraries do (RFC 9112, 9.3.1):
counted as a reconnect, not a failure.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import ssl
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

# Bounds of any run: the harness stops by itself.
MAX_SECONDS = 600
MAX_REQUESTS = 20_000
TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class Outcome:
    started: float  # monotonic
    seconds: float
    kind: str  # read, write, asset
    path: str
    status: int | None  # None: no reply
    error: str = ""

    @property
    def failed(self) -> bool:
        return self.status is None or not 200 <= self.status < 300


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)
    reconnects: int = 0

    def between(self, start: float, end: float) -> list[Outcome]:
        return [o for o in self.outcomes if start <= o.started < end]

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.failed]

    def p99(self, outcomes: list[Outcome] | None = None) -> float:
        times = sorted(o.seconds for o in (self.outcomes if outcomes is None else outcomes))
        if not times:
            return 0.0
        return times[min(len(times) - 1, int(len(times) * 0.99))]

    def unavailable_seconds(self) -> float:
        """From the first failure of a run of failures to the next success, summed."""
        total, since = 0.0, None
        for outcome in sorted(self.outcomes, key=lambda o: o.started):
            if outcome.failed and since is None:
                since = outcome.started
            elif not outcome.failed and since is not None:
                total += outcome.started - since
                since = None
        return total

    def summary(self) -> str:
        failed = self.failures
        shown = "; ".join(f"{o.kind} {o.path}: {o.status or o.error}" for o in failed[:5]) + (
            " ..." if len(failed) > 5 else ""
        )
        median = statistics.median(o.seconds for o in self.outcomes) if self.outcomes else 0
        return (
            f"{len(self.outcomes)} requests, {len(failed)} failed"
            + (f" ({shown})" if failed else "")
            + f", {self.reconnects} reconnects, p50 {median * 1000:.0f} ms, "
            f"p99 {self.p99() * 1000:.0f} ms"
        )


class EdgeConnection(http.client.HTTPSConnection):
    """To the edge published on 127.0.0.1, under the name it serves (TLS's SNI and the
    certificate checked for it)."""

    def __init__(self, port: int, name: str, context: ssl.SSLContext) -> None:
        super().__init__("127.0.0.1", port, context=context, timeout=TIMEOUT_SECONDS)
        self.name = name
        self.tls = context

    def connect(self) -> None:
        raw = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        self.sock = self.tls.wrap_socket(raw, server_hostname=self.name)


class Client:
    """One browser-like client: one kept-alive HTTPS connection to the edge."""

    def __init__(self, port: int, ca_pem: str | None, host: str = "localhost") -> None:
        """`ca_pem`: the CA the edge's certificate is checked against (None: the system's)."""
        self.port = port
        self.host = host
        self.context = ssl.create_default_context(cadata=ca_pem)
        self.connection: http.client.HTTPSConnection | None = None

    def _connect(self) -> http.client.HTTPSConnection:
        return EdgeConnection(self.port, self.host, self.context)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes, bool]:
        """(status, body, reconnected). Raises OSError or HTTPException on a failure."""
        reused = self.connection is not None
        if self.connection is None:
            self.connection = self._connect()
        try:
            return (*self._exchange(method, path, body, headers or {}), False)
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            self.close()
            if not reused:
                raise
        # The server closed the idle connection before replying: once more, anew.
        self.connection = self._connect()
        return (*self._exchange(method, path, body, headers or {}), True)

    def _exchange(
        self, method: str, path: str, body: bytes | None, extra: dict[str, str]
    ) -> tuple[int, bytes]:
        assert self.connection is not None
        headers = {"Host": self.host, **extra}
        if body is not None:
            headers["Content-Type"] = "application/json"
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        data = response.read()
        if response.getheader("Connection", "").lower() == "close":
            self.close()
        return response.status, data

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def asset_paths(port: int, ca_pem: str | None) -> list[str]:
    """The page and the hashed assets it loads, as the frontend serves them now."""
    client = Client(port, ca_pem)
    try:
        status, page, _ = client.request("GET", "/")
    finally:
        client.close()
    if status != 200:
        raise ConnectionError(f"the frontend's page answered {status}")
    return ["/", *sorted(set(re.findall(r'(?:src|href)="(/[^"]+\.[0-9a-f]{8,}\.[a-z]+)"',
                                        page.decode())))]  # fmt: skip


class Traffic:
    """`rate` requests a second over `clients` connections until stopped (or the bounds).
    What each request is, `one` says: a subclass gives its own mix."""

    def __init__(
        self, port: int, ca_pem: str | None, rate: float = 20, clients: int = 4,
        assets: list[str] | None = None, host: str = "localhost",
    ) -> None:  # fmt: skip
        self.port, self.ca_pem, self.rate, self.clients = port, ca_pem, rate, clients
        self.host = host
        self.assets = assets if assets is not None else asset_paths(port, ca_pem)
        self.report = Report()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._sent = 0

    def _record(self, outcome: Outcome, reconnected: bool) -> None:
        with self._lock:
            self.report.outcomes.append(outcome)
            self.report.reconnects += int(reconnected)

    def timed(
        self,
        client: Client,
        kind: str,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int | None, bytes]:
        """One request, recorded as an outcome: (status, body), or (None, b"") for none."""
        started = time.monotonic()
        try:
            status, data, reconnected = client.request(method, path, body, headers)
        except (OSError, http.client.HTTPException) as error:
            client.close()
            self._record(
                Outcome(started, time.monotonic() - started, kind, path, None,
                        type(error).__name__), False,
            )  # fmt: skip
            return None, b""
        self._record(Outcome(started, time.monotonic() - started, kind, path, status), reconnected)
        return status, data

    def one(self, client: Client, n: int) -> None:
        """Reads, writes and assets in turn: a write is read back at once."""
        choice = n % 4
        if choice == 0:
            body = json.dumps({"text": f"traffic note {n}"}).encode()
            status, data = self.timed(client, "write", "POST", "/api/notes", body)
            if status == 201:
                note = json.loads(data)["id"]
                self.timed(client, "read", "GET", f"/api/notes/{note}")
        elif choice == 1:
            self.timed(client, "read", "GET", "/api/items")
        else:
            self.timed(client, "asset", "GET", self.assets[n % len(self.assets)])

    def _run(self, index: int) -> None:
        client = Client(self.port, self.ca_pem, self.host)
        interval = self.clients / self.rate
        deadline = time.monotonic() + MAX_SECONDS
        n = index
        next_at = time.monotonic() + index * interval / self.clients
        while not self._stop.is_set() and time.monotonic() < deadline:
            with self._lock:
                if self._sent >= MAX_REQUESTS:
                    break
                self._sent += 1
            self.one(client, n)
            n += self.clients
            next_at += interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))
        client.close()

    def start(self) -> None:
        for index in range(self.clients):
            thread = threading.Thread(target=self._run, args=(index,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> Report:
        self._stop.set()
        for thread in self._threads:
            thread.join(TIMEOUT_SECONDS * 2 + 5)
        return self.report


T = TypeVar("T", bound=Traffic)


@contextmanager
def running(traffic: T) -> Iterator[T]:
    """`traffic` for the duration of the block; stopped (and its threads joined) after."""
    traffic.start()
    try:
        yield traffic
    finally:
        traffic.stop()


def steady_traffic(port: int, ca_pem: str, **options: float) -> AbstractContextManager[Traffic]:
    """The steady mix of reads, writes and assets for the duration of the block."""
    return running(Traffic(port, ca_pem, **options))  # type: ignore[arg-type]


def measured(
    port: int, ca_pem: str, change: Callable[[], object], settle: float = 3.0, **options: float
) -> tuple[Report, float, float, float]:
    """Traffic from `settle` s before `change` to `settle` s after it: (report, when the
    change started, when it ended, its seconds)."""
    with steady_traffic(port, ca_pem, **options) as traffic:
        time.sleep(settle)
        began = time.monotonic()
        change()
        ended = time.monotonic()
        time.sleep(settle)
    return traffic.report, began, ended, ended - began
