"""Prometheus exporters run as sidecars beside the server they watch, reaching it through a
unix socket in the replica's scratch space: the same pod on Kubernetes, the same volume on
Docker, where each container has a network of its own (so the server's port is never open to
Prometheus, nor the exporter's to the server's clients)."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi

from components.workload import Checks, Container, File, Port, Probe, Resources, Scratch

EXPORTER_RESOURCES = Resources(50, 64, 250, 128)


def exporter_sidecar(
    image: pulumi.Input[str],
    port_name: str,
    port: int,
    env: Mapping[str, pulumi.Input[str]],
    secret_files: tuple[File, ...],
    run_as_user: int,
    socket: Scratch,
    args: tuple[str, ...] = (),
    docker_check: tuple[str, ...] | None = None,
) -> Container:
    """An exporter probed on its /metrics. Docker runs `docker_check`, by default wget (in
    images that have it); Kubernetes probes over HTTP."""
    ready = Probe.http(port, "/metrics", period_seconds=10, command=docker_check)

    return Container(
        name="exporter",
        image=image,
        resources=EXPORTER_RESOURCES,
        checks=Checks.always(ready),
        args=args,
        env=env,
        ports=(Port(port_name, port),),
        secret_files=secret_files,
        mounts=(socket.name,),
        run_as_user=run_as_user,
    )


NGINX_EXPORTER_PORT = 9113
# Where nginx serves its status to the exporter beside it (both mount it). Not under
# /run/prodstack, where the delivered files are mounted read-only.
NGINX_STATUS = Scratch("status", "/run/nginx-status", size_mib=1, in_memory=True)
NGINX_STATUS_SOCKET = f"{NGINX_STATUS.mount_path}/nginx.sock"


def after_stale_socket(command: tuple[str, ...]) -> tuple[str, ...]:
    """`command`, once the status socket a killed nginx left in the shared scratch space is
    gone: nginx does not replace one (it fails with "Address already in use"), and the
    scratch space outlives a container's restart, on Docker and in a pod alike."""
    return ("sh", "-c", 'rm -f "$0" && exec "$@"', NGINX_STATUS_SOCKET, *command)


def nginx_exporter(image: pulumi.Input[str], port_name: str, run_as_user: int) -> Container:
    """nginx-prometheus-exporter beside an nginx of the stack (the edge, the frontend),
    reading its stub_status on the status socket (NGINX_STATUS_SOCKET)."""
    return exporter_sidecar(
        image,
        port_name,
        NGINX_EXPORTER_PORT,
        env={},
        secret_files=(),
        run_as_user=run_as_user,
        socket=NGINX_STATUS,
        args=(f"--nginx.scrape-uri=unix:{NGINX_STATUS_SOCKET}:/stub_status",),
        # The exporter image is FROM scratch: no shell or HTTP client for Docker to run.
        docker_check=("/usr/bin/nginx-prometheus-exporter", "--version"),
    )
