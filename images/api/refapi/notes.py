"""Notes kept in Postgres and cached in Redis: the reference API's one route that writes to
both stores and reads back, so a deployed stack can show its whole data path works. It is
also the pattern users copy for a store's failure: a write is done once however often it is
retried (a request key), and the cache is only ever an optimisation."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from refapi import pgwire, resp
from refapi.config import Config, Dependency
from refapi.pool import Pool

MAX_TEXT = 1000
# A client's key for one write (the Idempotency-Key header): printable ASCII, like a UUID.
MAX_REQUEST_KEY = 200
CACHE_SECONDS = 3600
# After the cache fails, the API works without it for this long before trying it again,
# so that requests do not each wait out its timeout while it is away.
CACHE_RETRY_SECONDS = 5.0
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS notes ("
    "id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
    "text text NOT NULL, "
    "created timestamptz NOT NULL DEFAULT now())",
    # The key a client sent with the write: its retry finds the note instead of adding one.
    "ALTER TABLE notes ADD COLUMN IF NOT EXISTS request_key text UNIQUE",
)
INSERT = (
    "INSERT INTO notes (text, request_key) VALUES ($1, $2) "
    "ON CONFLICT (request_key) DO NOTHING RETURNING id, created"
)


class StoreUnavailableError(Exception):
    """The database refused or failed the request; the API answers 503."""


@dataclass
class Written:
    note: dict[str, Any]
    created: bool  # False: a retry of a write already done (the same request key)


class Notes:
    """Postgres holds the notes; Redis is a cache in front of it (cache-aside). The cache is
    never needed: while it is away, reads come from Postgres and writes still succeed."""

    def __init__(self, cfg: Config) -> None:
        self.postgres = _dependency(cfg, "postgres")
        self.redis = _dependency(cfg, "redis")
        self._schema_ready = False
        self._postgres_pool = Pool(self._postgres)
        self._redis_pool = Pool(self._redis)
        self._cache_retry_at = 0.0

    def _postgres(self) -> pgwire.Connection:
        d = self.postgres
        if d is None:
            raise StoreUnavailableError("no postgres dependency in api.json")
        return pgwire.Connection(
            d.host,
            d.port,
            d.user or "",
            d.database or "",
            d.secret("password") or "",
            ca_file=d.ca_file,
        )

    def _redis(self) -> resp.Connection:
        d = self.redis
        if d is None:
            raise resp.RedisError("no redis dependency in api.json")
        return resp.Connection(d.host, d.port, d.user, d.secret("password"), ca_file=d.ca_file)

    def _cache(self, *command: str) -> resp.Reply:
        """A command to the cache, or None while it is away (then not tried again for
        CACHE_RETRY_SECONDS)."""
        if time.monotonic() < self._cache_retry_at:
            return None
        try:
            with self._redis_pool.connection() as cache:
                return cache.command(*command)
        except (OSError, resp.RedisError):
            self._cache_retry_at = time.monotonic() + CACHE_RETRY_SECONDS
            return None

    def create(self, text: str, request_key: str | None = None) -> Written:
        """The note written, once: a write whose answer was lost (a timeout, a 503 after
        the commit) is retried with the same request key and finds the note it made."""
        try:
            with self._postgres_pool.connection() as db:
                if not self._schema_ready:
                    for statement in SCHEMA:
                        db.execute(statement)
                    self._schema_ready = True
                rows = db.execute(INSERT, [text, request_key])
                created = bool(rows)
                if not created:
                    rows = db.execute(
                        "SELECT id, created, text FROM notes WHERE request_key = $1",
                        [request_key],
                    )
        except (OSError, pgwire.PostgresError) as error:
            raise StoreUnavailableError(f"{type(error).__name__}: {error}") from error
        note_id, when = rows[0][0], rows[0][1]
        text = str(rows[0][2]) if not created else text
        note = {"id": int(str(note_id)), "text": text, "created": when}
        self._cache("SET", f"note:{note_id}", json.dumps(note), "EX", str(CACHE_SECONDS))
        return Written(note, created)

    def read(self, note_id: int) -> dict[str, Any] | None:
        cached = self._cache("GET", f"note:{note_id}")
        if isinstance(cached, str):
            return {**json.loads(cached), "cached": True}
        try:
            with self._postgres_pool.connection() as db:
                rows = db.execute("SELECT text, created FROM notes WHERE id = $1", [str(note_id)])
        except pgwire.PostgresError as error:
            if "does not exist" in str(error):
                return None  # no note was ever written
            raise StoreUnavailableError(f"PostgresError: {error}") from error
        except OSError as error:
            raise StoreUnavailableError(f"{type(error).__name__}: {error}") from error
        if not rows:
            return None
        text, created = rows[0]
        note = {"id": note_id, "text": text, "created": created}
        self._cache("SET", f"note:{note_id}", json.dumps(note), "EX", str(CACHE_SECONDS))
        return {**note, "cached": False}


def _dependency(cfg: Config, kind: str) -> Dependency | None:
    return next((d for d in cfg.dependencies if d.kind == kind), None)
