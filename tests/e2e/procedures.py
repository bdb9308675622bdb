"""Operations on the running stack that both the suite and bench/stack_up.py perform."""

from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import Message
from typing import Any

from tests.e2e.stack import Notification, RunningStack

# docs/runbooks/postgres-point-in-time-restore.md, steps 3 and 4, as one script for the
# drill's container: restore into the drill's own volume, start a throwaway server there, wait
# until recovery has ended, answer the query, stop and remove it (quietly: its answer is
# the script's only output).
PITR_SCRIPT = """
set -eu
SCRATCH=/var/lib/postgresql/scratch/pitr
rm -rf "$SCRATCH" /tmp/pitr-run
mkdir -m 700 -p "$SCRATCH"
pgbackrest --stanza=main --pg1-path="$SCRATCH" --log-level-console=error \\
  --type=time --target="$TARGET" --target-action=promote restore
mkdir -p /tmp/pitr-run
pg_ctl -D "$SCRATCH" -w -l /tmp/pitr.log \\
  -o "-c config_file=$PG_CONFIG_FILE -c port=55432 -c unix_socket_directories=/tmp/pitr-run -c listen_addresses='' -c archive_mode=off -c ssl=off" start >/dev/null
until [ "$(psql -h /tmp/pitr-run -p 55432 -U postgres -qtAc 'select pg_is_in_recovery()')" = f ]; do sleep 0.2; done
psql -h /tmp/pitr-run -p 55432 -U postgres -d app -qtAc "$QUERY"
pg_ctl -D "$SCRATCH" -m fast stop >/dev/null
rm -rf "$SCRATCH"
"""


@dataclass
class Reply:
    status: int
    # A header sent on several lines (Vary) is one value, joined with ", ".
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


def _headers(message: Message) -> dict[str, str]:
    return {name: ", ".join(message.get_all(name) or []) for name in dict.fromkeys(message.keys())}


def https(
    stack: RunningStack,
    path: str,
    method: str = "GET",
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """A request to the published edge, trusting the stack's CA; a JSON body if given."""
    context = ssl.create_default_context(cadata=stack.ca_pem)
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(stack.url + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as reply:
            return Reply(reply.status, _headers(reply.headers), reply.read())
    except urllib.error.HTTPError as error:
        return Reply(error.code, _headers(error.headers), error.read())


def psql(stack: RunningStack, sql: str) -> str:
    """As the postgres superuser, over the server's socket (peer authentication)."""
    return stack.exec(
        "postgres", "psql", "-h", "/var/run/postgresql", "-U", "postgres", "-d", "app",
        "-v", "ON_ERROR_STOP=1", "-qAtc", sql,
    ).strip()  # fmt: skip


def archive_current_wal(stack: RunningStack, timeout: float = 60) -> None:
    """Close the current WAL segment and wait until pgBackRest has archived it, so a restore
    can replay every commit made so far."""
    segment = psql(stack, "SELECT pg_walfile_name(pg_switch_wal())")
    deadline = time.monotonic() + timeout
    while psql(stack, "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver") < segment:
        assert time.monotonic() < deadline, f"{segment} not archived within {timeout} s"
        time.sleep(0.5)


def point_in_time_restore(stack: RunningStack, target: str, query: str) -> tuple[str, float]:
    """The runbook's restore to `target` where the drill runs, into the drill's own volume:
    the query's answer on the restored data, and the seconds from the restore's start until
    it answered."""
    started = time.monotonic()
    container = stack.container("postgres-drill-cron")
    result = container.exec_run(
        ["sh", "-c", PITR_SCRIPT], environment={"TARGET": target, "QUERY": query}
    )
    output = result.output.decode(errors="replace")
    assert result.exit_code == 0, f"point-in-time restore failed:\n{output}"
    return output.strip(), time.monotonic() - started


# Tries a TCP connection to each host:port with bash alone (every Debian image has it), three
# seconds each; prints "host:port open" or "host:port closed".
CONNECT_SCRIPT = """
for target in "$@"; do
  if timeout 3 bash -c "exec 3<>/dev/tcp/${target%:*}/${target##*:}" 2>/dev/null; then
    echo "$target open"
  else
    echo "$target closed"
  fi
done
"""


def connections_from(stack: RunningStack, workload: str, *targets: str) -> dict[str, str]:
    """From inside a workload's container: which of `targets` (host:port) accept a TCP
    connection ("open") and which do not ("closed": refused, unreachable or unresolvable)."""
    output = stack.exec(workload, "bash", "-c", CONNECT_SCRIPT, "connect", *targets)
    return dict(line.split() for line in output.splitlines())


def address_of(stack: RunningStack, workload: str) -> str:
    """The workload's address on its own network, which its declared clients share."""
    networks = stack.container(workload).attrs["NetworkSettings"]["Networks"]
    return str(networks[f"{stack.prefix}-{workload}"]["IPAddress"])


def wait_for_notification(
    stack: RunningStack,
    receiver: str,
    alert: str,
    status: str = "firing",
    after: int = 0,
    timeout: float = 300,
) -> Notification:
    """The first notification of `alert` with `status` at `receiver`, beyond the first
    `after` notifications the receiver had."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for note in stack.notifications()[after:]:
            if note.receiver == receiver and note.status == status and alert in note.alerts:
                return note
        time.sleep(1)
    seen = [(n.receiver, n.status, n.alerts) for n in stack.notifications()]
    raise AssertionError(f"no {status} {alert} at {receiver} within {timeout:.0f} s; seen {seen}")


def page_for_a_stopped_api(stack: RunningStack, timeout: float = 300) -> tuple[Notification, float]:
    """Stop the API, wait for ApiDown at the paging receiver, start the API again: the
    notification, and the seconds from the stop until it arrived."""
    seen = len(stack.notifications())
    api = stack.container("api")
    stopped = time.monotonic()
    api.stop()
    try:
        note = wait_for_notification(stack, "paging", "ApiDown", after=seen, timeout=timeout)
    finally:
        api.start()
    return note, note.received - stopped


def exporter_metrics(stack: RunningStack, address: str) -> str:
    """An exporter's metrics as Prometheus scrapes them, from its container."""
    return stack.exec("prometheus", "wget", "-qO-", f"http://{address}/metrics")


def wait_for_metric(stack: RunningStack, address: str, line: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while line not in (metrics := exporter_metrics(stack, address)):
        assert time.monotonic() < deadline, f"no {line!r} from {address} in {timeout} s"
        time.sleep(2)
    assert line in metrics
