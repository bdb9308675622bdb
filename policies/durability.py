"""Data durability: WAL archiving, scheduled and encrypted off-site backups, restore drills,
protected data volumes, Redis persistence. Read from the generated server configs and the
backup agent's command line, on either platform."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from policies.rule import (
    EVERYWHERE,
    PROD_ONLY,
    Context,
    Enforcement,
    Levels,
    Violation,
    resource_rule,
    stack_rule,
)
from policies.view import (
    DOCKER_CONTAINER,
    DOCKER_NETWORK,
    DOCKER_VOLUME,
    FILE_CARRIERS,
    NAME_LABEL,
    NETWORK_POLICY,
    UNKNOWN,
    Subject,
    command_line,
    containers,
    files,
    files_named,
    flag,
    get,
    items,
    never_started,
    workloads,
)

STATEFULSET = "kubernetes:apps/v1:StatefulSet"
VOLUME_PURPOSE_LABEL = "prodstack.dev/volume"
BACKUP_AGENT = "prodstack_pg.agent"
RESTORE_DRILL = "prodstack_pg.drill"
OFF_HOST_REPOSITORIES = ("s3", "gcs", "azure", "sftp")
EPHEMERAL_ONLY = Levels(Enforcement.DISABLED, Enforcement.ADVISORY, Enforcement.DISABLED)


def settings(text: str) -> dict[str, str]:
    """`key = value`, `key=value` or `key value` lines (postgresql.conf, pgbackrest.conf,
    redis.conf), comments and sections left out; the last setting of a key wins."""
    found: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("["):
            continue
        match = re.match(r"([A-Za-z0-9_.-]+)\s*(?:=\s*|\s+)(.*)$", line)
        if match:
            found[match.group(1).lower()] = match.group(2).strip().strip("'\"")
    return found


def _agents(
    subjects: Sequence[Subject], program: str = BACKUP_AGENT
) -> list[tuple[Subject, list[str]]]:
    """Every container of the stack that runs `program` (the backup agent by default), with
    its command line."""
    found = []
    for subject in workloads(subjects):
        specs = (
            [subject.props]
            if subject.type == DOCKER_CONTAINER
            else [c.spec for c in containers(subject)]
        )
        for spec in specs:
            line = command_line(spec)
            if program in line:
                found.append((subject, line))
    return found


def _has_postgres(subjects: Sequence[Subject]) -> bool:
    return any(files_named(subjects, "postgresql.conf"))


@resource_rule(
    "durability-wal-archiving",
    "Postgres archives WAL through pgBackRest (wal_level replica or logical, archive_mode on, archive_command pgbackrest archive-push).",
    "Without the WAL archive a backup restores to the moment it was taken, not to the minute before the accident.",
    EVERYWHERE,
    FILE_CARRIERS,
    (),
)
def wal_archiving(subject: Subject, _: Context) -> Iterator[str]:
    text = files(subject).get("postgresql.conf")
    if text is None:
        return
    conf = settings(text)
    if conf.get("wal_level", "replica") not in ("replica", "logical"):
        yield f"postgresql.conf sets wal_level {conf['wal_level']}"
    if conf.get("archive_mode", "off") not in ("on", "always"):
        yield f"postgresql.conf sets archive_mode {conf.get('archive_mode', 'off')}"
    command = conf.get("archive_command", "")
    if "pgbackrest" not in command or "archive-push" not in command:
        yield f"postgresql.conf archives with {command or 'nothing'!r}, not pgbackrest archive-push"


@stack_rule(
    "durability-backup-schedule",
    "Postgres has a backup agent scheduling full and differential backups, and pgbackrest.conf keeps a retention for full backups.",
    "Archived WAL is only useful on top of a base backup; without retention the repository grows until it fails.",
    EVERYWHERE,
    (),
)
def backup_schedule(subjects: Sequence[Subject], _: Context) -> Iterator[Violation]:
    if not _has_postgres(subjects):
        return
    agents = _agents(subjects)
    if not agents:
        yield Violation("Postgres runs without a backup agent")
    for subject, line in agents:
        for kind in ("--full", "--diff"):
            if not flag(line, kind):
                yield Violation(f"the backup agent has no {kind} schedule", subject)
    for carrier, text in files_named(subjects, "pgbackrest.conf"):
        if "repo1-retention-full" not in settings(text):
            yield Violation("pgbackrest.conf sets no repo1-retention-full", carrier)


@resource_rule(
    "durability-backup-encrypted",
    "The pgBackRest repository is encrypted (repo1-cipher-type aes-256-cbc).",
    "Backups hold every row of the database; an unencrypted copy is a breach waiting for a misconfigured bucket.",
    EVERYWHERE,
    FILE_CARRIERS,
    (),
)
def backup_encrypted(subject: Subject, _: Context) -> Iterator[str]:
    text = files(subject).get("pgbackrest.conf")
    if text is not None and settings(text).get("repo1-cipher-type", "none") == "none":
        yield "pgbackrest.conf leaves the repository unencrypted"


@resource_rule(
    "durability-backup-off-host",
    "In prod the pgBackRest repository is off the host (object storage: s3, gcs, azure; or sftp).",
    "A backup on the database's own host or volume is lost with it.",
    PROD_ONLY,
    FILE_CARRIERS,
    (),
)
def backup_off_host(subject: Subject, _: Context) -> Iterator[str]:
    text = files(subject).get("pgbackrest.conf")
    if text is None:
        return
    kind = settings(text).get("repo1-type", "posix")
    if kind not in OFF_HOST_REPOSITORIES:
        yield f"pgbackrest.conf keeps the repository on {kind} storage, not off the host"


REPOSITORY_PORTS = {"s3": 443, "gcs": 443, "azure": 443, "sftp": 22}


def _allows_out(policy: Subject, port: int) -> bool:
    """Whether a NetworkPolicy lets its pods open `port` to an address outside the
    namespace (a rule without `to`, or to an ipBlock)."""
    for rule in items(policy.props, "spec", "egress"):
        ports = [get(p, "port") for p in items(rule, "ports")]
        peers = items(rule, "to")
        if (not ports or port in ports) and (
            not peers or any(get(peer, "ipBlock") for peer in peers)
        ):
            return True
    return False


def _routable_apps(subjects: Sequence[Subject]) -> set[str]:
    """The apps with a running container on a routable (not internal) Docker network."""
    routable = {
        get(n.props, "name")
        for n in subjects
        if n.type == DOCKER_NETWORK and get(n.props, "internal") is not True
    }
    return {
        s.app
        for s in subjects
        if s.type == DOCKER_CONTAINER
        and not never_started(s)
        and any(get(n, "name") in routable for n in items(s.props, "networksAdvanced"))
    }


@stack_rule(
    "durability-backup-reachable",
    "A Postgres whose pgBackRest repository is off the host can reach it: on Kubernetes its NetworkPolicy lets it out on the repository's port, on Docker it is on a routable network.",
    "Under default-deny, archive-push and backups fail silently until WAL fills the volume and the database stops.",
    EVERYWHERE,
    (),
)
def backup_reachable(subjects: Sequence[Subject], _: Context) -> Iterator[Violation]:
    carriers = [
        (carrier, settings(text).get("repo1-type", "posix"))
        for carrier, text in files_named(subjects, "pgbackrest.conf")
    ]
    carriers = [(c, kind) for c, kind in carriers if kind in REPOSITORY_PORTS]
    if not carriers:
        return
    # Each looked up once: linear in the stack's size.
    policies: dict[object, list[Subject]] = {}
    for s in subjects:
        if s.type == NETWORK_POLICY:
            app = get(s.props, "spec", "podSelector", "matchLabels", NAME_LABEL)
            policies.setdefault(app, []).append(s)
    routable = _routable_apps(subjects)
    for carrier, kind in carriers:
        port = REPOSITORY_PORTS[kind]
        if carrier.is_kubernetes:
            if not any(_allows_out(p, port) for p in policies.get(carrier.app, [])):
                yield Violation(
                    f"{carrier.app}'s NetworkPolicy lets no connection out on {port}, where its "
                    f"{kind} repository is",
                    carrier,
                )
        elif carrier.app not in routable:
            yield Violation(
                f"{carrier.app} is on internal networks only and cannot reach its {kind} "
                "repository",
                carrier,
            )


@stack_rule(
    "durability-restore-drill",
    "A restore drill is scheduled (a job that runs prodstack_pg.drill: a CronJob on Kubernetes, a scheduler container on Docker), and never in the database's own pod.",
    "A backup nobody has restored is a hope, not a backup; the drill proves it and alerts when it fails. Run in the database's pod, its restore fills the pod's node disk until the kubelet evicts the database.",
    EVERYWHERE,
    (),
)
def restore_drill(subjects: Sequence[Subject], _: Context) -> Iterator[Violation]:
    if not _has_postgres(subjects):
        return
    drills = _agents(subjects, RESTORE_DRILL)
    if not drills:
        yield Violation("no job runs the restore drill (prodstack_pg.drill)")
    for subject, _line in drills:
        if subject.type == STATEFULSET:
            yield Violation(
                f"{subject.display} runs the restore drill inside the database's pod", subject
            )


def _data_volume(subject: Subject) -> bool:
    if subject.type == STATEFULSET:
        return bool(items(subject.props, "spec", "volumeClaimTemplates"))
    return subject.labels.get(VOLUME_PURPOSE_LABEL) == "data"


def _claim_retention(subject: Subject) -> Any:
    """What happens to a StatefulSet's volume claims when it is deleted (Kubernetes: Retain)."""
    return get(
        subject.props,
        "spec",
        "persistentVolumeClaimRetentionPolicy",
        "whenDeleted",
        default="Retain",
    )


@resource_rule(
    "durability-data-protected",
    "In prod, data volumes (StatefulSets with volume claims, Docker data volumes) are protected, and claims are retained when the StatefulSet is deleted.",
    "A refactor that renames a resource, or a `pulumi destroy` on the wrong stack, must not delete the database.",
    PROD_ONLY,
    {STATEFULSET, DOCKER_VOLUME},
    (),
)
def data_protected(subject: Subject, _: Context) -> Iterator[str]:
    if not _data_volume(subject):
        return
    if not subject.protect:
        yield f"{subject.display} holds data but is not protected"
    if subject.type == STATEFULSET:
        retention = _claim_retention(subject)
        if retention not in ("Retain", UNKNOWN):
            yield f"{subject.display} deletes its volume claims with it"


@resource_rule(
    "durability-ephemeral-unprotected",
    "In ephemeral stacks nothing is protected and volume claims are deleted with their StatefulSet.",
    "An ephemeral stack must destroy cleanly; a protected resource blocks `prodstack ephemeral down` and leaks storage.",
    EPHEMERAL_ONLY,
    {STATEFULSET, DOCKER_VOLUME},
    (),
)
def ephemeral_unprotected(subject: Subject, _: Context) -> Iterator[str]:
    if subject.protect:
        yield f"{subject.display} is protected in an ephemeral stack"
    if subject.type == STATEFULSET and _data_volume(subject):
        retention = _claim_retention(subject)
        if retention == "Retain":
            yield f"{subject.display} keeps its volume claims after the stack is destroyed"


@resource_rule(
    "durability-redis-persistence",
    "Redis persists its data (appendonly yes, or RDB snapshots).",
    "Without persistence a restart empties Redis: sessions, queues and rate-limit state are gone.",
    EVERYWHERE,
    FILE_CARRIERS,
    (),
)
def redis_persistence(subject: Subject, _: Context) -> Iterator[str]:
    text = files(subject).get("redis.conf")
    if text is None:
        return
    conf = settings(text)
    snapshots = conf.get("save", "") not in ("", '""')
    if conf.get("appendonly", "no") != "yes" and not snapshots:
        yield "redis.conf turns persistence off (appendonly no and no save points)"
