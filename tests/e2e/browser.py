"""Debian's Chromium, headless, driven over the DevTools protocol on a pipe (no extra
packages): what a real browser loads from the stack, and what it complains about.

Chromium reads protocol messages on file descriptor 3 and writes on 4 with
`--remote-debugging-pipe`, each a JSON object ended by a NUL byte.

It runs in a network namespace of its own, which has only a loopback, and reaches the
stack through a relay: on the engine's host, every container created or removed adds or
drops an interface, and Chromium aborts its requests in flight on such a change
(`net::ERR_NETWORK_CHANGED`). A user's browser, on another machine, never sees them.
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

CHROMIUM = "/usr/bin/chromium"
REPLY_SECONDS = 30
CLONE_NEWNET = 0x40000000  # <sched.h>
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1  # <linux/sockios.h>, <net/if.h>
IFREQ = "16sH22x"  # struct ifreq: the name, then the flags in a 24-byte union


@dataclass
class Seen:
    """What the page did: every response, failed load, console error and exception."""

    responses: list[tuple[str, int]] = field(default_factory=list)
    failed_loads: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # console and log errors, exceptions

    @property
    def csp_violations(self) -> list[str]:
        return [e for e in self.errors if "Content Security Policy" in e]


class Browser:
    def __init__(self, process: subprocess.Popen[bytes], to_browser: int, from_browser: int):
        self.process = process
        self._out = to_browser
        self._in = from_browser
        self._next = 0
        self._replies: dict[int, dict[str, Any]] = {}
        self._arrived = threading.Condition()
        self.seen = Seen()
        self._loaded = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable", session=self.session)

    def _read(self) -> None:
        buffer = b""
        while chunk := os.read(self._in, 65536):
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                self._handle(json.loads(raw))

    def _handle(self, message: dict[str, Any]) -> None:
        if "id" in message:
            with self._arrived:
                self._replies[message["id"]] = message
                self._arrived.notify_all()
            return
        method, params = message.get("method", ""), message.get("params", {})
        if method == "Page.loadEventFired":
            self._loaded.set()
        elif method == "Network.responseReceived":
            response = params["response"]
            self.seen.responses.append((response["url"], int(response["status"])))
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            self.seen.failed_loads.append((params.get("requestId", ""), params["errorText"]))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            self.seen.errors.append(params["entry"]["text"])
        elif method == "Runtime.consoleAPICalled" and params["type"] == "error":
            self.seen.errors.append(" ".join(str(a.get("value")) for a in params["args"]))
        elif method == "Runtime.exceptionThrown":
            self.seen.errors.append(params["exceptionDetails"].get("text", "exception"))

    def send(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> dict[str, Any]:
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + REPLY_SECONDS
        with self._arrived:
            while self._next not in self._replies:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no reply to {method}")
                self._arrived.wait(left)
            reply = self._replies.pop(self._next)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return dict(reply.get("result", {}))

    def open(self, url: str) -> None:
        """Navigate and wait for the page's load event."""
        self._loaded.clear()
        self.send("Page.navigate", {"url": url}, self.session)
        if not self._loaded.wait(REPLY_SECONDS):
            raise TimeoutError(f"{url} did not load")

    def wait_for(self, expression: str, seconds: float = 10) -> Any:
        """The first truthy value of `expression`, polled (an app renders after load)."""
        deadline = time.monotonic() + seconds
        while not (value := self.evaluate(expression)) and time.monotonic() < deadline:
            time.sleep(0.1)
        return value

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises awaited)."""
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True},
            self.session,
        )
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"].get("text", "exception"))
        return result["result"].get("value")


def _enter_own_network() -> None:
    """Move the calling thread (only it: namespaces are per task) into a new network
    namespace, and bring its loopback up."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET): the e2e suite runs as root")
    with socket.socket() as probe:
        flags = struct.unpack(IFREQ, fcntl.ioctl(probe, SIOCGIFFLAGS, struct.pack(IFREQ, b"lo", 0)))
        fcntl.ioctl(probe, SIOCSIFFLAGS, struct.pack(IFREQ, b"lo", flags[1] | IFF_UP))


def _relay(listener: socket.socket, port: int) -> None:
    """Each connection made to `listener` (in the browser's namespace), joined to the same
    port on this host's loopback. Ends when the listener is closed."""
    while True:
        try:
            inside, _ = listener.accept()
        except OSError:
            return
        try:
            outside = socket.create_connection(("127.0.0.1", port), timeout=REPLY_SECONDS)
        except OSError:
            inside.close()
            continue
        outside.settimeout(None)
        for source, sink in ((inside, outside), (outside, inside)):
            threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    """Bytes from `source` to `sink` until `source` ends, then the end passed on; a reset
    on either side closes both, so the browser sees it as one. (Each socket is closed
    when the last of its two pumps lets go of it.)"""
    try:
        while data := source.recv(65536):
            sink.sendall(data)
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        source.close()
        sink.close()


@contextmanager
def chromium(port: int) -> Iterator[Browser]:
    """A headless Chromium of its own profile and network, which reaches this host's
    `port` on loopback at the same address; stopped and its profile removed after. It
    trusts no certificate it cannot verify, except that it is told to accept the stack's
    self-signed one (the test's own CA is not in its store)."""
    profile = tempfile.mkdtemp(prefix="prodstack-chromium-")
    to_browser_read, to_browser = os.pipe()
    from_browser, from_browser_write = os.pipe()

    def descriptors() -> None:
        # Through high numbers first: the pipe's own descriptors may be 3 or 4.
        reading, writing = os.dup(to_browser_read) + 100, os.dup(from_browser_write) + 100
        os.dup2(to_browser_read, reading)
        os.dup2(from_browser_write, writing)
        os.dup2(reading, 3)
        os.dup2(writing, 4)

    # No sandbox: Chromium refuses to run as root with one, and CI runs as root; it only
    # ever opens the stack's own pages on 127.0.0.1.
    flags = ["--headless=new", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu"]
    flags += ["--no-first-run", "--ignore-certificate-errors", f"--user-data-dir={profile}"]
    started: dict[str, Any] = {}

    def start_in_own_network() -> None:
        try:
            _enter_own_network()
            started["listener"] = socket.create_server(("127.0.0.1", port))
            started["process"] = subprocess.Popen(
                [CHROMIUM, *flags, "about:blank"],
                # Descriptors 3 and 4 are made in the child (dup2) after the parent's are
                # inherited: closing "the others" would close them too.
                close_fds=False,
                preexec_fn=descriptors,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        except OSError as error:
            started["error"] = error

    # A thread of its own enters the namespace, so the test's threads stay on the host's.
    starter = threading.Thread(target=start_in_own_network)
    starter.start()
    starter.join()
    os.close(to_browser_read)
    os.close(from_browser_write)
    listener: socket.socket | None = started.get("listener")
    if listener is not None:
        threading.Thread(target=_relay, args=(listener, port), daemon=True).start()
    process: subprocess.Popen[bytes] | None = started.get("process")
    try:
        if process is None:
            raise started["error"]
        yield Browser(process, to_browser, from_browser)
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if listener is not None:
            listener.close()
        os.close(to_browser)
        os.close(from_browser)
        shutil.rmtree(profile, ignore_errors=True)
