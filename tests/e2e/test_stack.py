"""The dev stack (as an ephemeral stack), brought up for real on the Docker engine: every
container built from what the program renders, then its wiring, data and faults shown on
the running containers."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import time
from collections import Counter
from pathlib import Path

import docker

from components.platform.labels import ROLE_LABEL
from components.redis.component import admin_password_env, admin_redis_cli
from infra.ops.smoke import Target, run
from tests.e2e.procedures import (
    CONNECT_SCRIPT,
    address_of,
    archive_current_wal,
    connections_from,
    exporter_metrics,
    https,
    point_in_time_restore,
    psql,
    wait_for_metric,
    wait_for_notification,
)
from tests.e2e.stack import RunningStack, leftovers

SCRAPED_JOBS = {
    "alertmanager", "api", "blackbox", "edge", "frontend", "postgres", "prometheus", "redis",
}  # fmt: skip
RECOVERY_SECONDS = 120


def wait_healthy_again(stack: RunningStack, workload: str, restarts_before: int) -> None:
    container = stack.container(workload)
    deadline = time.monotonic() + RECOVERY_SECONDS
    while time.monotonic() < deadline:
        container.reload()
        state = container.attrs["State"]
        if (
            container.attrs["RestartCount"] > restarts_before
            and state.get("Health", {}).get("Status") == "healthy"
        ):
            return
        time.sleep(1)
    raise AssertionError(
        f"{workload} not restarted and healthy within {RECOVERY_SECONDS} s:\n"
        + container.logs(tail=40).decode(errors="replace")
    )


def kill_main_process(stack: RunningStack, workload: str) -> int:
    """SIGKILL from the host, as a crash would: `docker kill` counts as a manual stop, which
    `unless-stopped` does not restart. Returns the restart count before."""
    container = stack.container(workload)
    container.reload()
    before = int(container.attrs["RestartCount"])
    os.kill(int(container.attrs["State"]["Pid"]), 9)
    return before


def redis_cli(stack: RunningStack, *command: str) -> str:
    """As the application user, whose password is in the stack's secret redisUrl output."""
    password = str(stack.outputs["redisUrl"]).split(":")[2].split("@")[0]
    # Over TLS (redis.tls), verifying the server as the API does.
    tls = ("--tls", "--cacert", "/run/prodstack/config/internal-ca.crt", "-h", "localhost")
    return stack.exec(
        "redis", "redis-cli", *tls, "--no-auth-warning", "--user", "app", "--pass", password,
        *command,
    ).strip()  # fmt: skip


def labels_of(container: docker.models.containers.Container) -> dict[str, str]:
    return dict(container.attrs["Config"]["Labels"] or {})


def test_every_container_is_healthy_and_hardened(stack: RunningStack) -> None:
    serving = [c for c in stack.engine.running() if labels_of(c).get(ROLE_LABEL) != "files"]
    # dev (the frontend on) without Grafana, which has no Debian build; the restore drill's
    # scheduler among them
    assert len(serving) == 16
    for container in serving:
        state = container.attrs["State"]
        assert state["Health"]["Status"] == "healthy", container.name
        host = container.attrs["HostConfig"]
        assert host["ReadonlyRootfs"] is True and host["CapDrop"] == ["ALL"], container.name
        assert container.attrs["Config"]["User"].split(":")[0] not in ("", "0", "root")
    carriers = [c for c in stack.engine.running() if c not in serving]
    assert carriers and all(c.status == "created" for c in carriers)


def test_files_are_root_owned_and_read_only_inside_the_containers(stack: RunningStack) -> None:
    listing = stack.exec("api", "ls", "-ln", "/run/prodstack/secrets/", "/run/prodstack/config/")
    assert "-r--r----- 1 0 10001" in listing  # a secret: root's, readable by the group only
    assert "-r--r--r-- 1 0 10001" in listing and "api.json" in listing
    denied = stack.container("api").exec_run(["sh", "-c", "echo x > /run/prodstack/config/x"])
    assert denied.exit_code != 0  # the files volume is mounted read-only


def test_smoke_test_passes_against_the_published_edge(stack: RunningStack, tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text(stack.ca_pem)
    report: list[str] = []
    target = Target(url=stack.url, ca_file=ca, http_url=f"http://localhost:{stack.http_port}")
    assert run(target, out=report.append) == 0, report


def test_the_api_metrics_are_not_public(stack: RunningStack) -> None:
    reply = https(stack, "/metrics")
    assert reply.status == 404
    assert "Strict-Transport-Security" in reply.headers
    # Prometheus still scrapes them inside the stack (next test).


def test_prometheus_scrapes_every_target(stack: RunningStack) -> None:
    deadline = time.monotonic() + 90
    while True:
        raw = stack.exec("prometheus", "wget", "-qO-", "http://127.0.0.1:9090/api/v1/targets")
        targets = json.loads(raw)["data"]["activeTargets"]
        down = [(t["scrapeUrl"], t["lastError"]) for t in targets if t["health"] != "up"]
        jobs = {t["labels"]["job"] for t in targets}
        if (not down and jobs == SCRAPED_JOBS) or time.monotonic() > deadline:
            break
        time.sleep(3)
    assert jobs == SCRAPED_JOBS
    assert down == []


def test_the_redis_exporter_has_every_permission_it_uses(stack: RunningStack) -> None:
    assert "redis_up 1" in exporter_metrics(stack, "redis-exporter:9121")
    logs = (
        stack.container("redis").logs().decode()
        + stack.engine.created[f"{stack.prefix}-redis-exporter-0"].logs().decode()
    )
    assert "NOPERM" not in logs and "NOAUTH" not in logs


def test_nginx_runs_one_worker_per_cpu_of_its_limit(stack: RunningStack) -> None:
    """`worker_processes auto` would count the host's CPUs, not the container's limit."""
    for workload in ("edge", "frontend"):
        container = stack.container(workload)
        cpus = container.attrs["HostConfig"]["NanoCpus"] / 1e9
        workers = stack.exec(
            workload,
            "sh",
            "-c",
            "cat /proc/[0-9]*/cmdline | tr '\\000' '\\n' | grep -c '^nginx: worker process'",
        )
        assert int(workers) == max(1, math.ceil(cpus)), (workload, cpus, workers)


def test_readiness_checks_do_not_fill_the_database_log(stack: RunningStack) -> None:
    container = stack.container("postgres")
    assert "pg_hba.conf rejects" not in container.logs().decode()
    # Since the server last started (the game day crashes it on purpose, and a crash ends
    # its sessions with FATAL lines of their own): the API waits for Postgres by asking it
    # (refapi/readiness.py), and so do the sidecars; asked in the instant the server
    # starts, Postgres refuses each with "starting up", and says so once or twice.
    container.reload()
    started = dt.datetime.strptime(
        container.attrs["State"]["StartedAt"][:19], "%Y-%m-%dT%H:%M:%S"
    ).replace(tzinfo=dt.UTC)
    logs = container.logs(since=started).decode()
    fatal = [line for line in logs.splitlines() if "FATAL" in line]
    assert all("the database system is starting up" in line for line in fatal), fatal
    by_client = Counter(re.findall(r"\] (\S+@\S+) FATAL", "\n".join(fatal)))
    assert all(count <= 2 for count in by_client.values()), fatal


def test_the_backup_agent_backs_up_and_the_drill_restores_into_its_own_volume(
    stack: RunningStack,
) -> None:
    stack.exec("postgres-backup-agent", "pgbackrest", "--stanza=main", "backup", "--type=full")
    info = json.loads(
        stack.exec("postgres-backup-agent", "pgbackrest", "--stanza=main", "info", "--output=json")
    )
    assert any(b["type"] == "full" for b in info[0]["backup"])
    # The drill is a job of its own (its scheduler container here), restoring into a volume
    # that only it mounts: never the database's data volume, nor its container's layer.
    drill = stack.container("postgres-drill-cron")
    drill.reload()
    mounts = {m["Destination"]: m.get("Name") for m in drill.attrs["Mounts"]}
    own = mounts["/var/lib/postgresql/scratch"]
    assert own == f"{stack.prefix}-postgres-drill-0", mounts
    assert "/var/lib/postgresql/data" not in mounts
    server = stack.container("postgres")
    server.reload()
    assert own not in {m.get("Name") for m in server.attrs["Mounts"]}
    output = stack.exec("postgres-drill-cron", "python3", "-m", "prodstack_pg.drill")
    result = json.loads(output.strip().splitlines()[-1])
    assert result["success"] and result["recorded"], result
    # The agent, in its own container, finds the result on the backup in the repository.
    metrics = stack.exec("postgres-backup-agent", "wget", "-qO-", "http://127.0.0.1:9854/metrics")
    assert re.search(r"^prodstack_restore_drill_success 1(\.0)?$", metrics, re.MULTILINE), metrics


def test_a_note_written_through_the_edge_lands_in_postgres_and_redis(stack: RunningStack) -> None:
    text = f"written through the edge at {time.time()}"
    reply = https(stack, "/api/notes", "POST", {"text": text})
    assert reply.status == 201, reply.body
    created = reply.json()
    reply = https(stack, f"/api/notes/{created['id']}")
    assert reply.status == 200, reply.body
    read = reply.json()
    # Read from the cache, which the write filled (images/api/refapi/notes.py).
    assert (read["text"], read["cached"]) == (text, True)
    # And in the stores themselves, not only as the API reports it:
    assert psql(stack, f"SELECT text FROM notes WHERE id = {int(created['id'])}") == text
    cached = json.loads(redis_cli(stack, "GET", f"note:{int(created['id'])}"))
    assert (cached["id"], cached["text"]) == (created["id"], text)


def test_point_in_time_restore_in_the_containers_gives_exactly_the_first_batch(
    stack: RunningStack,
) -> None:
    psql(
        stack,
        "CREATE TABLE pitr (batch text); INSERT INTO pitr SELECT 'A' FROM generate_series(1, 100)",
    )
    target = psql(stack, "SELECT now()")
    time.sleep(1.5)
    psql(stack, "INSERT INTO pitr SELECT 'B' FROM generate_series(1, 100)")
    archive_current_wal(stack)
    query = "SELECT batch || ':' || count(*) FROM pitr GROUP BY batch ORDER BY batch"
    answer, seconds = point_in_time_restore(stack, target, query)
    print(f"\npoint-in-time restore in the drill's container: {seconds:.1f} s")
    assert answer.split() == ["A:100"]
    # The running server still has both batches: the restore went to scratch space.
    assert psql(stack, query).split() == ["A:100", "B:100"]


def test_the_watchdog_reaches_the_heartbeat_receiver(stack: RunningStack) -> None:
    note = wait_for_notification(stack, "heartbeat", "Watchdog", timeout=120)
    assert note.alerts == ["Watchdog"]


def test_only_the_edge_publishes_and_only_on_loopback(stack: RunningStack) -> None:
    published = {
        c.name: c.attrs["HostConfig"]["PortBindings"]
        for c in stack.engine.running()
        if c.attrs["HostConfig"].get("PortBindings")
    }
    assert list(published) == [f"{stack.prefix}-edge-0"]
    for bindings in published.values():
        assert {b["HostIp"] for binding in bindings.values() for b in binding} == {"127.0.0.1"}


def test_each_server_is_reachable_only_from_its_declared_clients(stack: RunningStack) -> None:
    """One network per server (components/platform/docker/network.py): the declared client
    connects; every other container's attempt fails, by name and by address."""
    postgres, redis = address_of(stack, "postgres"), address_of(stack, "redis")
    api, alertmanager = address_of(stack, "api"), address_of(stack, "alertmanager")
    # The API: its two stores, and nothing of monitoring nor the frontend.
    frontend = address_of(stack, "frontend")
    assert connections_from(
        stack,
        "api",
        "postgres:5432",
        "redis:6379",
        f"{alertmanager}:9093",
        "prometheus:9090",
        f"{frontend}:8080",
    ) == {
        "postgres:5432": "open",
        "redis:6379": "open",
        f"{alertmanager}:9093": "closed",
        "prometheus:9090": "closed",
        f"{frontend}:8080": "closed",
    }
    # The edge: the API and the frontend, and neither store.
    assert connections_from(
        stack,
        "edge",
        "api:8080",
        "frontend:8080",
        f"{postgres}:5432",
        f"{redis}:6379",
        "postgres:5432",
    ) == {
        "api:8080": "open",
        "frontend:8080": "open",
        f"{postgres}:5432": "closed",
        f"{redis}:6379": "closed",
        "postgres:5432": "closed",
    }
    # Alertmanager leaves the stack to notify; it reaches no server of it.
    assert set(
        connections_from(
            stack, "alertmanager", f"{postgres}:5432", f"{redis}:6379", f"{api}:8080"
        ).values()
    ) == {"closed"}


def test_prometheus_reaches_the_exporters_and_never_a_data_store_port(
    stack: RunningStack,
) -> None:
    """Each exporter is a container of its own, on a network that only Prometheus joins,
    reading its server through a socket: Prometheus shares no network with Postgres or
    Redis, so their ports are closed to it, by name and by address."""
    exporters = {
        "postgres-exporter:9187": "open",
        "postgres-backup-agent:9854": "open",
        "redis-exporter:9121": "open",
    }
    stores = [
        "postgres:5432",
        "redis:6379",
        f"{address_of(stack, 'postgres')}:5432",
        f"{address_of(stack, 'redis')}:6379",
        # The exporters' own addresses: the data stores' ports are not in their namespaces.
        f"{address_of(stack, 'postgres-exporter')}:5432",
        f"{address_of(stack, 'redis-exporter')}:6379",
    ]
    assert connections_from(stack, "prometheus", *exporters, *stores) == {
        **exporters,
        **dict.fromkeys(stores, "closed"),
    }
    # And the data stores' clients do not reach the exporters.
    assert set(connections_from(stack, "api", *exporters).values()) == {"closed"}


def test_the_edge_metrics_answer_prometheus_alone(stack: RunningStack) -> None:
    """nginx's status server listens on loopback (health checks) and on a socket that the
    exporter beside it reads; the exporter serves its metrics on a network only Prometheus
    joins. No other container reaches the status port or the metrics port, not even one
    sharing a network with the edge."""
    edges = stack.container("edge").attrs["NetworkSettings"]["Networks"]
    on_api_network = edges[f"{stack.prefix}-api"]["IPAddress"]
    exporter = f"{address_of(stack, 'edge-exporter')}:9113"
    assert connections_from(stack, "prometheus", "edge-exporter:9113", "edge:8081") == {
        "edge-exporter:9113": "open",
        "edge:8081": "closed",
    }
    edge_ports = [f"{on_api_network}:{port}" for port in (8081, 9113, 8443)]
    assert connections_from(stack, "api", *edge_ports, exporter) == {
        f"{on_api_network}:8081": "closed",
        f"{on_api_network}:9113": "closed",
        f"{on_api_network}:8443": "open",  # the edge is a client of the API: they share one
        exporter: "closed",
    }
    # The blackbox exporter probes the edge's HTTPS port, and nothing else of it.
    assert connections_from(stack, "blackbox", "edge:8443", "edge:9113", exporter) == {
        "edge:8443": "open",
        "edge:9113": "closed",
        exporter: "closed",
    }


def test_the_public_network_reaches_the_edge_alone(stack: RunningStack) -> None:
    """A container on the public network, as a client on the host's side would be."""
    targets = [
        "edge:8443",
        "api:8080",
        "postgres:5432",
        "redis:6379",
        *(f"{address_of(stack, w)}:{p}" for w, p in (("api", 8080), ("postgres", 5432))),
    ]
    api_image = stack.container("api").attrs["Config"]["Image"]
    output = (
        docker.from_env()
        .containers.run(
            api_image,
            ["bash", "-c", CONNECT_SCRIPT, "connect", *targets],
            entrypoint=[],
            network=f"{stack.prefix}-public",
            remove=True,
            user="10001",
        )
        .decode()
    )
    lines = dict(line.split() for line in output.splitlines())
    assert lines.pop("edge:8443") == "open"  # the probe itself can connect on that network
    assert set(lines.values()) == {"closed"}, output


# A Postgres startup message, and a Redis PING in plaintext after logging in as the health
# user (who may PING with any password): a Redis that took plaintext would answer PONG, not
# NOAUTH.
PLAINTEXT_PROBE = r"""
import socket, struct
body = struct.pack("!I", 196608) + b"user\0app\0database\0app\0\0"
s = socket.create_connection(("postgres", 5432), 3)
s.sendall(struct.pack("!I", len(body) + 4) + body)
print(s.recv(512)[:1].decode(), end=" ")
r = socket.create_connection(("redis", 6379), 3)
r.settimeout(3)
r.sendall(b"AUTH healthcheck none\r\nPING\r\n")
reply = b""
try:
    while b"PONG" not in reply:
        chunk = r.recv(64)
        if not chunk:
            break
        reply += chunk
    print(reply or b"closed")
except OSError as error:
    print(reply, type(error).__name__)
"""


def test_the_api_reaches_postgres_and_redis_over_verified_tls_only(stack: RunningStack) -> None:
    """postgres.tls and redis.tls on: the API's connections are encrypted, plaintext is not
    admitted, and Prometheus's exporters still read both stores."""
    assert https(stack, "/api/notes", "POST", {"text": "over tls"}).status == 201
    log = stack.container("postgres").logs().decode(errors="replace")
    authorized = [line for line in log.splitlines() if "connection authorized: user=app" in line]
    assert authorized and all("SSL enabled" in line for line in authorized), authorized[-3:]
    # Plaintext from the API's container: refused by pg_hba.conf, unanswered by Redis.
    out = stack.exec("api", "python3", "-c", PLAINTEXT_PROBE).split(" ", 1)
    assert out[0] == "E", out  # an ErrorResponse: no pg_hba.conf entry without encryption
    assert "PONG" not in out[1], out
    assert "no encryption" in stack.container("postgres").logs().decode(errors="replace")
    # The exporters read both stores (every target up: test_prometheus_scrapes_every_target).


def test_postgres_keeps_committed_rows_through_a_crash(stack: RunningStack) -> None:
    psql(stack, "CREATE TABLE IF NOT EXISTS crash_test (n int); TRUNCATE crash_test;")
    psql(stack, "INSERT INTO crash_test SELECT generate_series(1, 500);")
    before = kill_main_process(stack, "postgres")
    wait_healthy_again(stack, "postgres", before)
    assert psql(stack, "SELECT count(*) FROM crash_test") == "500"


# As the admin over the server's socket, in Redis's container: what the logins keeper and
# the certificate reload do (components/redis/component.py, tls_reload).
REDIS_AUTH = f"export {admin_password_env()}; "
REDIS_ADMIN = admin_redis_cli()


def redis_admin(stack: RunningStack, script: str) -> str:
    """`script` in Redis's container, ADMIN standing for redis-cli as the admin."""
    command = REDIS_AUTH + script.replace("ADMIN", REDIS_ADMIN)
    return stack.exec("redis", "sh", "-c", command).strip()


def persistence(stack: RunningStack) -> dict[str, str]:
    info = redis_admin(stack, "ADMIN INFO persistence").replace("\r", "")
    return dict(line.split(":", 1) for line in info.splitlines() if ":" in line)


def test_redis_saves_under_its_memory_limit(stack: RunningStack) -> None:
    """A save forks Redis, and the child's copy-on-write pages count against the same
    container limit: maxmemory at half the limit (redis.maxmemoryPercent) leaves room for
    it. Filled to ~70% of maxmemory and written to during the rewrite and the snapshot,
    Redis completes both and the container is neither killed nor restarted."""
    container = stack.container("redis")
    container.reload()
    restarts = int(container.attrs["RestartCount"])
    limit = int(container.attrs["HostConfig"]["Memory"])
    maxmemory = int(redis_admin(stack, "ADMIN CONFIG GET maxmemory | tail -1"))
    assert maxmemory == limit // 2, (maxmemory, limit)
    values = maxmemory * 7 // 10 // 2**20  # values of 1 MiB
    redis_admin(
        stack,
        f"head -c 1048576 /dev/zero | tr '\\0' x > /tmp/mib; for i in $(seq 1 {values}); do "
        "ADMIN -x SET fill:$i < /tmp/mib > /dev/null; done; rm /tmp/mib",
    )
    try:
        used = int(redis_admin(stack, "ADMIN INFO memory | grep '^used_memory:' | cut -d: -f2"))
        assert used > maxmemory * 6 // 10, used
        before = persistence(stack)
        redis_admin(stack, "ADMIN BGREWRITEAOF > /dev/null; ADMIN BGSAVE SCHEDULE > /dev/null")
        # Writes go on during the fork: each dirties pages the child still shares.
        redis_admin(stack, "for i in $(seq 1 200); do ADMIN SET during:$i $i > /dev/null; done")
        deadline = time.monotonic() + 120
        while True:
            fields = persistence(stack)
            done = (
                int(fields["aof_rewrites"]) > int(before["aof_rewrites"])
                and int(fields["rdb_saves"]) > int(before["rdb_saves"])
                and fields["aof_rewrite_in_progress"] == "0"
                and fields["rdb_bgsave_in_progress"] == "0"
            )
            if done:
                break
            assert time.monotonic() < deadline, fields
            time.sleep(0.5)
        assert fields["aof_last_bgrewrite_status"] == "ok", fields
        assert fields["rdb_last_bgsave_status"] == "ok", fields
        container.reload()
        assert container.attrs["State"]["OOMKilled"] is False
        assert int(container.attrs["RestartCount"]) == restarts
        print(
            f"\nRedis saved {used / 2**20:.0f} MiB under a {limit / 2**20:.0f} MiB limit "
            f"(maxmemory {maxmemory / 2**20:.0f} MiB) without being killed"
        )
    finally:
        redis_admin(stack, "ADMIN --scan --pattern 'fill:*' | xargs -r ADMIN UNLINK > /dev/null")
        redis_admin(stack, "ADMIN --scan --pattern 'during:*' | xargs -r ADMIN UNLINK > /dev/null")


def test_redis_keeps_acknowledged_writes_through_a_crash(stack: RunningStack) -> None:
    for n in range(50):
        assert redis_cli(stack, "SET", f"crash:{n}", str(n)) == "OK"
    time.sleep(2)  # appendfsync everysec: writes acknowledged more than a second ago
    before = kill_main_process(stack, "redis")
    wait_healthy_again(stack, "redis", before)
    assert redis_cli(stack, "GET", "crash:49") == "49"
    assert redis_cli(stack, "EXISTS", *(f"crash:{n}" for n in range(50))) == "50"
    # Its exporter, a container of its own, reads the new server through the socket.
    wait_for_metric(stack, "redis-exporter:9121", "redis_up 1")


def test_the_edge_comes_back_after_a_crash(stack: RunningStack) -> None:
    before = kill_main_process(stack, "edge")
    wait_healthy_again(stack, "edge", before)
    assert https(stack, "/health/live").status == 200
    # The killed nginx left its status socket behind; the new one serves it all the same,
    # and the exporter reads it.
    wait_for_metric(stack, "edge-exporter:9113", "nginx_up 1")


def test_teardown_leaves_nothing_of_the_stack(stack: RunningStack) -> None:
    """Last in the module: removes the stack itself and checks the engine."""
    stack.down()
    assert leftovers(stack.stack) == []
