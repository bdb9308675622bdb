"""The dev stack on this host's Docker engine, as the end-to-end suite brings it up
(tests/e2e):
- time to all healthy, from an engine without the stack's images (every image built from
  Debian's packages, debootstrap included) with --cold, and from cached images;
- a point-in-time restore of pgbench scale 10 inside the containers (the runbook's steps, in
  the backup agent), from the restore's start until the restored server answers;
- from stopping the API to its alert reaching the paging receiver.

    python bench/stack_up.py [--cold] [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time

from infra.ops.debian_images import REPOSITORY, ROOTFS, build_all
from tests.e2e.procedures import (
    archive_current_wal,
    page_for_a_stopped_api,
    point_in_time_restore,
    psql,
)
from tests.e2e.stack import RunningStack, running_stack

OWN_REPOSITORIES = (REPOSITORY, "prodstack-api", "prodstack-postgres")


def remove_stack_images() -> None:
    listed = subprocess.run(
        ["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    doomed = [i for i in listed if i.startswith(OWN_REPOSITORIES) or i == ROOTFS]
    if doomed:
        subprocess.run(["docker", "image", "rm", "-f", *doomed], capture_output=True, check=True)
    subprocess.run(["docker", "builder", "prune", "-af"], capture_output=True, check=False)


def one_round(measure: bool = False) -> tuple[float, float, float]:
    """Seconds to build (or find) the images, to bring the stack up healthy, and in all.
    With `measure`, also times a restore and an alert on the running stack."""
    started = time.monotonic()
    build_all(log=lambda _: None)
    built = time.monotonic()
    with running_stack() as stack:
        healthy = stack.seconds_to_healthy
        if measure:
            restore(stack)
            alert(stack)
    return built - started, healthy, built - started + healthy


def restore(stack: RunningStack) -> None:
    pgbench = ["pgbench", "-h", "/var/run/postgresql", "-U", "postgres"]
    stack.exec("postgres", *pgbench, "-i", "-q", "-s", "10", "app")
    stack.exec("postgres-backup-agent", "pgbackrest", "--stanza=main", "backup", "--type=full")
    # pgBackRest picks a backup that stopped before the target, to the second.
    time.sleep(1.5)
    target = psql(stack, "SELECT now()")
    time.sleep(1)
    stack.exec("postgres", *pgbench, "-n", "-c", "2", "-t", "500", "app")  # after the target
    archive_current_wal(stack)
    size = psql(stack, "SELECT pg_size_pretty(pg_database_size('app'))")
    answer, seconds = point_in_time_restore(
        stack, target, "SELECT sum(abalance) FROM pgbench_accounts"
    )
    assert answer == "0", f"the restore is not at the target: sum(abalance) = {answer}"
    print(
        f"point-in-time restore, pgbench scale 10 ({size}), in the agent's container: {seconds:.1f} s"
    )


def alert(stack: RunningStack) -> None:
    _, seconds = page_for_a_stopped_api(stack)
    print(f"API stopped -> ApiDown at the paging receiver: {seconds:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cold", action="store_true", help="first remove the stack's images")
    parser.add_argument("--rounds", type=int, default=2, help="rounds from cached images")
    args = parser.parse_args()
    if args.cold:
        remove_stack_images()
        build, up, total = one_round()
        print(
            f"empty engine -> all healthy: {total:.1f} s "
            f"(Debian images {build:.1f} s, debootstrap included; the project's images and containers {up:.1f} s)"
        )
    ups = [one_round(measure=r == 0)[1] for r in range(args.rounds)]
    print(
        f"cached images -> all healthy: median {statistics.median(ups):.1f} s "
        f"(min {min(ups):.1f}, max {max(ups):.1f}, {len(ups)} rounds)"
    )


if __name__ == "__main__":
    main()
