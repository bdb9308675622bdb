"""The reference API's notes against Debian's real Postgres and Redis on loopback: a write is
done once however often it is retried, and the cache is never needed (images/api/refapi/
notes.py). These are the behaviours the game day's partition drill shows on the running
stack (infra/ops/gameday)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.images.reference_api import REDIS_PASSWORD, RunningApi, start_api
from tests.live import (
    as_user,
    free_port,
    owned_tempdir,
    require,
    server_root,
    signal_group,
    wait_for_port,
)
from tests.support import ROOT

pytestmark = pytest.mark.live

PG_BIN = Path("/usr/lib/postgresql/15/bin")
APP_PASSWORD = "app-password-123"


@dataclass
class Stores:
    postgres_port: int
    redis_port: int
    socket_dir: Path
    redis: subprocess.Popen[bytes]

    def psql(self, sql: str, database: str = "app") -> str:
        return subprocess.run(
            as_user("postgres", [str(PG_BIN / "psql"), "-h", str(self.socket_dir), "-p",
                                 str(self.postgres_port), "-U", "postgres", "-d", database,
                                 "-qAtc", sql]),
            check=True, capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip


@pytest.fixture
def stores() -> Iterator[Stores]:
    require(str(PG_BIN / "initdb"), "/usr/bin/redis-server")
    with server_root("postgres") as root:
        data, sockets = root / "data", root / "run"
        sockets.mkdir()
        (root / "pw").write_text("postgres-password\n")
        owned_tempdir(root, "postgres")
        subprocess.run(as_user("postgres", [str(PG_BIN / "initdb"), "-D", str(data), "-U",
                                            "postgres", "--auth-local=trust",
                                            "--auth-host=scram-sha-256",
                                            f"--pwfile={root / 'pw'}"]),
                       check=True, capture_output=True)  # fmt: skip
        postgres_port, redis_port = free_port(), free_port()
        options = f"-p {postgres_port} -k {sockets} -c listen_addresses=127.0.0.1"
        subprocess.run(as_user("postgres", [str(PG_BIN / "pg_ctl"), "-D", str(data), "-w",
                                            "-l", str(root / "log"), "-o", options, "start"]),
                       check=True, capture_output=True)  # fmt: skip
        redis = subprocess.Popen(
            ["/usr/bin/redis-server", "--port", str(redis_port), "--bind", "127.0.0.1",
             "--requirepass", REDIS_PASSWORD, "--save", "", "--appendonly", "no"],
            stdout=(root / "redis.log").open("wb"), start_new_session=True,
        )  # fmt: skip
        stores = Stores(postgres_port, redis_port, sockets, redis)
        try:
            wait_for_port(redis, redis_port, root / "redis.log", "redis-server")
            stores.psql(f"CREATE ROLE app LOGIN PASSWORD '{APP_PASSWORD}'", "postgres")
            subprocess.run(as_user("postgres", [str(PG_BIN / "createdb"), "-h", str(sockets),
                                                "-p", str(postgres_port), "-O", "app", "app"]),
                           check=True)  # fmt: skip
            yield stores
        finally:
            if stores.redis.poll() is None:
                signal_group(stores.redis, 15)
            subprocess.run(as_user("postgres", [str(PG_BIN / "pg_ctl"), "-D", str(data), "-m",
                                                "immediate", "stop"]), check=False)  # fmt: skip


def _dependency(kind: str, port: int, **fields: Any) -> dict[str, Any]:
    return {"name": kind, "kind": kind, "host": "127.0.0.1", "port": port, "database": None,
            "user": None, "secret_files": {}, **fields}  # fmt: skip


@pytest.fixture
def api(tmp_path: Path, stores: Stores) -> Iterator[RunningApi]:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "postgres-password").write_text(APP_PASSWORD)
    postgres = _dependency(
        "postgres", stores.postgres_port, database="app", user="app",
        secret_files={"password": str(tmp_path / "secrets" / "postgres-password")},
    )  # fmt: skip
    redis = _dependency(
        "redis", stores.redis_port,
        secret_files={"password": str(tmp_path / "secrets" / "redis-password"),
                      "user": str(tmp_path / "secrets" / "redis-user")},
    )  # fmt: skip
    running = start_api(tmp_path, [postgres, redis])
    yield running
    running.process.terminate()
    running.process.wait(10)


def post_note(api: RunningApi, text: str, key: str | None = None) -> tuple[int, dict[str, Any]]:
    headers = {"Idempotency-Key": key} if key else {}
    return api.send("POST", "/api/notes", {"text": text}, headers)


def test_a_note_is_read_back_from_the_cache_after_the_database(
    api: RunningApi, stores: Stores
) -> None:
    status, note = post_note(api, "hello")
    assert status == 201
    status, first = api.send("GET", f"/api/notes/{note['id']}")
    assert (status, first["text"], first["cached"]) == (200, "hello", True)


def test_a_retried_write_with_its_key_finds_the_note_it_made(
    api: RunningApi, stores: Stores
) -> None:
    key = str(uuid.uuid4())
    first = post_note(api, "once", key)
    again = post_note(api, "once", key)
    assert (first[0], again[0]) == (201, 200)
    assert again[1]["id"] == first[1]["id"]
    assert stores.psql(f"SELECT count(*) FROM notes WHERE request_key = '{key}'") == "1"
    # Without a key, each write is a note of its own.
    assert post_note(api, "twice")[1]["id"] != post_note(api, "twice")[1]["id"]


def test_without_the_cache_writes_succeed_and_reads_come_from_the_database(
    api: RunningApi, stores: Stores
) -> None:
    status, note = post_note(api, "before")
    assert status == 201
    signal_group(stores.redis, 9)
    status, written = post_note(api, "while the cache is away")
    assert status == 201
    assert stores.psql(f"SELECT text FROM notes WHERE id = {written['id']}") == written["text"]
    started = time.monotonic()
    replies = [api.send("GET", f"/api/notes/{note['id']}") for _ in range(5)]
    seconds = time.monotonic() - started
    assert [(s, r["text"], r["cached"]) for s, r in replies] == [(200, "before", False)] * 5
    # The cache is not waited for on every request while it is away.
    assert seconds < 2, f"5 reads took {seconds:.1f} s"


def test_a_database_that_cannot_be_reached_answers_503_and_leaves_no_row(
    api: RunningApi, stores: Stores
) -> None:
    assert post_note(api, "first")[0] == 201
    stores.psql("ALTER ROLE app NOLOGIN")
    # Connections the pool kept are closed, as a partition would break them.
    stores.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'app'")
    key = str(uuid.uuid4())
    status, reply = post_note(api, "refused", key)
    assert status == 503, reply
    stores.psql("ALTER ROLE app LOGIN")
    assert stores.psql(f"SELECT count(*) FROM notes WHERE request_key = '{key}'") == "0"
    assert post_note(api, "refused", key)[0] == 201


def test_a_name_that_does_not_resolve_in_time_fails_within_the_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """getaddrinfo takes no timeout; a partitioned host's resolver retries for 10 s. The
    lookup given up on goes on in a daemon thread, which cannot hold up the API's exit (a
    pool's worker threads are joined at exit: a stop would wait out every hung lookup)."""
    sys.path.insert(0, str(ROOT / "images" / "api"))
    from refapi import tls

    real = socket.getaddrinfo

    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(5)
        return real(*args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", slow)
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r"resolving redis took more than 0\.5 s"):
        tls.open_socket("redis", 6379, 0.5)
    assert time.monotonic() - started < 1
    lookups = [t for t in threading.enumerate() if t.name == "resolve redis"]
    assert lookups and all(t.daemon for t in lookups)
