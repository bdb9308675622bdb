"""Redis settings: image, memory, eviction and persistence."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from components.images import ImageReference
from components.settings import TLS_OFF_REASON, PlaintextReason, Resources, Settings

EvictionPolicy = Literal[
    "noeviction", "allkeys-lru", "allkeys-lfu", "volatile-lru", "volatile-lfu", "volatile-ttl"
]


# With persistence, a save forks Redis; every page written meanwhile is copied, and the copy
# counts against the container's limit. Half the limit for data leaves the other half for it.
MAX_MEMORY_PERCENT = 50


class RedisSettings(Settings):
    image: ImageReference = Field(description="Redis 7 or 8 image (by digest in prod).")
    tls: bool = Field(
        description=(
            "Encrypt every connection from outside the pod: TLS with a certificate from the "
            "stack's CA (cert-manager on Kubernetes), clients verify it (verify-full)."
        )
    )
    tls_off_reason: PlaintextReason | None = TLS_OFF_REASON
    exporter_image: ImageReference = Field(description="redis_exporter image (sidecar).")
    storage_gib: int = Field(ge=1, le=4096, description="Size of the persistence volume.")
    resources: Resources
    maxmemory_percent: int = Field(
        ge=25,
        le=MAX_MEMORY_PERCENT,
        description=(
            "maxmemory as a share of the memory limit. The rest is for the fork that writes "
            "the append-only file and snapshots: its copy-on-write pages count against the "
            f"same limit, so above {MAX_MEMORY_PERCENT} % a save under writes can be OOM-killed."
        ),
    )
    eviction_policy: EvictionPolicy = Field(
        description="noeviction for queues and sessions; allkeys-lru for a pure cache."
    )
    allow_scripting: bool = Field(
        default=False,
        description=(
            "Let the API's user run Lua scripts and functions (EVAL, EVALSHA, SCRIPT, FUNCTION, "
            "FCALL). Off: a stolen app password cannot run code inside Redis, and the Lua "
            "interpreter's flaws (the 2025 use-after-free CVE-2025-49844 and its siblings) are "
            "out of the app user's reach. Turn on only if the API's client library needs it."
        ),
    )
