"""The watcher that reloads or restarts a server when a file it reads only at start changes
in place (a certificate cert-manager renews): images/scripts/watch.sh, delivered to the
container as a config file. The edge reloads nginx; Redis reads its certificate again."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from components.workload import CONFIG_DIR, File

SCRIPT = Path(__file__).parents[1] / "images" / "scripts" / "watch.sh"
DELIVERED = f"{CONFIG_DIR}/{SCRIPT.name}"


def watcher_file() -> File:
    return File(SCRIPT.name, SCRIPT.read_text())


def watched(
    server: Sequence[str],
    files: Sequence[str],
    reload: str = "",
    stop: str = "",
    script: str = DELIVERED,
) -> tuple[str, ...]:
    """`server` under the watcher: reloaded with `reload` (a shell command) when one of
    `files` changes, else restarted; stopped with `stop` on SIGTERM, else SIGTERM."""
    return (
        "sh",
        script,
        *(("--reload", reload) if reload else ()),
        *(("--stop", stop) if stop else ()),
        *(part for f in files for part in ("--watch", f)),
        "--",
        *server,
    )
