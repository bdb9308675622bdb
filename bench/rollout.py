"""Day-2 changes to the running dev stack on this host's Docker engine, under steady traffic
through the edge (infra/ops/traffic.py: 20 requests a second over four kept-alive
connections, reads and writes of notes and the frontend's files), applied as `pulumi up`
applies them (tests/e2e/plan.py). For each change, in one run on one stack:

- its time, from the start of the update to its end (the engine's plan done);
- the requests that failed (must be 0) and the reconnects (an idle kept-alive connection the
  server closed, retried as browsers do);
- p99 latency during the change, against the steady state before it in the same run;
- for the edge, the seconds until nginx reloaded the new configuration;
- for a Postgres setting a reload applies (the slow-query threshold), the same: in place;
- for a rollover of both app credentials (secrets.rollover), the seconds from the end of the
  update until the data stores' keepers revoked the old logins (the e2e stack retires a login
  after 10 s idle; the default is 60 s);
- for the changes that still replace a container on Docker (one with data or host ports,
  recreated under its fixed name), the failed requests and seconds without service.

The baseline is the same traffic on the same stack in the seconds before each change.

    python bench/rollout.py [--rounds N]
"""

from __future__ import annotations

import argparse
import time

from tests.e2e.releases import (
    ROLLOVER,
    SETTLE_SECONDS,
    edge_reloaded,
    retag,
    seconds_until_applied,
    seconds_until_revoked,
    update_under_traffic,
)
from tests.e2e.stack import running_stack


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    rounds = parser.parse_args().rounds
    with running_stack() as stack:
        print(f"stack healthy {stack.seconds_to_healthy:.1f} s after its first container")
        base = str(stack.outputs["apiImage"])
        releases = [retag(base, f"bench{n}") for n in range(rounds + 1)]
        stack.update({"api": {"image": releases[0], "env": {"RELEASE": "0"}}})
        for n in range(1, rounds + 1):
            release = {"api": {"image": releases[n], "env": {"RELEASE": str(n)}}}
            update_under_traffic(stack, f"API release {n}", release)
        rollback = {"api": {"image": releases[0], "env": {"RELEASE": "0"}}}
        update_under_traffic(stack, "API rollback", rollback)
        for n, rate in enumerate((150, 120), start=1):
            change = {"edge": {"rateLimits": {"api": {"rate": rate}}}}
            # The change itself starts SETTLE_SECONDS into the update's traffic.
            began = time.time() + SETTLE_SECONDS
            update_under_traffic(stack, f"edge change {n}", change)
            print(
                f"  nginx reloaded {edge_reloaded(stack, n) - began:.1f} s after the change began"
            )
        # A setting Postgres applies on a reload: its file changes in place, the backup
        # agent has it reload (prodstack_pg.agent, ServerFileWatch), nothing restarts.
        update_under_traffic(
            stack, "Postgres reloadable setting", {"postgres": {"slowQueryMs": 250}}
        )
        applied = seconds_until_applied(stack, "log_min_duration_statement", "250ms", limit=60)
        print(f"  applied by a reload {applied:.1f} s after the update ended")
        update_under_traffic(stack, "credential rollover", ROLLOVER)
        revoked = seconds_until_revoked(stack, limit=120)
        print(f"  old logins revoked {revoked:.1f} s after the update ended")
        # What still replaces a container on Docker (recreated under its fixed name: data,
        # or a host port), and what that costs under the same traffic.
        edge_image = retag(stack.container("edge").attrs["Config"]["Image"], "bench")
        redis_image = retag(stack.container("redis").attrs["Config"]["Image"], "bench")
        recreated = {
            "edge image (recreated: host ports)": {"edge": {"image": edge_image}},
            "Postgres start setting (recreated: data)": {"postgres": {"maxConnections": 150}},
            "Redis image (recreated: data)": {"redis": {"image": redis_image}},
        }
        for what, change in recreated.items():
            update_under_traffic(stack, what, change)


if __name__ == "__main__":
    main()
