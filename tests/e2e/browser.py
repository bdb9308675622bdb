"""Debian's Chromium, headless, driven over the DevTools protocol on a pipe (no extra
packages): what a real browser loads from the stack, and what it complains about.

Chromium reads protocol messages on file descriptor 3 and writes on 4 with
`--remote-debugging-pipe`, each a JSON object ended by a NUL byte.
"""

from __future__ import annotations

import json
import os
import shutil
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


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium of its own profile; stopped and its profile removed after. It
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
    process = subprocess.Popen(
        [CHROMIUM, *flags, "about:blank"],
        # Descriptors 3 and 4 are made in the child (dup2) after the parent's are inherited:
        # closing "the others" would close them too.
        close_fds=False,
        preexec_fn=descriptors,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(to_browser_read)
    os.close(from_browser_write)
    try:
        yield Browser(process, to_browser, from_browser)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        os.close(to_browser)
        os.close(from_browser)
        shutil.rmtree(profile, ignore_errors=True)
