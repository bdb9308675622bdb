"""The reference API's shutdown, in process: connections the kernel accepted before the
listener closed are served, not reset after their requests were sent."""

from __future__ import annotations

import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.support import ROOT

sys.path.insert(0, str(ROOT / "images" / "api"))

from refapi.server import serve_accepted


class Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def received(client: socket.socket) -> bytes:
    data = b""
    while chunk := client.recv(4096):
        data += chunk
    return data


def test_connections_queued_at_shutdown_are_served() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    server.block_on_close = True
    port = server.server_address[1]
    clients = []
    for _ in range(5):  # handshakes the kernel completed; the server never accepted them
        client = socket.create_connection(("127.0.0.1", port), timeout=5)
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        clients.append(client)
    serve_accepted(server)
    server.server_close()
    for client in clients:
        with client:
            assert received(client).startswith(b"HTTP/1.0 200")
    refused = socket.socket()
    assert refused.connect_ex(("127.0.0.1", port)) != 0  # the listener is gone
    refused.close()
