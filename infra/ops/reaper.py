"""`prodstack ephemeral list` and `reap`: the ephemeral stacks of a backend, and the removal of
those whose expiry (the `prodstack:expires-at` tag that `ephemeral up` sets) has passed.

`reap` is a dry run unless told `--yes`: destroying is not undone, and a reaper run by hand
should show what it would do first (the scheduled workflow passes `--yes`). Each expired stack
is destroyed and removed as `ephemeral down` does; one that fails is reported and the others
go on; a stack whose update lock another reaper (or an update) holds is skipped, so two
reapers at once never destroy one stack twice.

`reap --orphans` also removes, on this Docker host, what an expired ephemeral stack left
behind with no state to destroy it from (a lost backend, a destroy that failed half-way):
found by the labels every prodstack resource carries (components/platform/labels.py).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.platform.labels import EXPIRES_LABEL, INSTANCE
from infra.ops.ephemeral import Backend, Print, destroy, workspace
from infra.ops.ephemeral_config import EXPIRES_TAG, STACK_PREFIX


@dataclass(frozen=True)
class EphemeralStack:
    name: str
    expires_at: dt.datetime | None
    last_update: dt.datetime | None
    resources: int | None
    update_in_progress: bool

    def expired(self, now: dt.datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def as_json(self, now: dt.datetime) -> dict[str, Any]:
        return {
            "stack": self.name,
            "expiresAt": _iso(self.expires_at),
            "lastUpdate": _iso(self.last_update),
            "ageSinceLastUpdate": _age(self.last_update, now),
            "resources": self.resources,
            "expired": self.expired(now),
            "updating": self.update_in_progress,
        }


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def _age(moment: dt.datetime | None, now: dt.datetime) -> str | None:
    if moment is None:
        return None
    minutes = int((now - moment).total_seconds() // 60)
    return (
        f"{minutes // 1440}d{minutes % 1440 // 60}h"
        if minutes >= 1440
        else (f"{minutes // 60}h{minutes % 60}m")
    )


def _parse(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def ephemeral_stacks(root: Path, backend: Backend) -> list[EphemeralStack]:
    ws = workspace(root, backend)
    found = []
    for summary in ws.list_stacks():
        name = summary.name.rsplit("/", 1)[-1]  # org/project/stack on a cloud backend
        if not name.startswith(STACK_PREFIX):
            continue
        tags = ws.list_tags(summary.name)
        last = summary.last_update
        found.append(
            EphemeralStack(
                name=name,
                expires_at=_parse(tags.get(EXPIRES_TAG)),
                last_update=last.replace(tzinfo=dt.UTC) if last and not last.tzinfo else last,
                resources=summary.resource_count,
                update_in_progress=bool(summary.update_in_progress),
            )
        )
    return sorted(found, key=lambda s: s.name)


def table(stacks: list[EphemeralStack], now: dt.datetime) -> str:
    rows = [("STACK", "EXPIRES", "LAST UPDATE", "AGE", "RESOURCES", "STATE")]
    for s in stacks:
        state = "expired" if s.expired(now) else "no expiry" if s.expires_at is None else "live"
        rows.append(
            (
                s.name,
                _iso(s.expires_at) or "-",
                _iso(s.last_update) or "-",
                _age(s.last_update, now) or "-",
                "-" if s.resources is None else str(s.resources),
                state + (", updating" if s.update_in_progress else ""),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


def list_command(root: Path, backend: Backend, as_json: bool, out: Print, now: dt.datetime) -> int:
    stacks = ephemeral_stacks(root, backend)
    if as_json:
        out(json.dumps([s.as_json(now) for s in stacks], indent=2))
    else:
        out(table(stacks, now) if stacks else f"no ephemeral stacks on {backend.description}")
    return 0


def reap(
    root: Path,
    backend: Backend,
    act: bool,
    out: Print,
    now: dt.datetime,
    orphans: Callable[[dt.datetime, set[str], bool, Print], list[str]] | None = None,
) -> int:
    stacks = ephemeral_stacks(root, backend)
    expired = [s for s in stacks if s.expired(now)]
    failed: list[str] = []
    if not act:
        out("dry run (pass --yes to destroy):")
    for s in expired:
        if not act:
            out(f"  would destroy and remove {s.name} (expired {_iso(s.expires_at)})")
            continue
        outcome = destroy(root, s.name, backend, out)
        if outcome == "failed":
            failed.append(s.name)
        elif outcome == "locked":
            out(f"{s.name}: another reaper or an update holds its lock: left to it")
    if orphans is not None:
        failed += orphans(now, {s.name for s in stacks}, act, out)
    live = len(stacks) - len(expired)
    out(
        f"{len(expired)} expired, {live} not; {len(failed)} failed"
        + (f": {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


def docker_orphans(now: dt.datetime, known: set[str], act: bool, out: Print) -> list[str]:
    """Containers, volumes and networks on this Docker host of an expired ephemeral stack
    that the backend no longer has: found by the expiry label on the stack's networks, then
    everything carrying the stack's instance label."""
    import docker  # the Docker SDK: only a reaper of orphans needs it

    client = docker.from_env()
    stale: set[str] = set()
    for network in client.networks.list(filters={"label": EXPIRES_LABEL}):
        labels = network.attrs.get("Labels") or {}
        expires = _parse_label(labels.get(EXPIRES_LABEL, ""))
        stack = labels.get(INSTANCE, "")
        if stack.startswith(STACK_PREFIX) and expires and expires <= now and stack not in known:
            stale.add(stack)
    failed = []
    for stack in sorted(stale):
        label = {"label": f"{INSTANCE}={stack}"}
        found = [
            *(("container", c) for c in client.containers.list(all=True, filters=label)),
            *(("volume", v) for v in client.volumes.list(filters=label)),
            *(("network", n) for n in client.networks.list(filters=label)),
        ]
        out(
            f"orphans of {stack}: {len(found)} ("
            + ", ".join(f"{k} {o.name}" for k, o in found)
            + ")"
        )
        if not act:
            continue
        try:
            for kind, thing in found:  # containers first: volumes and networks are in use
                thing.remove(force=True) if kind == "container" else thing.remove()
        except docker.errors.APIError as error:
            out(f"{stack}: removing its orphans failed: {error}")
            failed.append(stack)
    return failed


def _parse_label(text: str) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return None
