"""Prometheus exporters run as sidecars beside the server they watch (the same pod, or the
same network namespace on Docker), reaching it on localhost."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi

from components.tls.component import ServiceTls
from components.workload import Checks, Container, File, Port, Probe, Resources

EXPORTER_RESOURCES = Resources(50, 64, 250, 128)


def exporter_sidecar(
    image: pulumi.Input[str],
    port_name: str,
    port: int,
    env: Mapping[str, pulumi.Input[str]],
    secret_files: tuple[File, ...],
    run_as_user: int,
    args: tuple[str, ...] = (),
    docker_check: tuple[str, ...] | None = None,
    tls: ServiceTls | None = None,
) -> Container:
    """An exporter probed on its /metrics. Docker runs `docker_check`, by default wget (in
    images that have it); Kubernetes probes over HTTP."""
    ready = Probe.http(port, "/metrics", period_seconds=30, command=docker_check)

    return Container(
        name="exporter",
        image=image,
        resources=EXPORTER_RESOURCES,
        checks=Checks.always(ready),
        args=args,
        env=env,
        ports=(Port(port_name, port),),
        # The CA it verifies its server against, when the server speaks TLS only.
        config_files=tls.config_files if tls else (),
        secret_files=(*secret_files, *(tls.secret_files if tls else ())),
        existing_secrets=tls.existing_secrets if tls else (),
        run_as_user=run_as_user,
    )


NGINX_EXPORTER_PORT = 9113


def nginx_exporter(
    image: pulumi.Input[str], port_name: str, status_port: int, run_as_user: int
) -> Container:
    """nginx-prometheus-exporter beside an nginx of the stack (the edge, the frontend),
    reading its stub_status on the internal status port."""
    return exporter_sidecar(
        image,
        port_name,
        NGINX_EXPORTER_PORT,
        env={},
        secret_files=(),
        run_as_user=run_as_user,
        args=(f"--nginx.scrape-uri=http://127.0.0.1:{status_port}/stub_status",),
        # The exporter image is FROM scratch: no shell or HTTP client for Docker to run.
        docker_check=("/usr/bin/nginx-prometheus-exporter", "--version"),
    )
