"""prodstack:index:Postgres — the database, its backup agent and its exporter, as one workload,
and its monthly restore drill as a scheduled job.

The server, the backup agent (backup schedules, metrics), the logins keeper and
postgres_exporter share a pod (Kubernetes) or a network namespace (Docker), the data volume
and the server's socket. The drill restores the latest backup into a volume of its own
(prodstack_pg.drill) and records its result on that backup in the repository, where the
agent reads it for its metrics.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.alerts import Alert
from components.connections import ServiceConnection
from components.exporters import exporter_sidecar
from components.images import image_for
from components.logins import Credential, app_logins, logins_keeper, password_file
from components.platform.placement import Placement
from components.postgres import config as pgconf
from components.postgres.alerts import alerts
from components.postgres.hba import HbaConfig
from components.postgres.pgbackrest import (
    SECRETS_FILE,
    PgBackRestConfig,
    S3Location,
    render_secrets,
)
from components.postgres.settings import PostgresSettings
from components.settings import workload_resources
from components.workload import (
    CONFIG_DIR,
    KEEPS_IMAGE_USER,
    RUNS_TO_COMPLETION,
    SECRETS_DIR,
    Checks,
    Container,
    File,
    Outbound,
    PersistentVolume,
    Port,
    Probe,
    Resources,
    ScannerWaiver,
    ScheduledJob,
    Scratch,
    Target,
    TlsFiles,
    Workload,
)

MONITOR_USER = "monitor"
AGENT_PORT = 9854
EXPORTER_PORT = 9187
POSTGRES_UID = 999  # the postgres user of the official image
EXPORTER_UID = 65534
DATA_MOUNT = "/var/lib/postgresql/data"
# The restore drill's target: a volume of the drill's own, as large as the database's.
DRILL_SCRATCH = "drill"
SOCKET = Scratch("socket", pgconf.SOCKET_DIR, size_mib=1, in_memory=True)


@dataclass(frozen=True)
class PostgresArgs:
    settings: PostgresSettings
    app_credential: Credential
    # How long a login left by a rollover stays valid unused (secrets.retireAfterIdleSeconds).
    retire_after_idle_seconds: int
    monitor_password: pulumi.Input[str]
    cipher_pass: pulumi.Input[str]
    # Protected volumes survive `pulumi destroy` (prod).
    protect: bool
    # S3 credentials, when the repository is off-site.
    s3_key: pulumi.Input[str] | None = None
    s3_secret: pulumi.Input[str] | None = None


class Postgres(pulumi.ComponentResource):
    """The database; `connection` is what the API needs to reach it, `scrape_targets` what
    Prometheus scrapes (the exporter and the backup agent, never the database port)."""

    connection: ServiceConnection
    scrape_targets: tuple[Target, ...]
    alerts: tuple[Alert, ...]
    host: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: PostgresArgs,
        placement: Placement,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("prodstack:index:Postgres", name, None, opts)
        image = image_for(
            args.settings.image, "postgres", parent=self, base=args.settings.build_base
        )
        # Network clients must use TLS (postgres.tls): a certificate from the stack's CA.
        tls = placement.certificate(name, "server") if args.settings.tls else None
        placed = placement.place(postgres_workload(name, args, image, tls), parent=self)
        settings = args.settings
        self.connection = ServiceConnection(
            kind="postgres",
            server=placed,
            port_name="postgres",
            database=settings.database,
            user=Credential.login(settings.app_user, args.app_credential.active),
            secret_files=(File(f"{name}-password", args.app_credential.password),),
            tls=tls is not None,
        )
        self.scrape_targets = (Target(placed, "pg-metrics"), Target(placed, "backup-metrics"))
        # Its alerts select the job it is scraped under: its workload's name.
        self.alerts = alerts(placed.name)
        self.host = pulumi.Output.from_input(placed.host)
        self.register_outputs({"host": self.host, "port": pgconf.PORT})


def pgbackrest_config(settings: PostgresSettings) -> PgBackRestConfig:
    backup = settings.backup
    s3 = backup.repository.s3 if backup.repository.type == "s3" else None
    return PgBackRestConfig(
        data_dir=pgconf.DATA_DIR,
        compression=backup.compression,
        retention_full=backup.retention.full,
        retention_full_type=backup.retention.full_type,
        retention_diff=backup.retention.diff,
        s3=S3Location(s3.endpoint, s3.bucket, s3.region, s3.path, s3.uri_style, s3.key_type)
        if s3
        else None,
    )


def postgres_workload(
    name: str,
    args: PostgresArgs,
    image: pulumi.Input[str],
    tls: TlsFiles | None = None,
) -> Workload:
    settings = args.settings
    resources = workload_resources(settings.resources)
    server_config = pgconf.PostgresConfig(
        major=settings.version,
        memory_limit_mib=resources.memory_limit_mib,
        max_connections=settings.max_connections,
        archive_timeout_seconds=settings.archive_timeout_seconds,
        slow_query_ms=settings.slow_query_ms,
        hba_file=f"{CONFIG_DIR}/pg_hba.conf",
        tls_cert_file=tls.cert_file if tls else None,
        tls_key_file=tls.key_file if tls else None,
    )
    backrest = pgbackrest_config(settings)
    backrest_files = (File("pgbackrest.conf", backrest.render()),)
    backrest_secret = File(
        SECRETS_FILE,
        pulumi.Output.all(args.cipher_pass, args.s3_key, args.s3_secret).apply(
            lambda values: render_secrets(values[0], values[1], values[2])
        ),
    )
    on_volume = settings.backup.repository.type == "volume"
    logins = tuple(login for login, _ in app_logins(settings.app_user, args.app_credential))
    env = {
        "PGDATA": pgconf.DATA_DIR,
        "PG_CONFIG_FILE": f"{CONFIG_DIR}/postgresql.conf",
        "PG_SOCKET_DIR": pgconf.SOCKET_DIR,
        "PRODSTACK_SECRETS": SECRETS_DIR,
        "PRODSTACK_STATE": f"{DATA_MOUNT}/prodstack",
        "PRODSTACK_SCRATCH": "/var/lib/postgresql/scratch",
        "PRODSTACK_DATABASE": settings.database,
        "PRODSTACK_APP_USER": settings.app_user,
        "PRODSTACK_APP_LOGINS": ",".join(logins),
        "PRODSTACK_MONITOR_USER": MONITOR_USER,
        "PGBACKREST_CONFIG": f"{CONFIG_DIR}/pgbackrest.conf",
        "PGBACKREST_CONFIG_INCLUDE_PATH": SECRETS_DIR,
        "PG_BIN": f"/usr/lib/postgresql/{settings.version}/bin",
        # The backup agent has the server reload when one of these changes in place (a
        # renewed certificate, a reloadable setting, a login in pg_hba.conf).
        "PRODSTACK_RELOAD_FILES": ":".join(
            (
                f"{CONFIG_DIR}/postgresql.conf",
                f"{CONFIG_DIR}/pg_hba.conf",
                *((tls.cert_file, tls.key_file) if tls else ()),
            )
        ),
    }
    mounts = ("data", SOCKET.name) + (("backups",) if on_volume else ())
    ready = Probe(
        command=("pg_isready", "-q", "-h", pgconf.SOCKET_DIR, "-p", str(pgconf.PORT)),
        period_seconds=10,
    )
    server_files = (
        # A reloadable change reaches the running server without a restart: the backup agent
        # has it reload when the file it reads changes (its ServerFileWatch).
        File("postgresql.conf", server_config.render(), restart_view=server_config.restart_view()),
        File(
            "pg_hba.conf",
            HbaConfig(settings.database, logins, MONITOR_USER, tls=tls is not None).render(),
            restart_view="",
        ),
        *backrest_files,
    )
    server = Container(
        name="postgres",
        image=image,
        resources=resources,
        # initdb or crash recovery can take minutes: up to 10 of them before liveness counts.
        checks=Checks.around(ready, startup_seconds=600, startup_period=5, liveness_failures=6),
        env=env,
        ports=(Port("postgres", pgconf.PORT),),
        config_files=server_files,
        secret_files=(
            # Read at start only; the logins keeper applies a change in place.
            *(
                File(password_file(login), password, restart_view="")
                for login, password in app_logins(settings.app_user, args.app_credential)
            ),
            File("postgres-monitor-password", args.monitor_password),
            backrest_secret,
        ),
        tls=tls,
        mounts=mounts,
        run_as_user=POSTGRES_UID,
    )
    schedule = settings.backup.schedule
    # The Postgres image has python3 but no wget.
    agent_alive = Probe.http(
        AGENT_PORT,
        "/health",
        period_seconds=10,
        command=("python3", "-c", _http_check(AGENT_PORT, "/health")),
    )

    agent = Container(
        name="backup-agent",
        image=image,
        # Backups only (pgBackRest, two processes): the drill runs apart. In the data
        # store's Guaranteed pod its limit is also what the node sets aside for it.
        resources=Resources(100, 256, 500, 256),
        checks=Checks.always(agent_alive),
        command=("python3", "-m", "prodstack_pg.agent"),
        args=(
            "--full",
            schedule.full,
            "--diff",
            schedule.diff,
            "--metrics-port",
            str(AGENT_PORT),
        ),
        env=env,
        ports=(Port("backup-metrics", AGENT_PORT),),
        config_files=server_files,
        secret_files=(backrest_secret,),
        mounts=mounts,
        run_as_user=POSTGRES_UID,
    )
    drill = ScheduledJob(
        name="drill",
        schedule=settings.backup.drill_schedule,
        container=Container(
            name="drill",
            image=image,
            # A throwaway server replays the restored backup's WAL.
            resources=Resources(100, 256, 1000, 1024),
            checks=RUNS_TO_COMPLETION,
            command=("python3", "-m", "prodstack_pg.drill"),
            env=env,
            # The server's own files: the throwaway server starts with postgresql.conf,
            # which names pg_hba.conf. Not its certificate: it listens on a socket alone,
            # with ssl off, so the drill's pods never hold the server's key.
            config_files=server_files,
            secret_files=(backrest_secret,),
            # The repository (when it is a volume) and its own restore target, never the
            # database's data or node disk.
            mounts=(*(("backups",) if on_volume else ()), DRILL_SCRATCH),
            run_as_user=POSTGRES_UID,
        ),
        # A restore of the whole database, then its WAL replayed.
        deadline_seconds=6 * 3600,
        scratch=(Scratch(DRILL_SCRATCH, env["PRODSTACK_SCRATCH"], settings.storage_gib * 1024),),
    )
    exporter = exporter_sidecar(
        settings.exporter_image,
        "pg-metrics",
        EXPORTER_PORT,
        env={
            # Through the server's socket (pg_hba.conf: the monitor user, SCRAM, local only).
            "DATA_SOURCE_URI": f"/postgres?host={pgconf.SOCKET_DIR}&sslmode=disable",
            "DATA_SOURCE_USER": MONITOR_USER,
            "DATA_SOURCE_PASS_FILE": f"{SECRETS_DIR}/postgres-monitor-password",
        },
        secret_files=(File("postgres-monitor-password", args.monitor_password),),
        run_as_user=EXPORTER_UID,
        socket=SOCKET,
    )
    keeper = logins_keeper(
        image,
        ("python3", "-m", "prodstack_pg.logins"),
        args.app_credential,
        settings.app_user,
        args.retire_after_idle_seconds,
        SOCKET,
        POSTGRES_UID,
        env={k: env[k] for k in ("PG_BIN", "PG_SOCKET_DIR", "PRODSTACK_APP_USER")},
    )
    volumes = [PersistentVolume("data", DATA_MOUNT, settings.storage_gib, protect=args.protect)]
    if on_volume:
        size = settings.backup.repository.size_gib
        volumes.append(
            PersistentVolume("backups", backrest.repository_path, size, protect=args.protect)
        )
    return Workload(
        name=name,
        scanner_waivers=(
            ScannerWaiver(
                KEEPS_IMAGE_USER,
                "the postgres user of the image owns the data directory, which Postgres requires (0700)",
            ),
        ),
        singleton="one Postgres primary; recovery is the point-in-time restore from pgBackRest",
        component="database",
        version=str(settings.version),
        main=server,
        sidecars=(agent, exporter, keeper),
        volumes=tuple(volumes),
        scratch=(SOCKET,),
        jobs=(drill,),
        # WAL and backups leave the pod for an off-site repository, and nothing else does.
        outbound=repository_outbound(settings),
        cloud_role=repository_role(settings),
        # The stack's data: the last to be evicted from a node short of memory.
        critical=True,
        pre_stop_seconds=0,
        shutdown_grace_seconds=60,
    )


# The cloud's instance metadata service, where keyType auto finds the host's credentials
# (Docker on a cloud VM; refused on Kubernetes, where the node's identity is every pod's).
INSTANCE_METADATA = Outbound((80,), "169.254.169.254/32")


def repository_outbound(settings: PostgresSettings) -> tuple[Outbound, ...]:
    s3 = settings.backup.repository.s3
    if settings.backup.repository.type != "s3" or s3 is None:
        return ()
    return (Outbound((443,)), *((INSTANCE_METADATA,) if s3.key_type == "auto" else ()))


def repository_role(settings: PostgresSettings) -> str | None:
    """The role the backups take on by web identity (keyType web-id), if any."""
    s3 = settings.backup.repository.s3
    if settings.backup.repository.type != "s3" or s3 is None:
        return None
    return s3.role_arn


def _http_check(port: int, path: str) -> str:
    return (
        "import sys, urllib.request; "
        f"sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:{port}{path}', timeout=3)"
        ".status == 200 else 1)"
    )
