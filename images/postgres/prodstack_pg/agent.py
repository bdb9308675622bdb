"""The backup agent: runs the backup schedules beside Postgres and serves their state, and
the restore drill's (a scheduled job of its own, prodstack_pg.drill, which records its
result on the backup it restored), as Prometheus metrics.

Schedules never overlap (one runs at a time). A cluster without a full backup gets one at
once, so a new stack is recoverable from its first minutes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import threading
import time
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cron_runner import Schedule

from prodstack_pg import drill
from prodstack_pg.environment import Paths, pgbackrest

RUNS_FILE = "backup-runs.json"
# The newest drill result seen in the repository: kept, since its backup expires in time.
DRILL_FILE = "restore-drill.json"


def log(**fields: Any) -> None:
    print(json.dumps({"ts": time.time(), "agent": "backup", **fields}), flush=True)


@dataclass
class Task:
    name: str  # full, diff
    schedule: Schedule


class Agent:
    def __init__(self, paths: Paths, tasks: list[Task]) -> None:
        self.paths = paths
        self.tasks = tasks
        self.lock = threading.Lock()
        self.runs = self._load_runs()

    # -- state ------------------------------------------------------------------------------

    def _load_runs(self) -> dict[str, dict[str, Any]]:
        try:
            return dict(json.loads((self.paths.state_dir / RUNS_FILE).read_text()))
        except (OSError, ValueError):
            return {}

    def _save_runs(self) -> None:
        self.paths.state_dir.mkdir(parents=True, exist_ok=True)
        target = self.paths.state_dir / RUNS_FILE
        temporary = target.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.runs))
        temporary.replace(target)

    # -- work -------------------------------------------------------------------------------

    def ensure_stanza(self) -> None:
        for command in ("stanza-create", "check"):
            result = pgbackrest(self.paths, command, timeout=600)
            log(event=command, ok=result.returncode == 0, output=result.stderr.strip()[-500:])

    def backup(self, kind: str) -> bool:
        started = time.time()
        result = pgbackrest(self.paths, f"--type={kind}", "backup")
        ok = result.returncode == 0
        self.runs[kind] = {
            "success": ok,
            "finished": time.time(),
            "duration_seconds": round(time.time() - started, 3),
        }
        self._save_runs()
        log(
            event="backup", type=kind, ok=ok, output=(result.stderr or result.stdout).strip()[-500:]
        )
        return ok

    def run_task(self, name: str) -> None:
        with self.lock:
            self.backup(name)

    def has_full_backup(self) -> bool:
        return any(b.get("type") == "full" for b in self.info().get("backup", []))

    def info(self) -> dict[str, Any]:
        result = pgbackrest(self.paths, "--output=json", "info", timeout=120)
        try:
            stanzas = json.loads(result.stdout)
        except ValueError:
            return {}
        return stanzas[0] if stanzas else {}

    def serve_schedules(self, stop: threading.Event) -> None:
        now = dt.datetime.now(dt.UTC)
        due = {t.name: t.schedule.next_after(now) for t in self.tasks}
        files = ServerFileWatch(self.paths)
        starts = ServerStartWatch(self.paths)
        while not stop.is_set():
            starts.checkpoint_if_restarted()
            files.reload_if_changed()
            self.keep_newest_drill()
            now = dt.datetime.now(dt.UTC)
            for task in self.tasks:
                if now >= due[task.name]:
                    self.run_task(task.name)
                    due[task.name] = task.schedule.next_after(dt.datetime.now(dt.UTC))
            stop.wait(20)

    # -- metrics ----------------------------------------------------------------------------

    def metrics(self) -> str:
        lines: list[str] = []

        def gauge(name: str, help_text: str, samples: list[tuple[str, float]]) -> None:
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} gauge")
            lines.extend(f"{name}{labels} {value}" for labels, value in samples)

        backups = self.info().get("backup", [])
        last: dict[str, dict[str, Any]] = {}
        for backup in backups:  # pgBackRest lists them oldest first
            last[backup["type"]] = backup
        gauge(
            "prodstack_backup_last_success_timestamp_seconds",
            "Stop time of the newest backup in the repository, by type.",
            [(f'{{type="{k}"}}', b["timestamp"]["stop"]) for k, b in sorted(last.items())],
        )
        gauge(
            "prodstack_backup_last_size_bytes",
            "Database size of the newest backup, by type.",
            [(f'{{type="{k}"}}', b["info"]["size"]) for k, b in sorted(last.items())],
        )
        gauge(
            "prodstack_backup_last_repository_size_bytes",
            "Compressed, encrypted size in the repository of the newest backup, by type.",
            [
                (f'{{type="{k}"}}', b["info"]["repository"]["delta"])
                for k, b in sorted(last.items())
            ],
        )
        gauge(
            "prodstack_backup_last_duration_seconds",
            "Duration of the newest backup, by type.",
            [
                (f'{{type="{k}"}}', b["timestamp"]["stop"] - b["timestamp"]["start"])
                for k, b in sorted(last.items())
            ],
        )
        gauge(
            "prodstack_backup_last_run_success",
            "1 when the agent's last run of a type succeeded.",
            [
                (f'{{type="{k}"}}', 1.0 if r["success"] else 0.0)
                for k, r in sorted(self.runs.items())
            ],
        )
        archiver = self._archiver()
        if archiver:
            gauge(
                "prodstack_wal_archive_last_success_timestamp_seconds",
                "When the last WAL segment was archived.",
                [("", archiver[0])],
            )
            gauge(
                "prodstack_wal_archive_failed_total_count",
                "WAL segments that failed to archive since statistics reset.",
                [("", archiver[1])],
            )
        result = self._drill_result(backups)
        if result:
            gauge(
                "prodstack_restore_drill_success",
                "1 when the last restore drill succeeded.",
                [("", 1.0 if result.success else 0.0)],
            )
            gauge(
                "prodstack_restore_drill_last_run_timestamp_seconds",
                "When the last drill ran.",
                [("", result.started)],
            )
            gauge(
                "prodstack_restore_drill_duration_seconds",
                "Duration of the last drill.",
                [("", result.duration_seconds)],
            )
        return "\n".join(lines) + "\n"

    def _archiver(self) -> tuple[float, float] | None:
        try:
            row = self.paths.psql(
                "SELECT coalesce(extract(epoch FROM last_archived_time), 0), failed_count "
                "FROM pg_stat_archiver"
            )
        except (RuntimeError, OSError):
            return None
        archived, failed = row.split("|")
        return float(archived), float(failed)

    def _drill_result(self, backups: list[dict[str, Any]]) -> drill.DrillResult | None:
        """The newest drill recorded on a backup in the repository, or the newest kept
        before (the backup it annotated may have expired). Reads only: serving metrics
        changes nothing."""
        found = [
            result
            for b in backups
            if (result := drill.DrillResult.from_annotations(b["label"], b.get("annotation", {})))
        ]
        kept = self._kept_drill()
        return max([*found, *([kept] if kept else [])], key=lambda r: r.started, default=None)

    def keep_newest_drill(self) -> None:
        """Keep the newest drill's result in the state directory, before the backup that
        carries it expires (the schedule loop calls it)."""
        newest = self._drill_result(self.info().get("backup", []))
        if newest is None or newest == self._kept_drill():
            return
        self.paths.state_dir.mkdir(parents=True, exist_ok=True)
        target = self.paths.state_dir / DRILL_FILE
        temporary = target.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(newest)))
        temporary.replace(target)

    def _kept_drill(self) -> drill.DrillResult | None:
        try:
            return drill.DrillResult(**json.loads((self.paths.state_dir / DRILL_FILE).read_text()))
        except (OSError, ValueError, TypeError):
            return None


def wait_for_server(paths: Paths, timeout_seconds: float = 600) -> None:
    """Sidecars start beside the server, not after it: wait until it answers."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        try:
            paths.psql("SELECT 1")
            return
        except (RuntimeError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(2)


def serve_metrics(agent: Agent, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] not in ("/metrics", "/health"):
                self.send_error(404)
                return
            body = (agent.metrics() if self.path.startswith("/metrics") else "ok\n").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class ServerStartWatch:
    """A checkpoint after each start of the server. Until its first checkpoint, a freshly
    started server forces no WAL segment switch at archive_timeout (seen on Postgres 15: WAL
    written for over a minute with archive_timeout=10s, none of it archived, until a
    CHECKPOINT; tests/components/postgres/test_postgres_live.py), so committed data would
    wait for checkpoint_timeout or a full segment before reaching the repository."""

    def __init__(self, paths: Paths) -> None:
        self.paths = paths
        self.seen = ""

    def checkpoint_if_restarted(self) -> bool:
        try:
            started = self.paths.psql("SELECT pg_postmaster_start_time()")
            if started == self.seen:
                return False
            self.paths.psql("CHECKPOINT")
        except (RuntimeError, OSError, subprocess.SubprocessError) as error:
            log(event="checkpoint-after-start", ok=False, detail=str(error))
            return False
        log(event="checkpoint-after-start", ok=True, started=started)
        self.seen = started
        return True


class ServerFileWatch:
    """Files the server reads that change in place (PRODSTACK_RELOAD_FILES, colon-separated:
    its certificate and key when cert-manager renews them, postgresql.conf and pg_hba.conf
    when a reloadable setting or a login changes): when one does, the server is told to
    reload, which applies them to new connections and drops none. They are read through the
    server (pg_read_file), as the server sees them: on Kubernetes each container has its own
    copy of a ConfigMap or Secret, which the kubelet updates at its own moment."""

    def __init__(self, paths: Paths) -> None:
        self.paths = paths
        self.files = [f for f in os.environ.get("PRODSTACK_RELOAD_FILES", "").split(":") if f]
        self.seen = ""

    def digest(self) -> str:
        if not self.files:
            return ""
        # md5 of each as the server reads it; no file is large, none leaves the server.
        sql = " || ".join(f"md5(pg_read_file({_literal(f)}))" for f in self.files)
        return self.paths.psql(f"SELECT {sql}")

    def reload_if_changed(self) -> bool:
        if not self.files:
            return False
        try:
            now = self.digest()
            if not self.seen or now == self.seen:
                self.seen = now
                return False
            self.paths.psql("SELECT pg_reload_conf()")
        except (RuntimeError, OSError, subprocess.SubprocessError) as error:
            log(event="reload", ok=False, detail=str(error))
            return False
        log(event="reload", ok=True)
        self.seen = now
        return True


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="prodstack-backup-agent", description=__doc__)
    parser.add_argument("--full", required=True, help="cron schedule of full backups")
    parser.add_argument("--diff", required=True, help="cron schedule of differential backups")
    parser.add_argument("--metrics-port", type=int, default=9854)
    parser.add_argument("--once", choices=["full", "diff"], help="run one backup and exit")
    args = parser.parse_args(argv)
    agent = Agent(
        Paths.from_env(),
        [
            Task("full", Schedule(args.full)),
            Task("diff", Schedule(args.diff)),
        ],
    )
    if args.once:
        agent.run_task(args.once)
        return
    serve_metrics(agent, args.metrics_port)
    wait_for_server(agent.paths)
    agent.ensure_stanza()
    if not agent.has_full_backup():
        agent.run_task("full")
    stop = threading.Event()
    agent.serve_schedules(stop)


if __name__ == "__main__":
    main()
