"""Postgres settings: server, backups (pgBackRest) and the restore drill."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from components.images import ImageReference
from components.settings import (
    TLS_OFF_REASON,
    ConfigKey,
    HostName,
    PlaintextReason,
    Resources,
    Settings,
    hinted,
    normal_path,
)

# Majors whose configuration prodstack renders: Debian's (the local drill) up to the image's.
SUPPORTED_MAJORS = (15, 16, 17)

_CRON = hinted(
    r"^(\S+\s+){4}\S+$", "a 5-field cron schedule like '0 1 * * 0' (minute hour day month weekday)"
)
_IDENTIFIER = hinted(r"^[a-z][a-z0-9_]{0,62}$", "a lowercase SQL identifier like app")


def _valid_schedule(value: str) -> str:
    from components.cron import runner

    try:
        runner.Schedule(value)
    except runner.ScheduleError as error:
        raise ValueError(str(error)) from None
    return value


Cron = Annotated[str, Field(pattern=_CRON), AfterValidator(_valid_schedule)]


class BackupSchedule(Settings):
    full: Cron = Field(description="When full backups run (UTC).")
    diff: Cron = Field(description="When differential backups run (UTC).")


class Retention(Settings):
    full: int = Field(
        ge=1, le=1000, description="Full backups kept (count, or days with fullType time)."
    )
    full_type: Literal["count", "time"] = Field(description="How `full` is counted.")
    diff: int = Field(ge=1, le=1000, description="Differential backups kept.")


def _bucket(value: str) -> str:
    """S3's bucket naming rules (the general-purpose buckets' ones every S3 service follows)."""
    if ".." in value or re.fullmatch(r"\d+\.\d+\.\d+\.\d+", value):
        raise ValueError(f"must be a bucket name (no '..', not an IP address), got {value!r}")
    return value


Bucket = Annotated[
    str,
    Field(
        pattern=hinted(
            r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
            "a bucket name: 3 to 63 lowercase letters, digits, . and -",
        )
    ),
    AfterValidator(_bucket),
]
RoleArn = Annotated[
    str,
    Field(
        pattern=hinted(
            r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$",
            "an IAM role ARN like arn:aws:iam::123456789012:role/prodstack-backups",
        )
    ),
]
Region = Annotated[
    str,
    Field(pattern=hinted(r"^[a-z0-9][a-z0-9-]{0,31}$", "a region code like eu-west-1")),
]


class S3Repository(Settings):
    endpoint: HostName = Field(
        description=(
            "S3-compatible endpoint: a bare host like s3.eu-west-1.amazonaws.com (pgBackRest "
            "connects over HTTPS to port 443, and verifies the certificate)."
        )
    )
    bucket: Bucket = Field(description="Bucket name.")
    region: Region = Field(description="Bucket region.")
    path: Annotated[str, AfterValidator(normal_path)] = Field(
        pattern=hinted(r"^/[A-Za-z0-9._/-]*$", "an absolute path"),
        max_length=1024,
        description="Path in the bucket.",
    )
    uri_style: Literal["host", "path"] = Field(description="host for AWS, path for most others.")
    key_type: Literal["shared", "web-id", "auto"] = Field(
        description=(
            "shared: keys from config secrets; web-id: the role `roleArn`, taken on by the "
            "database's own Kubernetes identity (IRSA); auto: the host's cloud identity from "
            "the instance metadata service (Docker on a cloud VM only: on Kubernetes every pod "
            "of the node would share it)."
        )
    )
    role_arn: RoleArn | None = Field(
        default=None,
        description="The IAM role the database's ServiceAccount takes on (keyType web-id).",
    )
    key_config: ConfigKey | None = Field(
        default=None, description="Secret config key holding the access key (keyType shared)."
    )
    secret_config: ConfigKey | None = Field(
        default=None, description="Secret config key holding the secret key (keyType shared)."
    )

    @model_validator(mode="after")
    def _bucket_reachable(self) -> S3Repository:
        if self.uri_style == "host" and "." in self.bucket:
            raise ValueError(
                "a bucket name with dots cannot be reached host-style over TLS (the "
                "certificate's wildcard covers one label); use uriStyle path"
            )
        return self

    @model_validator(mode="after")
    def _shared_keys_named(self) -> S3Repository:
        if self.key_type == "shared" and not (self.key_config and self.secret_config):
            raise ValueError("keyType shared needs keyConfig and secretConfig (secret config keys)")
        if (self.key_type == "web-id") != (self.role_arn is not None):
            raise ValueError("keyType web-id needs roleArn, and roleArn only goes with web-id")
        return self


class Repository(Settings):
    type: Literal["volume", "s3"] = Field(
        description="volume: on the host or cluster; s3: off-site."
    )
    size_gib: int = Field(ge=1, le=65536, description="Size of the volume repository.")
    s3: S3Repository | None = Field(default=None, description="Where the s3 repository is.")

    @model_validator(mode="after")
    def _s3_needs_location(self) -> Repository:
        if self.type == "s3" and self.s3 is None:
            raise ValueError("type s3 needs s3 (endpoint, bucket, region, path, uriStyle, keyType)")
        return self


class Backup(Settings):
    schedule: BackupSchedule
    retention: Retention
    compression: Literal["lz4", "zst"] = Field(description="lz4 is fastest; zst is smaller.")
    repository: Repository
    drill_schedule: Cron = Field(description="When the restore drill runs (UTC).")


class PostgresSettings(Settings):
    image: ImageReference = Field(
        description=(
            "'reference' to build images/postgres on the Docker host, or that image "
            "pushed to a registry (by digest in prod)."
        )
    )
    tls: bool = Field(
        description=(
            "Encrypt every connection from outside the pod: TLS with a certificate from the "
            "stack's CA (cert-manager on Kubernetes), clients verify it (verify-full)."
        )
    )
    tls_off_reason: PlaintextReason | None = TLS_OFF_REASON
    build_base: ImageReference | None = Field(
        default=None,
        description=(
            "With image 'reference': the Postgres image images/postgres is built from; unset, "
            "the official postgres image (`prodstack images debian` builds one from Debian's "
            "packages for hosts without a registry)."
        ),
    )
    version: int = Field(description="Postgres major the configuration is rendered for.")
    exporter_image: ImageReference = Field(description="postgres_exporter image (sidecar).")
    database: str = Field(pattern=_IDENTIFIER, description="The application database.")
    app_user: str = Field(
        pattern=_IDENTIFIER, description="The application role (not a superuser)."
    )
    storage_gib: int = Field(ge=1, le=65536, description="Size of the data volume.")
    resources: Resources
    max_connections: int = Field(ge=10, le=5000, description="max_connections.")
    archive_timeout_seconds: int = Field(
        ge=10, le=3600, description="Longest time a committed transaction waits to be archived."
    )
    slow_query_ms: int = Field(
        ge=-1, le=600000, description="log_min_duration_statement (-1: off)."
    )
    backup: Backup

    @model_validator(mode="after")
    def _supported_major(self) -> PostgresSettings:
        if self.version not in SUPPORTED_MAJORS:
            raise ValueError(
                f"version must be one of {', '.join(map(str, SUPPORTED_MAJORS))}, got {self.version}"
            )
        if self.app_user == "postgres":
            raise ValueError("appUser must not be the postgres superuser")
        return self
