"""The API's settings: image, replicas, autoscaling, resources, port, environment, paths."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

from components.images import REFERENCE_IMAGE, ImageReference
from components.settings import Autoscaling, Resources, Settings, UrlPath

_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_SECRET_LOOKING_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|PRIVATE|CREDENTIAL|API_?KEY")


# Linux refuses to start a program with an environment string (NAME=value and its NUL) over
# MAX_ARG_STRLEN, 32 pages; and with all of them over a quarter of the stack limit (2 MiB by
# default), which the image's own variables share.
MAX_ENV_STRING_BYTES = 32 * 4096
MAX_ENV_TOTAL_BYTES = 1024 * 1024


def _check_env(value: dict[str, str]) -> dict[str, str]:
    total = 0
    for name, text in value.items():
        size = len(f"{name}={text}".encode()) + 1
        total += size
        if size > MAX_ENV_STRING_BYTES:
            raise ValueError(
                f"{name!r} is {size} bytes as NAME=value, over the {MAX_ENV_STRING_BYTES} Linux "
                "takes for one variable; deliver a large value as a file"
            )
        if total > MAX_ENV_TOTAL_BYTES:
            raise ValueError(
                f"the variables are over {MAX_ENV_TOTAL_BYTES} bytes in all; deliver large "
                "values as files"
            )
        if not _ENV_NAME.match(name):
            raise ValueError(f"{name!r} is not an environment variable name (A-Z, 0-9, _)")
        if _SECRET_LOOKING_NAME.search(name):
            raise ValueError(
                f"{name!r} looks like a secret; secrets are never environment values: "
                "set it with `pulumi config set --secret NAME VALUE` and list NAME in "
                "prodstack:secrets.fromConfig, and the API reads it as a file"
            )
    return value


class Migration(Settings):
    command: list[Annotated[str, Field(min_length=1)]] = Field(
        min_length=1,
        description=(
            "The program and arguments in the API image that migrate the database, like "
            "[alembic, upgrade, head]. It reads the same files as the API (api.json, the "
            "database secrets) and must be safe to run again."
        ),
    )
    timeout_seconds: int = Field(
        default=600,
        ge=30,
        le=86400,
        description="How long the migration may run before the release is stopped.",
    )


class Slo(Settings):
    """The API's service level objectives over 30 days (the seed plans': 99.9 % available,
    p95 under 500 ms), alerted on as error-budget burn rates (components/api/slo.py)."""

    availability_percent: float = Field(
        ge=90, le=99.999, description="Requests answered without a 5xx, in percent."
    )
    latency_ms: int = Field(
        ge=1,
        le=60000,
        description=(
            "The latency objective's threshold: a bound of the API's request-duration "
            "histogram buckets (the reference API's: 5, 10, 25, 50, 100, 250, 500, 1000, "
            "2500, 5000, 10000 ms)."
        ),
    )
    latency_percent: float = Field(
        ge=50, le=99.99, description="Requests answered within latencyMs, in percent (95: p95)."
    )


class ApiSettings(Settings):
    image: ImageReference = Field(
        description=(
            f"{REFERENCE_IMAGE!r} to build the reference API from images/api on the Docker host, "
            "or a registry image by tag or digest (a digest is required in prod)."
        )
    )
    build_base: ImageReference | None = Field(
        default=None,
        description=(
            f"With image {REFERENCE_IMAGE!r}: the Python image images/api is built from; "
            "unset, the upstream python:3.13-slim (`prodstack images debian` builds one from "
            "Debian's packages for hosts without a registry)."
        ),
    )
    replicas: int = Field(ge=1, le=100, description="Replicas when autoscaling is off.")
    autoscaling: Autoscaling
    resources: Resources
    port: int = Field(ge=1024, le=65535, description="Unprivileged port the API listens on.")
    env: Annotated[dict[Annotated[str, Field(max_length=256)], str], AfterValidator(_check_env)] = (
        Field(description="Plain, non-secret environment variables.")
    )
    liveness_path: UrlPath = Field(
        description=(
            "Answers 200 while the process is alive; public (the prober and `prodstack smoke` "
            "check the API through the edge)."
        )
    )
    readiness_path: UrlPath = Field(
        description=(
            "Answers 200 when the replica should take requests: its dependencies answered "
            "since it started, and it is not stopping. Not on a shared dependency's every "
            "outage (that would empty its Service); the edge refuses it (404)."
        )
    )
    metrics_path: UrlPath = Field(description="Prometheus metrics.")
    slo: Slo
    pre_stop_seconds: int = Field(
        ge=0, le=60, description="Pause before shutdown so load balancers stop sending requests."
    )
    health_command: list[str] = Field(
        min_length=1,
        description=(
            "Program in the image that Docker runs as the healthcheck, with the readiness URL "
            "appended (Kubernetes probes over HTTP instead)."
        ),
    )
    shutdown_grace_seconds: int = Field(
        ge=1, le=600, description="Time the API has to finish requests after SIGTERM."
    )
    migration: Migration | None = Field(
        default=None,
        description=(
            "A database migration run once per release (image and command), before the API "
            "rolls out: a Kubernetes Job or a one-shot Docker container. The rollout waits "
            "for it and a failed migration stops it. Unset: no migration."
        ),
    )
