"""The stack's recovery targets: what `prodstack gameday` measures each drill against."""

from __future__ import annotations

from pydantic import Field

from components.settings import Settings


class RecoverySettings(Settings):
    page_within_seconds: int = Field(
        ge=10,
        le=3600,
        description=(
            "A critical outage (the API, a data store, the edge down) reaches the paging "
            "receiver within this long."
        ),
    )
    restart_seconds: int = Field(
        ge=1,
        le=3600,
        description=(
            "After a data store's process is killed, writes are accepted again within this long."
        ),
    )
    fail_fast_seconds: int = Field(
        ge=1,
        le=60,
        description=(
            "A request whose data store cannot be reached (a network partition) is answered "
            "within this long, name resolution included: 503, not a hang. The reference API "
            "gives up on Redis after 2 s and on Postgres after 5 s."
        ),
    )
    rto_seconds: int = Field(
        ge=60,
        le=86400,
        description=(
            "Recovery time objective: after the database's volume is lost, a restore from "
            "the backup repository accepts writes again within this long."
        ),
    )
    rpo_seconds: int = Field(
        ge=1,
        le=86400,
        description=(
            "Recovery point objective: the commits a restore may lose, in seconds before the "
            "loss. At least postgres.archiveTimeoutSeconds, which bounds how long a "
            "finished commit can wait to reach the repository."
        ),
    )
