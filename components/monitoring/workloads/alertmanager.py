"""Alertmanager: routes alerts to the receivers from settings (components/monitoring/alertmanager.py)."""

from __future__ import annotations

from components.images import version_label
from components.monitoring.alertmanager import AlertmanagerConfig, Receiver
from components.monitoring.args import ALERTMANAGER_PORT, NOBODY, MonitoringArgs
from components.monitoring.settings import ReceiverSettings
from components.workload import (
    CONFIG_DIR,
    SECRETS_DIR,
    Checks,
    Container,
    File,
    Outbound,
    PersistentVolume,
    Port,
    Probe,
    Resources,
    Workload,
)

NOTIFICATION_PORTS = (443, 587)


def receiver(name: str, settings: ReceiverSettings) -> tuple[Receiver, tuple[str, ...]]:
    """The receiver, and the secret config key of its credential file (if any)."""
    secret = settings.secret_config
    return (
        Receiver(
            name=name,
            kind=settings.kind,
            secret_file=f"{SECRETS_DIR}/{name}-credential" if secret else None,
            url=settings.url,
            channel=settings.channel,
            to=settings.to,
            from_=settings.sender,
            smarthost=settings.smarthost,
            username=settings.username,
        ),
        (secret,) if secret else (),
    )


def alertmanager(args: MonitoringArgs) -> Workload:
    s = args.settings
    built = {n: receiver(n, getattr(s.receivers, n)) for n in ("paging", "chat", "heartbeat")}
    config = AlertmanagerConfig(
        paging=built["paging"][0], chat=built["chat"][0], heartbeat=built["heartbeat"][0]
    )
    credentials = tuple(
        File(f"{name}-credential", args.receiver_secrets[key])
        for name, (_, keys) in built.items()
        for key in keys
    )
    server = Container(
        name="alertmanager",
        image=s.alertmanager_image,
        resources=Resources(50, 64, 500, 256),
        checks=Checks.around(
            Probe.http(ALERTMANAGER_PORT, "/-/ready"),
            startup_seconds=60,
            alive=Probe.http(ALERTMANAGER_PORT, "/-/healthy"),
        ),
        args=(
            f"--config.file={CONFIG_DIR}/alertmanager.yml",
            "--storage.path=/alertmanager",
            f"--web.listen-address=:{ALERTMANAGER_PORT}",
            "--cluster.listen-address=",  # one instance: no gossip port
        ),
        ports=(Port("web", ALERTMANAGER_PORT),),
        config_files=(File("alertmanager.yml", config.render()),),
        secret_files=credentials,
        mounts=("data",),
        run_as_user=NOBODY,
    )
    return Workload(
        name="alertmanager",
        singleton="one Alertmanager; a cluster of them needs gossip peers, not yet configured",
        component="monitoring",
        version=version_label(s.alertmanager_image),
        main=server,
        volumes=(PersistentVolume("data", "/alertmanager", 1, protect=args.protect),),
        # Notifications leave the stack.
        outbound=(Outbound(NOTIFICATION_PORTS),),
    )
