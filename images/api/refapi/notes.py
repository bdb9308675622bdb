"""Notes kept in Postgres and cached in Redis: the reference API's one route that writes to
both stores and reads back, so a deployed stack can show its whole data path works."""

from __future__ import annotations

from typing import Any

from refapi import pgwire, resp
from refapi.config import Config, Dependency
from refapi.pool import Pool

MAX_TEXT = 1000
CACHE_SECONDS = 3600
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS notes ("
    "id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
    "text text NOT NULL, "
    "created timestamptz NOT NULL DEFAULT now())"
)


class StoreUnavailableError(Exception):
    """A store refused or failed the request; the API answers 503."""


class Notes:
    def __init__(self, cfg: Config) -> None:
        self.postgres = _dependency(cfg, "postgres")
        self.redis = _dependency(cfg, "redis")
        self._schema_ready = False
        self._postgres_pool = Pool(self._postgres)
        self._redis_pool = Pool(self._redis)

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
            raise StoreUnavailableError("no redis dependency in api.json")
        return resp.Connection(d.host, d.port, d.user, d.secret("password"), ca_file=d.ca_file)

    def create(self, text: str) -> dict[str, Any]:
        try:
            with self._postgres_pool.connection() as db:
                if not self._schema_ready:
                    db.execute(SCHEMA)
                    self._schema_ready = True
                ((note_id, created),) = db.execute(
                    "INSERT INTO notes (text) VALUES ($1) RETURNING id, created", [text]
                )
            with self._redis_pool.connection() as cache:
                cache.command("SET", f"note:{note_id}", text, "EX", str(CACHE_SECONDS))
        except (OSError, pgwire.PostgresError, resp.RedisError) as error:
            raise StoreUnavailableError(f"{type(error).__name__}: {error}") from error
        return {"id": int(str(note_id)), "text": text, "created": created}

    def read(self, note_id: int) -> dict[str, Any] | None:
        try:
            with self._postgres_pool.connection() as db:
                rows = db.execute("SELECT text, created FROM notes WHERE id = $1", [str(note_id)])
            with self._redis_pool.connection() as cache:
                cached = cache.command("GET", f"note:{note_id}")
        except pgwire.PostgresError as error:
            if "does not exist" in str(error):
                return None  # no note was ever written
            raise StoreUnavailableError(f"PostgresError: {error}") from error
        except (OSError, resp.RedisError) as error:
            raise StoreUnavailableError(f"{type(error).__name__}: {error}") from error
        if not rows:
            return None
        text, created = rows[0]
        return {"id": note_id, "text": text, "created": created, "cached": cached}


def _dependency(cfg: Config, kind: str) -> Dependency | None:
    return next((d for d in cfg.dependencies if d.kind == kind), None)
