"""Just enough of the Redis protocol (RESP2) for the reference API, with no client library:
AUTH as an ACL user, then commands, each reply parsed."""

from __future__ import annotations

from refapi import tls

Reply = str | int | None | list["Reply"]


class RedisError(Exception):
    """An error reply (-ERR, -NOPERM, -WRONGPASS ...) or a broken connection."""


def encode(*parts: str) -> bytes:
    encoded = [p.encode() for p in parts]
    return b"*%d\r\n" % len(encoded) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in encoded)


class Connection:
    def __init__(
        self,
        host: str,
        port: int,
        user: str | None,
        password: str | None,
        timeout: float = 2.0,
        ca_file: str | None = None,
    ) -> None:
        """`ca_file`: the server speaks TLS only; verify it against this CA."""
        self.sock = tls.connect(host, port, timeout, ca_file)
        self.reader = self.sock.makefile("rb")
        try:
            if password:
                self.command("AUTH", user or "default", password)
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.reader.close()
        self.sock.close()

    def command(self, *parts: str) -> Reply:
        self.sock.sendall(encode(*parts))
        return self._reply()

    def _reply(self) -> Reply:
        line = self.reader.readline()
        if not line.endswith(b"\r\n"):
            raise RedisError("the server closed the connection")
        kind, rest = line[:1], line[1:-2].decode(errors="replace")
        if kind == b"+":
            return rest
        if kind == b"-":
            raise RedisError(rest)
        if kind == b":":
            return int(rest)
        if kind == b"$":
            if int(rest) < 0:
                return None
            data = self.reader.read(int(rest) + 2)
            return data[:-2].decode(errors="replace")
        if kind == b"*":
            return [self._reply() for _ in range(int(rest))] if int(rest) >= 0 else None
        raise RedisError(f"unexpected reply {line!r}")
