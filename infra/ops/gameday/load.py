"""The bounded write load a data drill runs under: notes written through the edge, each with a
request key of its own (the Idempotency-Key the reference API honours), so that after the
fault every acknowledged write can be looked for in the database by its key."""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass

from infra.ops.gameday.live import DrillError, LiveStack
from infra.ops.traffic import Client, Traffic


@dataclass(frozen=True)
class Write:
    key: str
    started: float  # monotonic
    answered: float  # monotonic: when the reply (or the failure) came
    status: int | None  # None: no reply

    @property
    def acknowledged(self) -> bool:
        return self.status in (200, 201)


class NoteWrites(Traffic):
    """Notes written at `rate` a second; with `reads`, each write is followed by a read of
    one of those notes (written before the fault)."""

    def __init__(
        self, stack: LiveStack, rate: float = 20, clients: int = 4, reads: list[int] | None = None
    ) -> None:
        port, host = stack.edge
        super().__init__(port, stack.ca_pem, rate=rate, clients=clients, assets=[], host=host)
        self.prefix = f"gameday-{secrets.token_hex(4)}-"
        self.reads = reads or []
        self.writes: list[Write] = []
        self._writes_lock = threading.Lock()

    def one(self, client: Client, n: int) -> None:
        key = f"{self.prefix}{n}"
        body = json.dumps({"text": f"game day note {n}"}).encode()
        started = time.monotonic()
        status, _ = self.timed(
            client, "write", "POST", "/api/notes", body, {"Idempotency-Key": key}
        )
        with self._writes_lock:
            self.writes.append(Write(key, started, time.monotonic(), status))
        if self.reads:
            self.timed(client, "read", "GET", f"/api/notes/{self.reads[n % len(self.reads)]}")

    def write(self, key: str) -> int:
        """One note written now with `key`, on a connection of its own: its id (a retry of
        a key already written finds the same note)."""
        client = Client(self.port, self.ca_pem, self.host)
        try:
            body = json.dumps({"text": f"game day note {key}"}).encode()
            status, data, _ = client.request("POST", "/api/notes", body, {"Idempotency-Key": key})
        finally:
            client.close()
        if status not in (200, 201):
            raise DrillError(f"a note's write answered {status}: {data[:200]!r}")
        return int(json.loads(data)["id"])

    def acknowledged(self) -> list[Write]:
        return [w for w in self.writes if w.acknowledged]

    def refused(self) -> list[Write]:
        return [w for w in self.writes if not w.acknowledged]

    def accepted_again(self, moment: float) -> float | None:
        """Seconds from `moment` until the first write sent after it was acknowledged."""
        answered = [w.answered for w in self.acknowledged() if w.started > moment]
        return min(answered) - moment if answered else None
