"""The game day's drills: each breaks one thing on a running Docker stack on purpose, measures
what users and the on-call engineer would see against the stack's recovery targets
(`recovery.*`), and puts the thing back. Each is bounded in time, and names the runbook that
the on-call engineer follows for the real incident."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from components.alerts import TWO_SCRAPES
from components.api.alerts import alerts as api_alerts
from components.postgres.alerts import alerts as postgres_alerts
from components.redis.component import admin_cli
from infra.ops.gameday import by_hand
from infra.ops.gameday.live import POLL_SECONDS, DrillError, LiveStack
from infra.ops.gameday.load import NoteWrites
from infra.ops.gameday.report import DrillResult, Measure
from infra.ops.traffic import running
from infra.settings.model import StackSettings
from infra.settings.recovery import RecoverySettings

# Load before and after each fault, so that the measures see the steady state on both sides.
SETTLE_SECONDS = 3.0
# How long a partition lasts.
PARTITION_SECONDS = 10.0
# The write load's rate: enough to time a recovery to a tenth of a second, light enough for
# the smallest dev host.
WRITES_PER_SECOND = 20.0
# The command that restarts this host's Docker engine, for the engine-restart drill.
ENGINE_RESTART = "PRODSTACK_ENGINE_RESTART"
# How long the error-budget drill burns at most: the fast burn's 1 h window crosses 14.4
# times the budget within about a minute of total failure, then its `for` is 2 m.
BURN_BOUND = 480.0


@dataclass
class Context:
    stack: LiveStack
    targets: RecoverySettings
    say: Callable[[str], None]


@dataclass(frozen=True)
class Drill:
    name: str
    summary: str
    runbook: str  # under docs/runbooks/
    run: Callable[[Context, DrillResult], None]
    # The fault by hand, on a stack whose containers are named with this prefix (the
    # runbook gives these commands for the dev stack).
    by_hand: Callable[[str], list[str]]
    # Why it runs only when named, if it does: it takes many minutes (an alert's `for`), or
    # it disrupts more than the stack.
    opt_in: str = ""


def wait_for(check: Callable[[], bool], timeout: float) -> float | None:
    """Seconds until `check` holds, or None if it did not within `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():
            return time.monotonic() - started
        time.sleep(POLL_SECONDS)
    return None


# An alert's `for`, as the rules write it (components/alerts.py).
UNITS = {"s": 1, "m": 60, "h": 3600}


def waits_for(alert: str, settings: StackSettings) -> int:
    """Seconds an alert waits for its cause to last before it fires (its `for`, as the
    stack defines it), beyond which recovery.pageWithinSeconds applies; none for an outage
    alert, which pages within that target by design (two scrapes)."""
    drilled = (*api_alerts("api", settings.api.slo), *postgres_alerts("postgres"))
    for_ = next(a.for_ for a in drilled if a.name == alert)
    if for_ == TWO_SCRAPES:
        return 0
    return int(for_[:-1]) * UNITS[for_[-1]]


def page_measures(
    ctx: Context,
    alert: str,
    since: float,
    result: DrillResult,
    restore: Callable[[], None],
    resolve: bool = True,
) -> None:
    """Wait for `alert` to page, then `restore` the stack and (with `resolve`) wait for the
    alert to resolve: the page's time since `since` against recovery.pageWithinSeconds
    plus the alert's own `for`, and the resolution's time since the restore. An alert whose
    window outlasts the fault by many minutes resolves by itself later."""
    stack = ctx.stack
    extra = waits_for(alert, stack.settings)
    target = ctx.targets.page_within_seconds + extra
    bound = 3 * target + 60
    paged = None
    try:
        if wait_for(lambda: stack.active(alert, "paging"), bound) is not None:
            firing = time.monotonic() - since
            ctx.say(f"{alert} firing in Alertmanager after {firing:.1f} s")
            result.measures.append(
                Measure(f"{alert} firing in Alertmanager", round(firing, 1), "s")
            )
            sent = stack.notifications_sent("paging")
            if sent is None:
                ctx.say("the paging receiver is none: nothing is sent; timed to Alertmanager")
                paged = firing
            elif wait_for(lambda: (stack.notifications_sent("paging") or 0) > sent, 60) is not None:
                paged = time.monotonic() - since
                ctx.say(f"page sent to the paging receiver after {paged:.1f} s")
    finally:
        restore()
    source = "recovery.pageWithinSeconds" + (" + its `for`" if extra else "")
    result.measures.append(
        Measure(f"{alert} paged", None if paged is None else round(paged, 1), "s", target,
                source)
    )  # fmt: skip
    restored = time.monotonic()
    stack.wait_healthy(300)
    if not resolve:
        return
    resolved = wait_for(lambda: not stack.active(alert, "paging"), 3 * target + 60)
    seconds = None if resolved is None else round(time.monotonic() - restored, 1)
    ctx.say(f"{alert} resolved {seconds} s after the restore")
    # An alert that outlives its outage pages again at the repeat interval: a false page.
    result.measures.append(
        Measure(f"{alert} resolved after the restore", seconds, "s", target,
                "recovery.pageWithinSeconds")
    )  # fmt: skip


def api_down(ctx: Context, result: DrillResult) -> None:
    """f. Every API replica stopped: how long until the page, and until it resolves."""
    replicas = ctx.stack.replicas("api")
    stopped = time.monotonic()
    for replica in replicas:
        ctx.stack.stop(replica)

    def restore() -> None:
        for replica in replicas:
            ctx.stack.start(replica)

    page_measures(ctx, "ApiDown", stopped, result, restore)


def backup_agent_down(ctx: Context, result: DrillResult) -> None:
    """g. The backup agent stopped: its absence pages (PostgresBackupAgentDown, absent()),
    though every backup alert reads the metrics the agent itself serves."""
    agent = ctx.stack.container("postgres", "backup-agent")
    stopped = time.monotonic()
    ctx.stack.stop(agent)

    def restore() -> None:
        ctx.stack.start(agent)

    page_measures(ctx, "PostgresBackupAgentDown", stopped, result, restore)


# In the backup agent, as the repository's owner: the repository made unreadable, as a
# bucket whose policy changed or a mount gone read-only would, and made readable again.
REPOSITORY = "/var/lib/pgbackrest"
REPOSITORY_UNREACHABLE = f"chmod 000 {REPOSITORY}"
REPOSITORY_BACK = f"chmod 750 {REPOSITORY}"


def repository_unreachable(ctx: Context, result: DrillResult) -> None:
    """g. The backup repository unreachable under writes: WAL segments fail to archive, and
    PostgresWalArchivingFailing pages (its input, pg_stat_archiver's failures, is read from
    Postgres, not from the repository that is gone)."""
    stack = ctx.stack
    agent = stack.container("postgres", "backup-agent")
    mode = stack.exec(agent, "stat", "-c", "%a", REPOSITORY).strip()
    with running(NoteWrites(stack, WRITES_PER_SECOND / 4)):
        began = time.monotonic()
        stack.run_in(agent, REPOSITORY_UNREACHABLE)

        def restore() -> None:
            stack.run_in(agent, f"chmod {mode} {REPOSITORY}")

        page_measures(ctx, "PostgresWalArchivingFailing", began, result, restore, resolve=False)


def postgres_crash(ctx: Context, result: DrillResult) -> None:
    """a. Postgres killed with SIGKILL under writes: acknowledged writes lost (a commit is
    durable: 0), and how long until writes are accepted again."""
    stack = ctx.stack
    with running(NoteWrites(stack, WRITES_PER_SECOND)) as writes:
        time.sleep(SETTLE_SECONDS)
        crashed = stack.crash(stack.container("postgres"))
        bound = 3 * ctx.targets.restart_seconds + 30
        wait_for(lambda: writes.accepted_again(crashed) is not None, bound)
        time.sleep(SETTLE_SECONDS)
    accepted = rounded(writes.accepted_again(crashed))
    ctx.say(
        f"writes accepted again after {accepted} s" if accepted is not None else "no write since"
    )
    stack.wait_healthy(300)
    present = stored_keys(stack, writes.prefix)
    lost = [w.key for w in writes.acknowledged() if w.key not in present]
    failed = writes.refused()
    kept = [w.key for w in failed if w.key in present]
    ctx.say(f"{len(writes.acknowledged())} writes acknowledged, {len(lost)} of them lost; "
            f"{len(failed)} refused, {len(kept)} of those committed (a retry with its key "
            "finds the note)")  # fmt: skip
    result.measures += [
        Measure("acknowledged writes lost", len(lost), "writes", 0, "a commit is durable"),
        Measure("writes accepted again after the kill", accepted, "s",
                ctx.targets.restart_seconds, "recovery.restartSeconds"),
        Measure("writes refused meanwhile", len(failed), "writes"),
    ]  # fmt: skip


def redis_crash(ctx: Context, result: DrillResult) -> None:
    """c. Redis killed with SIGKILL under writes: acknowledged writes lost, against what
    `appendfsync everysec` promises (at most about a second of writes, and that only when
    the host itself fails: a process's writes are in the kernel before Redis replies)."""
    stack = ctx.stack
    keeper = stack.container("redis", "logins")
    key = f"gameday:{time.time_ns()}"
    cli = admin_cli()
    # Counts until the first failure, printing each acknowledged count, and stops there.
    script = (
        f"i=0; while [ $i -lt 1500 ]; do n=$({cli} INCR {key}) || exit 0; "
        'case "$n" in ""|*[!0-9]*) exit 0;; esac; echo "$n"; i=$((i+1)); sleep 0.01; done'
    )
    acknowledged: list[tuple[float, int]] = []

    def count() -> None:
        _, stream = keeper.exec_run(["sh", "-c", script], stream=True, stderr=False)
        for chunk in stream:
            for line in chunk.decode().split():
                acknowledged.append((time.monotonic(), int(line)))

    counter = threading.Thread(target=count, daemon=True)
    counter.start()
    time.sleep(SETTLE_SECONDS)
    redis = stack.container("redis")
    crashed = stack.crash(redis)
    counter.join(30)
    if not acknowledged:
        raise DrillError("no write to Redis was acknowledged before the kill")
    seconds = acknowledged[-1][0] - acknowledged[0][0]
    rate = (len(acknowledged) - 1) / seconds if seconds > 0 else 0.0

    def answers() -> bool:
        return bool(keeper.exec_run(["sh", "-c", f"{cli} PING"]).output.strip() == b"PONG")

    back = wait_for(answers, 3 * ctx.targets.restart_seconds + 30)
    back_after = None if back is None else round(time.monotonic() - crashed, 1)
    stack.wait_healthy(300)
    kept = int(stack.exec(keeper, "sh", "-c", f"{cli} GET {key}").strip() or 0)
    stack.exec(keeper, "sh", "-c", f"{cli} DEL {key} >/dev/null")
    lost = acknowledged[-1][1] - kept
    lost_seconds = round(lost / rate, 2) if rate else 0.0
    ctx.say(f"{acknowledged[-1][1]} writes acknowledged at {rate:.0f}/s, {kept} kept: {lost} lost")
    result.measures += [
        Measure("acknowledged writes lost", lost, "writes"),
        Measure("acknowledged writes lost, in seconds of writes", lost_seconds, "s", 1, "appendfsync everysec"),
        Measure("Redis answers again after the kill", back_after, "s",
                ctx.targets.restart_seconds, "recovery.restartSeconds"),
    ]  # fmt: skip


def partition(store: str) -> Callable[[Context, DrillResult], None]:
    """d. The API cut off from `store` by a network partition, under reads and writes:
    every reply within recovery.failFastSeconds, no note written twice by a retry with its
    key, the reads of notes written before served all along where the other store has
    them, and recovery once the partition heals."""

    def drill(ctx: Context, result: DrillResult) -> None:
        stack = ctx.stack
        seeded, ids = seeded_notes(stack)
        with running(NoteWrites(stack, WRITES_PER_SECOND / 2, reads=ids)) as load:
            time.sleep(SETTLE_SECONDS)
            with api_cut_off(stack, store):
                ctx.say(f"the API cut off from {store} for {PARTITION_SECONDS:g} s")
                cut = time.monotonic()
                time.sleep(PARTITION_SECONDS)
            healed = time.monotonic()
            ctx.say("partition healed")
            wait_for(lambda: load.accepted_again(healed) is not None, 60)
            time.sleep(SETTLE_SECONDS)
        during = load.report.between(cut, healed)
        slowest = max((o.seconds for o in during), default=0.0)
        writes_failed = sum(1 for o in during if o.kind == "write" and o.failed)
        reads_failed = sum(1 for o in during if o.kind == "read" and o.failed)
        recovered = rounded(load.accepted_again(healed))
        # Every refused write retried with its key, as a client would: one note per key.
        for write in load.refused():
            seeded.write(write.key)
        twice = duplicated_keys(stack, load.prefix)
        ctx.say(f"during: {len(during)} requests, {writes_failed} writes and {reads_failed} "
                f"reads failed, slowest {slowest:.1f} s; {len(twice)} notes written twice")  # fmt: skip
        result.measures += [
            Measure("slowest reply during the partition", round(slowest, 1), "s",
                    ctx.targets.fail_fast_seconds, "recovery.failFastSeconds"),
            Measure("writes failed during the partition", writes_failed, "writes",
                    0 if store == "redis" else None, "the cache is never needed"),
            Measure("reads failed during the partition", reads_failed, "requests", 0,
                    "the other store serves reads"),
            Measure("notes written twice by a retry with its key", len(twice), "notes", 0,
                    "a write is done once per request key"),
            Measure("writes accepted again after the partition healed", recovered, "s",
                    ctx.targets.restart_seconds, "recovery.restartSeconds"),
        ]  # fmt: skip

    drill.__doc__ = partition.__doc__
    return drill


@contextmanager
def api_cut_off(stack: LiveStack, store: str) -> Iterator[None]:
    """Every API replica partitioned from `store` for the duration of the block."""
    server = stack.container(store)
    with ExitStack() as partitioned:
        for replica in stack.replicas("api"):
            partitioned.enter_context(stack.cut_off(replica, server))
        yield


def seeded_notes(stack: LiveStack) -> tuple[NoteWrites, list[int]]:
    """Five notes written before the fault (in both stores), for the reads during it."""
    seeded = NoteWrites(stack)
    return seeded, [seeded.write(f"{seeded.prefix}seed-{n}") for n in range(5)]


def rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 1)


# In the backup agent, which has pgBackRest, the repository and the data volume: the loss of
# the data directory (kept aside, as evidence is), and docs/runbooks/disaster-recovery.md
# section 1: the newest backup and every archived WAL restored into a new one.
LOSE_DATA = 'mv "$PGDATA" "$PGDATA.lost-$(date +%Y%m%dT%H%M%S)"'
RESTORE_LATEST = 'mkdir -m 700 "$PGDATA" && pgbackrest --stanza=main --pg1-path="$PGDATA" restore'
FULL_BACKUP = "pgbackrest --stanza=main --type=full backup"


def volume_lost(ctx: Context, result: DrillResult) -> None:
    """b. Postgres's data lost under writes, then restored to the latest point from the
    repository as the disaster-recovery runbook does: the recovery time (from the loss to
    writes accepted again) against recovery.rtoSeconds, and the acknowledged writes lost,
    in rows and in seconds, against recovery.rpoSeconds."""
    stack = ctx.stack
    agent, postgres = stack.container("postgres", "backup-agent"), stack.container("postgres")
    api = stack.replicas("api")
    with running(NoteWrites(stack, WRITES_PER_SECOND)) as writes:
        time.sleep(SETTLE_SECONDS * 2)
        # Killed, not stopped: a clean stop would archive the last WAL first, which a lost
        # disk does not; and killed by Docker, so that it stays down.
        lost = time.monotonic()
        stack.kill(postgres)
        stack.run_in(agent, LOSE_DATA)
        ctx.say("the data directory is gone; restoring the latest point from the repository")
        for replica in api:
            stack.stop(replica)
        stack.run_in(agent, RESTORE_LATEST)
        stack.start(postgres)
        stack.wait_healthy(ctx.targets.rto_seconds, [postgres])
        for replica in api:
            stack.start(replica)
        wait_for(lambda: writes.accepted_again(lost) is not None, ctx.targets.rto_seconds)
        time.sleep(SETTLE_SECONDS)
    recovered = rounded(writes.accepted_again(lost))
    ctx.say(f"writes accepted again {recovered} s after the loss; a full backup for the new "
            "timeline")  # fmt: skip
    stack.run_in(agent, FULL_BACKUP)
    present = stored_keys(stack, writes.prefix)
    before = [w for w in writes.acknowledged() if w.answered <= lost]
    missing = [w for w in before if w.key not in present]
    kept = [w.answered for w in before if w.key in present]
    # The commits lost span from the newest write kept (or, with none kept, the first one
    # lost) to the last one acknowledged.
    span = 0.0
    if missing:
        since = max(kept, default=min(w.answered for w in missing))
        span = max(w.answered for w in missing) - since
    # The restore is proven: the drill's own evidence goes.
    stack.run_in(agent, 'rm -rf "$PGDATA".lost-*')
    ctx.say(f"{len(before)} writes acknowledged before the loss, {len(missing)} lost "
            f"({span:.1f} s of commits)")  # fmt: skip
    result.measures += [
        Measure("writes accepted again after the loss", recovered, "s",
                ctx.targets.rto_seconds, "recovery.rtoSeconds"),
        Measure("acknowledged writes lost", len(missing), "writes"),
        Measure("commits lost, in seconds", round(span, 1), "s",
                ctx.targets.rpo_seconds, "recovery.rpoSeconds"),
    ]  # fmt: skip


def engine_restart(ctx: Context, result: DrillResult) -> None:
    """e. The Docker engine restarted (by the command PRODSTACK_ENGINE_RESTART names): every
    container of the stack back and healthy with no manual step, sidecars, exporters and the
    backup agent included; the data written before still there; every scrape target up
    again; and no page left firing for it."""
    command = os.environ.get(ENGINE_RESTART, "")
    if not command:
        raise DrillError(
            f"{ENGINE_RESTART} must name the command that restarts this host's Docker engine "
            "(like `sudo systemctl restart docker`, or scripts/restart-docker-engine)"
        )
    stack = ctx.stack
    before = {c.name for c in stack.everything() if c.status == "running"}
    mark = f"gameday-{time.time_ns()}"
    stack.psql(
        "CREATE TABLE IF NOT EXISTS gameday_marks (mark text PRIMARY KEY); "
        f"INSERT INTO gameday_marks VALUES ('{mark}')"
    )
    keeper, cli = stack.container("redis", "logins"), admin_cli()
    stack.exec(keeper, "sh", "-c", f"{cli} SET {mark} kept >/dev/null")
    ctx.say(f"$ {command}")
    restarted = time.monotonic()
    done = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=180)
    if done.returncode != 0:
        raise DrillError(f"{command} failed: {(done.stderr or done.stdout).strip()[-500:]}")
    stack.wait_healthy(300)
    healthy = round(time.monotonic() - restarted, 1)
    ctx.say(f"every container running and healthy {healthy} s after the restart began")
    after = {c.name for c in stack.everything() if c.status == "running"}
    missing = sorted(before - after)
    up = wait_for(lambda: not stack.targets_down(), 120)
    scraped = None if up is None else round(time.monotonic() - restarted, 1)
    down = stack.targets_down()
    ctx.say(f"every scrape target up {scraped} s after the restart began" if not down
            else f"scrape targets still down: {', '.join(down)}")  # fmt: skip
    # Two evaluations after the targets are back: whatever still pages is a false page.
    time.sleep(2 * stack.settings.monitoring.scrape_interval_seconds)
    paging = [name for name in stack.firing("paging") if name != "Watchdog"]
    kept = stack.psql(f"SELECT count(*) FROM gameday_marks WHERE mark = '{mark}'") == "1"
    cached = stack.exec(keeper, "sh", "-c", f"{cli} GET {mark}").strip() == "kept"
    stack.psql(f"DELETE FROM gameday_marks WHERE mark = '{mark}'")
    stack.exec(keeper, "sh", "-c", f"{cli} DEL {mark} >/dev/null")
    ctx.say(f"missing: {missing or 'none'}; paging: {paging or 'nothing'}; "
            f"Postgres kept its row: {kept}; Redis kept its key: {cached}")  # fmt: skip
    result.measures += [
        Measure("every container healthy after the restart began", healthy, "s",
                ctx.targets.restart_seconds * 2, "twice recovery.restartSeconds"),
        Measure("containers not running again", len(missing), "containers", 0,
                "no manual step"),
        Measure("every scrape target up after the restart began", scraped, "s",
                ctx.targets.page_within_seconds, "recovery.pageWithinSeconds"),
        Measure("alerts paging after recovery", len(paging), "alerts", 0, "no false page"),
        Measure("writes lost (a row, a key)", (not kept) + (not cached), "writes", 0,
                "data survives a restart"),
    ]  # fmt: skip


def error_budget_burn(ctx: Context, result: DrillResult) -> None:
    """The API failing writes (cut off from Postgres, so they answer 503) while reads still
    succeed, until the fast-burn alert on its error budget (api.slo) pages; then healed. The
    alert resolves by itself once its short window (5 m) no longer burns."""
    stack = ctx.stack
    _, ids = seeded_notes(stack)
    with running(NoteWrites(stack, WRITES_PER_SECOND / 2, reads=ids)) as load:
        time.sleep(SETTLE_SECONDS)
        with api_cut_off(stack, "postgres"):
            began = time.monotonic()
            ctx.say("writes fail (503) while the API is cut off from Postgres")
            paged = wait_for(lambda: stack.active("ApiErrorBudgetBurn", "paging"), BURN_BOUND)
        time.sleep(SETTLE_SECONDS)
    failed = sum(1 for o in load.report.outcomes if o.failed)
    ctx.say(f"{failed} of {len(load.report.outcomes)} requests failed meanwhile")
    if paged is None:
        raise DrillError(f"ApiErrorBudgetBurn did not fire within {BURN_BOUND:.0f} s")
    seconds = round(time.monotonic() - began, 1)
    ctx.say(f"ApiErrorBudgetBurn firing in Alertmanager after {seconds} s")
    result.measures += [
        Measure("ApiErrorBudgetBurn firing in Alertmanager", seconds, "s"),
        Measure("requests failed while it burned", failed, "requests"),
    ]


def stored_keys(stack: LiveStack, prefix: str) -> set[str]:
    rows = stack.psql(f"SELECT request_key FROM notes WHERE request_key LIKE '{prefix}%'")
    return set(rows.split())


def duplicated_keys(stack: LiveStack, prefix: str) -> list[str]:
    rows = stack.psql(
        f"SELECT request_key FROM notes WHERE request_key LIKE '{prefix}%' "
        "GROUP BY request_key HAVING count(*) > 1"
    )
    return rows.split()


def _stopped(container: str) -> Callable[[str], list[str]]:
    return lambda prefix: [
        by_hand.stop(f"{prefix}-{container}"),
        by_hand.start(f"{prefix}-{container}"),
    ]


def _crashed(container: str) -> Callable[[str], list[str]]:
    return lambda prefix: [by_hand.crash(f"{prefix}-{container}")]


def _volume_lost(prefix: str) -> list[str]:
    agent = f"{prefix}-postgres-backup-agent-0"
    return [
        by_hand.kill(f"{prefix}-postgres-0"),
        by_hand.in_container(agent, LOSE_DATA),
        by_hand.stop(f"{prefix}-api-0"),
        by_hand.in_container(agent, RESTORE_LATEST),
        by_hand.start(f"{prefix}-postgres-0"),
        by_hand.start(f"{prefix}-api-0"),
        by_hand.in_container(agent, FULL_BACKUP),
    ]


def _partitioned(store: str) -> Callable[[str], list[str]]:
    def commands(prefix: str) -> list[str]:
        network, api = f"{prefix}-{store}", f"{prefix}-api-0"
        return [by_hand.disconnect(network, api), by_hand.connect(network, api)]

    return commands


DRILLS: tuple[Drill, ...] = (
    Drill("postgres-crash", "Postgres killed under writes", "postgres.md", postgres_crash,
          _crashed("postgres-0")),
    Drill("volume-lost", "Postgres's data lost, restored from the repository",
          "disaster-recovery.md", volume_lost, _volume_lost),
    Drill("redis-crash", "Redis killed under writes", "redis.md", redis_crash,
          _crashed("redis-0")),
    Drill("redis-partition", "the API cut off from Redis", "api.md", partition("redis"),
          _partitioned("redis")),
    Drill("postgres-partition", "the API cut off from Postgres", "api.md",
          partition("postgres"), _partitioned("postgres")),
    Drill("api-down", "the API down until it pages", "api.md", api_down, _stopped("api-0")),
    Drill("engine-restart", "the Docker engine restarted", "docker-host.md", engine_restart,
          lambda _: ["scripts/restart-docker-engine"],
          opt_in="it stops every container on the host, not only the stack's"),
    Drill("error-budget-burn", "the API failing writes until its error budget pages", "api.md",
          error_budget_burn, _partitioned("postgres"),
          opt_in="minutes: the fast burn's 1 h window, then its 2 m `for`"),
    Drill("repository-unreachable", "the backup repository unreachable until it pages",
          "postgres-backups.md", repository_unreachable,
          lambda prefix: [by_hand.in_container(f"{prefix}-postgres-backup-agent-0", command)
                          for command in (REPOSITORY_UNREACHABLE, REPOSITORY_BACK)],
          opt_in="over 5 minutes: the alert's `for`"),
    Drill("backup-agent-down", "the backup agent gone until it pages", "postgres-backups.md",
          backup_agent_down, _stopped("postgres-backup-agent-0"),
          opt_in="over 15 minutes: the alert's `for`"),
)  # fmt: skip
BY_NAME = {drill.name: drill for drill in DRILLS}
