"""prodstack:index:Redis — Redis with append-only persistence, ACL users and an exporter."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pulumi

from components.alerts import Alert
from components.connections import ServiceConnection
from components.exporters import exporter_sidecar
from components.images import version_label
from components.logins import Credential, app_logins, logins_keeper
from components.platform.placement import Placement
from components.redis.alerts import alerts
from components.redis.config import ADMIN_USER, HEALTH_USER, PORT, RedisAcl, RedisConfig
from components.redis.settings import RedisSettings
from components.settings import workload_resources
from components.watch import DELIVERED, watched, watcher_file
from components.workload import (
    CONFIG_DIR,
    KEEPS_IMAGE_USER,
    SECRETS_DIR,
    Checks,
    Container,
    File,
    PersistentVolume,
    Port,
    Probe,
    ScannerWaiver,
    Scratch,
    Target,
    TlsFiles,
    Workload,
)

APP_USER = "app"
EXPORTER_PORT = 9121
REDIS_UID = 999  # the redis user of the official image
EXPORTER_USER = "exporter"
EXPORTER_UID = 59000  # the user the redis_exporter image runs as
# The server's socket, which the exporter beside it reads (components/exporters.py).
SOCKET = Scratch("socket", "/run/redis", size_mib=1, in_memory=True)
UNIX_SOCKET = f"{SOCKET.mount_path}/redis.sock"
# The logins keeper (components/logins.py) of the app's credential, as Redis runs it.
LOGINS_SCRIPT = Path(__file__).parents[2] / "images" / "scripts" / "redis_logins.sh"


@dataclass(frozen=True)
class RedisArgs:
    settings: RedisSettings
    app_credential: Credential
    # How long a login left by a rollover stays valid unused (secrets.retireAfterIdleSeconds).
    retire_after_idle_seconds: int
    admin_password: pulumi.Input[str]
    exporter_password: pulumi.Input[str]
    protect: bool


class Redis(pulumi.ComponentResource):
    """Redis; `connection` is what the API needs to reach it, `scrape_targets` what
    Prometheus scrapes (the exporter, never the Redis port)."""

    connection: ServiceConnection
    scrape_targets: tuple[Target, ...]
    alerts: tuple[Alert, ...]
    host: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: RedisArgs,
        placement: Placement,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("prodstack:index:Redis", name, None, opts)
        # Clients must use TLS (redis.tls): a certificate from the stack's CA.
        tls = placement.certificate(name, "server") if args.settings.tls else None
        placed = placement.place(redis_workload(name, args, tls), parent=self)
        login = Credential.login(APP_USER, args.app_credential.active)
        self.connection = ServiceConnection(
            kind="redis",
            server=placed,
            port_name="redis",
            user=login,
            secret_files=(
                File(f"{name}-password", args.app_credential.password),
                File(f"{name}-user", login),
            ),
            tls=tls is not None,
        )
        self.scrape_targets = (Target(placed, "redis-metrics"),)
        # Its alerts select the job it is scraped under: its workload's name.
        self.alerts = alerts(placed.name)
        self.host = pulumi.Output.from_input(placed.host)
        self.register_outputs({"host": self.host, "port": PORT})


def redis_config(settings: RedisSettings, tls: TlsFiles | None = None) -> RedisConfig:
    limit_mib = workload_resources(settings.resources).memory_limit_mib
    return RedisConfig(
        maxmemory_bytes=limit_mib * 1024 * 1024 * settings.maxmemory_percent // 100,
        eviction_policy=settings.eviction_policy,
        acl_file=f"{SECRETS_DIR}/users.acl",
        tls_cert_file=tls.cert_file if tls else None,
        tls_key_file=tls.key_file if tls else None,
        tls_ca_file=tls.ca_file if tls else None,
        unix_socket=UNIX_SOCKET,
    )


# The admin's password, which Redis's container needs to tell itself to reload its
# certificate (tls_reload), and the logins keeper to keep the app's logins.
ADMIN_PASSWORD_FILE = "redis-admin-password"


def tls_reload(tls: TlsFiles, socket: str = UNIX_SOCKET, secrets_dir: str = SECRETS_DIR) -> str:
    """Redis 7 reads its certificate, key and CA again when told their paths, even the same
    ones (CONFIG SET of the tls-* files is always applied): a renewal takes effect without
    a restart, and no client is dropped."""
    files = f"tls-cert-file {tls.cert_file} tls-key-file {tls.key_file}"
    if tls.ca_file:
        files += f" tls-ca-cert-file {tls.ca_file}"
    return f"{admin_cli(socket, secrets_dir)} CONFIG SET {files} | grep -qx OK"


def admin_password_env(secrets_dir: str = SECRETS_DIR) -> str:
    """The shell assignment that gives redis-cli the admin's password (never on its command
    line), from the file a container with the admin's password has (Redis's own with TLS,
    and its logins keeper)."""
    return f'REDISCLI_AUTH="$(cat {secrets_dir}/{ADMIN_PASSWORD_FILE})"'


def admin_redis_cli(socket: str = UNIX_SOCKET) -> str:
    """redis-cli as the admin over the server's socket (its password: admin_password_env)."""
    return f"redis-cli --no-auth-warning -s {socket} --user {ADMIN_USER}"


def admin_cli(socket: str = UNIX_SOCKET, secrets_dir: str = SECRETS_DIR) -> str:
    """One admin command for a shell: the certificate reload, the runbooks and the game
    day's drills."""
    return f"{admin_password_env(secrets_dir)} {admin_redis_cli(socket)}"


def redis_command(
    conf: str,
    tls: TlsFiles | None,
    script: str = DELIVERED,
    socket: str = UNIX_SOCKET,
    secrets_dir: str = SECRETS_DIR,
) -> tuple[str, ...]:
    """Over TLS, under the watcher, which has redis-server reload its certificate when it is
    renewed in place (`tls_reload`)."""
    server = ("redis-server", conf)
    if tls is None:
        return server
    watched_files = (tls.cert_file, tls.key_file, *((tls.ca_file,) if tls.ca_file else ()))
    return watched(
        server, files=watched_files, reload=tls_reload(tls, socket, secrets_dir), script=script
    )


def redis_workload(name: str, args: RedisArgs, tls: TlsFiles | None = None) -> Workload:
    settings = args.settings
    logins = app_logins(APP_USER, args.app_credential)
    acl = pulumi.Output.all(
        *(password for _, password in logins), args.admin_password, args.exporter_password
    ).apply(
        lambda p: RedisAcl(
            tuple((login, p[i]) for i, (login, _) in enumerate(logins)),
            p[-2],
            p[-1],
            settings.allow_scripting,
        ).render()
    )
    # What a restart depends on: the ACL without the app's passwords, which the logins
    # keeper applies in place (and which are unknown in a preview of a rollover).
    restart_view = pulumi.Output.all(args.admin_password, args.exporter_password).apply(
        lambda p: RedisAcl(
            tuple((login, None) for login, _ in logins), p[0], p[1], settings.allow_scripting
        ).render()
    )
    # Over TLS the check verifies the server's certificate like any client.
    tls_flags = f"--tls --cacert {tls.ca_file} -h localhost " if tls else ""
    ping = Probe(
        command=(
            "sh",
            "-c",
            # The health user may only PING and has no password; any password is accepted.
            f"redis-cli {tls_flags}--no-auth-warning --user {HEALTH_USER} --pass none "
            f"-p {PORT} ping | grep -q PONG",
        ),
        period_seconds=10,
    )
    server = Container(
        name="redis",
        image=settings.image,
        resources=workload_resources(settings.resources),
        # Loading a large append-only file can take minutes.
        checks=Checks.around(ping, startup_seconds=300),
        command=redis_command(f"{CONFIG_DIR}/redis.conf", tls),
        ports=(Port("redis", PORT),),
        config_files=(
            File("redis.conf", redis_config(settings, tls).render()),
            *((watcher_file(),) if tls else ()),
        ),
        # Read at start; the logins keeper applies the app's passwords in place.
        secret_files=(
            File("users.acl", acl, restart_view=restart_view),
            *((File(ADMIN_PASSWORD_FILE, args.admin_password),) if tls else ()),
        ),
        tls=tls,
        mounts=("data", SOCKET.name),
        run_as_user=REDIS_UID,
    )
    exporter_password_file = File(
        "redis-exporter-passwords.json",
        pulumi.Output.from_input(args.exporter_password).apply(exporter_password_map),
    )
    exporter = exporter_sidecar(
        settings.exporter_image,
        "redis-metrics",
        EXPORTER_PORT,
        env={
            "REDIS_ADDR": f"unix://{UNIX_SOCKET}",
            "REDIS_USER": EXPORTER_USER,
            "REDIS_PASSWORD_FILE": f"{SECRETS_DIR}/{exporter_password_file.name}",
        },
        secret_files=(exporter_password_file,),
        run_as_user=EXPORTER_UID,
        socket=SOCKET,
    )
    keeper = logins_keeper(
        settings.image,
        ("sh", f"{CONFIG_DIR}/{LOGINS_SCRIPT.name}"),
        args.app_credential,
        APP_USER,
        args.retire_after_idle_seconds,
        SOCKET,
        REDIS_UID,
        env={"REDIS_SOCKET": UNIX_SOCKET, "REDIS_ADMIN_USER": ADMIN_USER},
        config_files=(File(LOGINS_SCRIPT.name, LOGINS_SCRIPT.read_text()),),
        secret_files=(File(ADMIN_PASSWORD_FILE, args.admin_password),),
    )
    return Workload(
        name=name,
        scanner_waivers=(
            ScannerWaiver(
                KEEPS_IMAGE_USER, "the redis user of the image owns the existing data volume"
            ),
        ),
        singleton="one Redis primary with append-only persistence; no replication configured",
        component="cache",
        version=version_label(settings.image),
        main=server,
        sidecars=(exporter, keeper),
        volumes=(PersistentVolume("data", "/data", settings.storage_gib, protect=args.protect),),
        scratch=(SOCKET,),
        # The stack's data: the last to be evicted from a node short of memory.
        critical=True,
        pre_stop_seconds=0,
        shutdown_grace_seconds=30,
    )


def exporter_password_map(password: str) -> str:
    """redis_exporter's password file: up to 1.68 it looks the address up without the user,
    from 1.69 on with it, so both keys are written and an upgrade cannot turn into NOAUTH."""
    keys = (f"unix://{UNIX_SOCKET}", f"unix://{EXPORTER_USER}@{UNIX_SOCKET}")
    return json.dumps(dict.fromkeys(keys, password), sort_keys=True)
