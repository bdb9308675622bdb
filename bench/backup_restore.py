"""pgBackRest against `pg_dump | gzip -9` (what the seed plans do), same machine, same run.

A database of about 1 GB (pgbench scale 70) on Debian's Postgres with the configuration the
stack renders. Measured after the load has settled, alternating the methods over several
rounds, each from a quiet disk (checkpoint and sync first):
- full backup: `pgbackrest --type=full backup` against `pg_dump | gzip -9`;
- restore to a server that answers: pgBackRest restore of the backup's own snapshot
  (`--type=immediate`), start and recovery, against `gunzip | psql` into an empty server that
  is already running (its initdb and start are not counted). Neither server archives.


Goal (issue 3): the full backup no slower than the dump; the restore at least 2.5 times faster.
Prints the figures; asserts nothing. Scale with BENCH_SCALE (default 70).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.components.postgres.cluster import PG_BIN, Cluster, require_postgres, stack_files
from tests.live import as_user, owned_tempdir, server_root

SCALE = int(os.environ.get("BENCH_SCALE", "70"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def shell(cluster: Cluster, script: str) -> None:
    subprocess.run(
        as_user("postgres", ["bash", "-o", "pipefail", "-c", script]),
        env=cluster.env(),
        check=True,
        capture_output=True,
        text=True,
    )


def main() -> None:
    require_postgres()
    with server_root("postgres") as root:
        cluster = Cluster(root, stack_files())
        cluster.prepare()
        cluster.start()
        try:
            run(cluster)
        finally:
            cluster.stop()


def settle(cluster: Cluster) -> None:
    """Start every measurement from a quiet disk: no dirty pages left by the one before."""
    cluster.psql("CHECKPOINT")
    subprocess.run(["sync"], check=True)


def measure(cluster: Cluster, action: Callable[[], object]) -> float:
    settle(cluster)
    return timed(action)


def backup(cluster: Cluster) -> None:
    cluster.pgbackrest("--type=full", "backup")


def dump(cluster: Cluster, connect: str, target: Path) -> None:
    shell(cluster, f"{PG_BIN}/pg_dump {connect} app | gzip -9 > {target}")


def restore_with_pgbackrest(cluster: Cluster, target: Path) -> None:
    # The backup's own snapshot (as a dump is one): recovery stops once consistent, rather
    # than replaying everything archived since.
    cluster.restore(target, "--type=immediate", "--target-action=promote")
    port, socket_dir = cluster.throwaway(target)  # waits until recovery has ended
    cluster.psql(
        "SELECT count(*) FROM pgbench_branches", database="app", port=port, socket_dir=socket_dir
    )


def empty_server(cluster: Cluster, data: Path) -> tuple[int, Path]:
    """A new, running, empty server (not timed): where a dump is loaded. Like the restored
    one, it does not archive."""
    cluster.run(str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth-local=peer")
    return cluster.throwaway(data)


def restore_with_psql(cluster: Cluster, source: Path, port: int, socket_dir: Path) -> None:
    cluster.psql("CREATE DATABASE app", port=port, socket_dir=socket_dir)
    shell(
        cluster,
        f"gunzip -c {source} | {PG_BIN}/psql -X -q -v ON_ERROR_STOP=1 "
        f"-h {socket_dir} -p {port} -U postgres app",
    )
    cluster.psql(
        "SELECT count(*) FROM pgbench_branches", database="app", port=port, socket_dir=socket_dir
    )


def run(cluster: Cluster) -> None:
    connect = f"-h {cluster.socket} -p {cluster.port} -U postgres"
    print(f"pgbench -i -s {SCALE} ...", flush=True)
    shell(cluster, f"{PG_BIN}/pgbench -i -q -s {SCALE} {connect} app")
    # Steady state before measuring: hint bits set and the load's pages written.
    cluster.psql("VACUUM (FREEZE, ANALYZE)", database="app")
    mb = int(cluster.psql("SELECT pg_database_size('app')")) / 1e6
    cluster.pgbackrest("stanza-create")
    dump_file = cluster.root / "app.sql.gz"

    # Rounds alternate the methods, so neither always runs on a warmer cache.
    backups, dumps, restores, loads = [], [], [], []
    for _ in range(ROUNDS):
        backups.append(measure(cluster, partial(backup, cluster)))
        dumps.append(measure(cluster, partial(dump, cluster, connect, dump_file)))
    repository = cluster.info()["backup"][-1]["info"]["repository"]["delta"]
    for _ in range(ROUNDS):
        scratch = Path(tempfile.mkdtemp(prefix="b", dir=cluster.root))
        owned_tempdir(scratch, "postgres")
        restores.append(measure(cluster, partial(restore_with_pgbackrest, cluster, scratch / "r")))
        cluster.stop_throwaway(scratch / "r")
        port, socket_dir = empty_server(cluster, scratch / "e")
        loads.append(
            measure(cluster, partial(restore_with_psql, cluster, dump_file, port, socket_dir))
        )
        cluster.stop_throwaway(scratch / "e")
        shutil.rmtree(scratch, ignore_errors=True)

    backup_s, dump_s = statistics.median(backups), statistics.median(dumps)
    restore_s, load_s = statistics.median(restores), statistics.median(loads)
    print(
        f"database: {mb:.0f} MB (pgbench scale {SCALE}), {os.cpu_count()} cores, the stack's "
        f"rendered pgbackrest.conf; medians of {ROUNDS} rounds, each from a quiet disk"
    )
    print(
        f"  full backup   pgBackRest        {backup_s:6.1f} s  {mb / backup_s:6.1f} MB/s  "
        f"repository {repository / 1e6:.0f} MB (lz4, encrypted)   runs {_runs(backups)}"
    )
    print(
        f"                pg_dump | gzip -9 {dump_s:6.1f} s  {mb / dump_s:6.1f} MB/s  "
        f"dump {dump_file.stat().st_size / 1e6:.0f} MB   runs {_runs(dumps)}"
    )
    print(
        f"  restore       pgBackRest        {restore_s:6.1f} s  {mb / restore_s:6.1f} MB/s  "
        f"(restore, start, recovery, first query)   runs {_runs(restores)}"
    )
    print(
        f"                gunzip | psql     {load_s:6.1f} s  {mb / load_s:6.1f} MB/s  "
        f"(into a running empty server, first query)   runs {_runs(loads)}"
    )
    print(
        f"  ratios        backup: dump / pgBackRest = {dump_s / backup_s:.2f} (goal >= 1.0); "
        f"restore: psql / pgBackRest = {load_s / restore_s:.2f} (goal >= 2.5)"
    )


def _runs(values: list[float]) -> str:
    return ", ".join(f"{v:.1f}" for v in values)


if __name__ == "__main__":
    main()
