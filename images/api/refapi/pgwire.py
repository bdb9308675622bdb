"""Just enough of the PostgreSQL wire protocol (v3) for the reference API, with no client
library: SCRAM-SHA-256 login (the only method pg_hba.conf allows) and parameterised
statements over the extended query protocol, so no value is ever spliced into SQL."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import secrets
import struct
from collections.abc import Sequence

from refapi import tls

PROTOCOL_V3 = 196608
SCRAM = "SCRAM-SHA-256"
AUTH_OK, AUTH_SASL, AUTH_SASL_CONTINUE, AUTH_SASL_FINAL = 0, 10, 11, 12

Row = tuple[str | None, ...]


class PostgresError(Exception):
    """An ErrorResponse from the server, or a protocol step it did not take."""


def _hmac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


class Scram:
    """The client side of SCRAM-SHA-256 (RFC 5802, RFC 7677), without channel binding."""

    def __init__(self, password: str, nonce: str | None = None, user: str = "") -> None:
        self.password = password.encode()
        self.nonce = nonce or base64.b64encode(secrets.token_bytes(18)).decode()
        # Postgres takes the user from the startup message, so the SCRAM user name is empty.
        self.client_first_bare = f"n={user},r={self.nonce}"
        self.server_signature = b""

    def client_first(self) -> str:
        return "n,," + self.client_first_bare

    def client_final(self, server_first: str) -> str:
        fields = dict(part.split("=", 1) for part in server_first.split(","))
        if not fields["r"].startswith(self.nonce):
            raise PostgresError("SCRAM: the server's nonce does not extend ours")
        salted = hashlib.pbkdf2_hmac(
            "sha256", self.password, base64.b64decode(fields["s"]), int(fields["i"])
        )
        without_proof = f"c=biws,r={fields['r']}"
        auth_message = f"{self.client_first_bare},{server_first},{without_proof}".encode()
        client_key = _hmac(salted, b"Client Key")
        signature = _hmac(hashlib.sha256(client_key).digest(), auth_message)
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        self.server_signature = _hmac(_hmac(salted, b"Server Key"), auth_message)
        return f"{without_proof},p={base64.b64encode(proof).decode()}"

    def verify(self, server_final: str) -> None:
        given = base64.b64decode(server_final.removeprefix("v="))
        if not hmac.compare_digest(given, self.server_signature):
            raise PostgresError("SCRAM: the server did not prove it knows the password")


class Connection:
    def __init__(
        self,
        host: str,
        port: int,
        user: str,
        database: str,
        password: str,
        timeout: float = 5.0,
        ca_file: str | None = None,
    ) -> None:
        """`ca_file`: the server speaks TLS only; verify it against this CA (verify-full)."""
        self.sock = tls.connect(host, port, timeout, ca_file, tls.start_postgres)
        self.buffer = b""
        try:
            self._login(user, database, password)
        except BaseException:
            self.sock.close()
            raise

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.sendall(b"X" + struct.pack("!I", 4))
        self.sock.close()

    # -- framing -------------------------------------------------------------------------

    def _send(self, kind: bytes, payload: bytes) -> None:
        self.sock.sendall(kind + struct.pack("!I", len(payload) + 4) + payload)

    def _read_exact(self, size: int) -> bytes:
        while len(self.buffer) < size:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise PostgresError("the server closed the connection")
            self.buffer += chunk
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def _receive(self) -> tuple[bytes, bytes]:
        header = self._read_exact(5)
        kind, length = header[:1], struct.unpack("!I", header[1:])[0]
        body = self._read_exact(length - 4)
        if kind == b"E":
            raise PostgresError(_error_message(body))
        return kind, body

    # -- login ---------------------------------------------------------------------------

    def _login(self, user: str, database: str, password: str) -> None:
        params = b"user\0" + user.encode() + b"\0database\0" + database.encode() + b"\0\0"
        startup = struct.pack("!I", PROTOCOL_V3) + params
        self.sock.sendall(struct.pack("!I", len(startup) + 4) + startup)
        scram = Scram(password)
        while True:
            kind, body = self._receive()
            if kind == b"Z":
                return
            if kind != b"R":
                continue  # ParameterStatus, BackendKeyData, notices
            code = struct.unpack("!I", body[:4])[0]
            if code == AUTH_SASL:
                if SCRAM not in body[4:].decode().split("\0"):
                    raise PostgresError("the server offers no SCRAM-SHA-256")
                first = scram.client_first().encode()
                self._send(b"p", SCRAM.encode() + b"\0" + struct.pack("!I", len(first)) + first)
            elif code == AUTH_SASL_CONTINUE:
                self._send(b"p", scram.client_final(body[4:].decode()).encode())
            elif code == AUTH_SASL_FINAL:
                scram.verify(body[4:].decode())
            elif code != AUTH_OK:
                raise PostgresError(f"authentication method {code} is not supported")

    # -- statements ----------------------------------------------------------------------

    def execute(self, sql: str, params: Sequence[str | None] = ()) -> list[Row]:
        """Run one statement with text parameters ($1, $2, ...); its rows, as text."""
        encoded = b""
        for value in params:
            encoded += (
                struct.pack("!i", -1)
                if value is None
                else struct.pack("!i", len(value.encode())) + value.encode()
            )
        self._send(b"P", b"\0" + sql.encode() + b"\0" + struct.pack("!H", 0))
        self._send(b"B", b"\0\0" + struct.pack("!HH", 0, len(params)) + encoded + b"\0\0")
        self._send(b"E", b"\0" + struct.pack("!I", 0))
        self._send(b"S", b"")
        rows: list[Row] = []
        error: PostgresError | None = None
        while True:
            try:
                kind, body = self._receive()
            except PostgresError as failed:
                error = failed  # the server still sends ReadyForQuery after an error
                continue
            if kind == b"D":
                rows.append(_data_row(body))
            elif kind == b"Z":
                if error is not None:
                    raise error
                return rows


def _data_row(body: bytes) -> Row:
    count = struct.unpack("!H", body[:2])[0]
    offset = 2
    values: list[str | None] = []
    for _ in range(count):
        length = struct.unpack("!i", body[offset : offset + 4])[0]
        offset += 4
        if length < 0:
            values.append(None)
        else:
            values.append(body[offset : offset + length].decode())
            offset += length
    return tuple(values)


def _error_message(body: bytes) -> str:
    fields = {part[:1]: part[1:].decode(errors="replace") for part in body.split(b"\0") if part}
    return f"{fields.get(b'S', 'ERROR')}: {fields.get(b'M', 'unknown error')}"
