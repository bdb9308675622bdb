"""The HTTP server: routes, JSON logs, metrics per request and a graceful SIGTERM."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from refapi import config as config_module
from refapi import readiness
from refapi.metrics import RequestMetrics
from refapi.notes import MAX_REQUEST_KEY, MAX_TEXT, Notes, StoreUnavailableError

# A list page big enough (about 1.4 KB) for the edge to compress.
ITEMS = [{"id": i, "name": f"item {i}"} for i in range(1, 51)]

ITEM_ROUTE = re.compile(r"^/api/items/(\d+)$")
NOTE_ROUTE = re.compile(r"^/api/notes/(\d{1,18})$")
REQUEST_KEY = re.compile(rf"[!-~]{{1,{MAX_REQUEST_KEY}}}")


class Api:
    def __init__(self, cfg: config_module.Config) -> None:
        self.cfg = cfg
        # Set on SIGTERM: every reply from then on closes its connection.
        self.stopping = threading.Event()
        self.metrics = RequestMetrics()
        self.signing_key = (cfg.secret("signing-key") or "").encode()
        self.notes = Notes(cfg)
        self.readiness = readiness.Readiness(cfg.dependencies)

    def route(self, method: str, path: str, body: bytes, headers: Any) -> tuple[str, int, Any]:
        """(route template for metrics, status, JSON body or text)."""
        cfg = self.cfg
        if method == "GET" and path == cfg.liveness_path:
            return path, 200, {"status": "alive"}
        if method == "GET" and path == cfg.readiness_path:
            if self.stopping.is_set():
                # Draining: out of rotation while the requests in flight finish.
                return path, 503, {"status": "stopping", "failures": {}}
            failures = self.readiness.failures()
            status = 503 if failures else 200
            return (
                path,
                status,
                {"status": "unready" if failures else "ready", "failures": failures},
            )
        if method == "GET" and path == cfg.metrics_path:
            return path, 200, self.metrics.render()
        if method == "GET" and path == "/api/items":
            return "/api/items", 200, ITEMS
        if method == "GET" and (match := ITEM_ROUTE.match(path)):
            item = next((i for i in ITEMS if i["id"] == int(match[1])), None)
            return "/api/items/{id}", (200 if item else 404), item or {"error": "not found"}
        if method == "POST" and path == "/api/notes":
            return "/api/notes", *self.create_note(body, headers.get("Idempotency-Key"))
        if method == "GET" and (match := NOTE_ROUTE.match(path)):
            return "/api/notes/{id}", *self.read_note(int(match[1]))
        if method == "POST" and path == "/api/auth/login":
            return "/api/auth/login", *self.login(body)
        if method == "GET" and path == "/api/auth/whoami":
            return "/api/auth/whoami", *self.whoami(headers.get("Authorization", ""))
        return "unmatched", 404, {"error": "not found"}

    def create_note(self, body: bytes, request_key: str | None) -> tuple[int, Any]:
        """201 with the note; 200 with the same note for a retry of a write already done
        (the same Idempotency-Key); 503 when the database cannot take it, which a client may
        retry with the same key."""
        try:
            text = json.loads(body or b"{}")["text"]
        except (ValueError, KeyError, TypeError):
            return 400, {"error": 'send {"text": ...}'}
        if not isinstance(text, str) or not 0 < len(text) <= MAX_TEXT:
            return 400, {"error": f"text: a string of 1 to {MAX_TEXT} characters"}
        if request_key is not None and not REQUEST_KEY.fullmatch(request_key):
            return 400, {"error": f"Idempotency-Key: 1 to {MAX_REQUEST_KEY} printable characters"}
        try:
            written = self.notes.create(text, request_key)
        except StoreUnavailableError as error:
            return 503, {"error": str(error)}
        return (201 if written.created else 200), written.note

    def read_note(self, note_id: int) -> tuple[int, Any]:
        try:
            note = self.notes.read(note_id)
        except StoreUnavailableError as error:
            return 503, {"error": str(error)}
        return (200, note) if note else (404, {"error": "not found"})

    def sign(self, subject: str) -> str:
        mac = hmac.new(self.signing_key, subject.encode(), hashlib.sha256).digest()
        return ".".join(
            base64.urlsafe_b64encode(p).decode().rstrip("=") for p in (subject.encode(), mac)
        )

    def login(self, body: bytes) -> tuple[int, Any]:
        if not self.signing_key:
            return 503, {"error": "no signing key"}
        try:
            username = str(json.loads(body or b"{}")["username"])
        except (ValueError, KeyError, TypeError):
            return 400, {"error": 'send {"username": ...}'}
        return 200, {"token": self.sign(username)}

    def whoami(self, authorization: str) -> tuple[int, Any]:
        token = authorization.removeprefix("Bearer ").strip()
        try:
            encoded = token.split(".")[0]
            subject = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        except (ValueError, UnicodeDecodeError):
            return 401, {"error": "invalid token"}
        if not self.signing_key or not hmac.compare_digest(self.sign(subject), token):
            return 401, {"error": "invalid token"}
        return 200, {"username": subject}


def handler_for(api: Api) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "refapi"
        sys_version = ""
        # An idle kept-alive connection (a scraper's) is closed after this long, so a
        # shutdown waits for requests in flight, not for idle clients.
        timeout = KEEPALIVE_SECONDS

        def handle_method(self) -> None:
            started = time.monotonic()
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(min(length, 1 << 20)) if length else b""
            path = self.path.split("?", 1)[0]
            route, status, payload = api.route(self.command, path, body, self.headers)
            if isinstance(payload, str):
                data, content_type = payload.encode(), "text/plain; version=0.0.4; charset=utf-8"
            else:
                data, content_type = json.dumps(payload).encode(), "application/json"
            # Recorded before the reply, so a client's next request always sees this one.
            seconds = time.monotonic() - started
            api.metrics.observe(self.command, route, status, seconds)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            if request_id := self.headers.get("X-Request-ID"):
                self.send_header("X-Request-ID", request_id)
            if api.stopping.is_set():
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(data)
            log(
                method=self.command,
                route=route,
                status=status,
                duration_ms=round(seconds * 1000, 2),
                request_id=self.headers.get("X-Request-ID"),
            )

        do_GET = do_POST = do_PUT = do_DELETE = handle_method  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:
            pass  # one JSON line per request is written by handle_method

    return Handler


def log(**fields: Any) -> None:
    sys.stdout.write(json.dumps({"ts": time.time(), **fields}) + "\n")


# How long the API waits for its dependencies before it listens anyway (then unready).
READY_WAIT_SECONDS = float(os.environ.get("REFAPI_READY_WAIT_SECONDS", "30"))
# How long an idle kept-alive connection stays open (uvicorn's default).
KEEPALIVE_SECONDS = 5
# How soon the accept loop sees a shutdown: the listener closes this long after SIGTERM.
ACCEPT_POLL_SECONDS = 0.05


def wait_for_dependencies(
    ready: readiness.Readiness, seconds: float, stopping: threading.Event
) -> None:
    """Listen only once every dependency answers (or `seconds` passed, or it is told to
    stop): a proxy that finds replicas by name (the edge on Docker) sends requests as soon
    as the port is open, so an open port should mean a replica that can serve."""
    deadline = time.monotonic() + seconds
    while not stopping.is_set():
        failures = ready.failures()
        if not failures or time.monotonic() >= deadline:
            return
        log(event="waiting for dependencies", failures=failures)
        stopping.wait(0.5)


def main(argv: list[str] | None = None) -> None:
    args = argv if argv is not None else sys.argv[1:]
    cfg = config_module.load(args[0] if args else None)
    api = Api(cfg)
    stopping = threading.Event()

    def stop(signum: int, _frame: Any) -> None:
        log(event="shutdown", signal=signum)
        stopping.set()
        api.stopping.set()
        if server is not None:
            threading.Thread(target=server.shutdown, daemon=True).start()

    server: ThreadingHTTPServer | None = None
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    wait_for_dependencies(api.readiness, READY_WAIT_SECONDS, stopping)
    if stopping.is_set():
        log(event="stopped")
        return
    server = ThreadingHTTPServer(("0.0.0.0", cfg.port), handler_for(api))
    server.daemon_threads = False  # finish in-flight requests on shutdown
    server.block_on_close = True
    log(event="listening", port=cfg.port, dependencies=[d.name for d in cfg.dependencies])
    # On SIGTERM the accept loop ends within ACCEPT_POLL_SECONDS; what the kernel accepted
    # meanwhile is served, and the listener closes at once after (server_close), so a new
    # connection is refused (the edge retries it on another replica) rather than queued and
    # reset; requests in flight finish (block_on_close).
    server.serve_forever(poll_interval=ACCEPT_POLL_SECONDS)
    serve_accepted(server)
    server.server_close()
    log(event="stopped")


def serve_accepted(server: ThreadingHTTPServer) -> None:
    """Serve every connection waiting in the listener's queue, up to the moment it is
    empty: closing the listener would reset them, after their requests were sent."""
    server.socket.setblocking(False)
    while True:
        try:
            connection, address = server.socket.accept()
        except BlockingIOError:
            return
        connection.setblocking(True)
        server.process_request(connection, address)
