"""Settings pieces every component shares: the strict base model, resources, autoscaling.

Keys are camelCase as written in `Pulumi.<stack>.yaml`; unknown keys are rejected so a typo
never silently falls back to a default.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Annotated, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)
from pydantic.alias_generators import to_camel

from components.config_values import shown
from components.nginx_config import argument_problem
from components.quantities import parse_cpu, parse_memory
from components.workload import Resources as WorkloadResources
from components.workload import Scaling as WorkloadScaling
from components.workload import WorkloadError

# What each pattern means in words, for error messages (infra/settings/errors.py).
PATTERN_HINTS: dict[str, str] = {}


def hinted(pattern: str, hint: str) -> str:
    """Register a human description of `pattern` and return the pattern."""
    PATTERN_HINTS[pattern] = hint
    return pattern


def _quantity(parse: Callable[[str], int]) -> BeforeValidator:
    def convert(value: object) -> object:
        if isinstance(value, bool):
            return parse(str(value).lower())  # a boolean is no quantity: parse() says so
        if isinstance(value, int | float):
            value = str(value)
        return parse(value) if isinstance(value, str) else value

    return BeforeValidator(convert)


Millicores = Annotated[int, _quantity(parse_cpu)]
Mebibytes = Annotated[int, _quantity(parse_memory)]


def normal_path(value: str) -> str:
    """A path as servers compare it: no empty, `.` or `..` segment (nginx would match the
    normalised path, never the one written, and `..` would leave the place it belongs to)."""
    segments = value.split("/")[1:]
    inner = segments[:-1] if value.endswith("/") else segments
    if any(segment in ("", ".", "..") for segment in inner):
        raise ValueError(f"must be a normalised path (no //, /./ or /../), got {shown(value)}")
    return value


# A path of a URL the stack routes or serves: nginx locations, health checks, cache prefixes.
UrlPath = Annotated[
    str,
    Field(pattern=hinted(r"^/[A-Za-z0-9._~/-]*$", "a URL path starting with /"), max_length=1024),
    AfterValidator(normal_path),
]

# Directories a path inside an image must never name: the system's own files, or where the
# container's writable scratch is mounted.
SYSTEM_DIRECTORIES = (
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/lib",
    "/proc",
    "/root",
    "/run",
    "/sbin",
    "/sys",
    "/tmp",
    "/usr/bin",
    "/usr/lib",
    "/usr/sbin",
    "/var/run",
)


def _confined(value: str) -> str:
    if value != "/" and value.endswith("/"):
        raise ValueError(f"must not end with /, got {shown(value)}")
    system = next((d for d in SYSTEM_DIRECTORIES if value == d or value.startswith(d + "/")), None)
    if value == "/" or system:
        raise ValueError(
            f"must be a directory of its own (like /srv/app), not {system or '/'}, "
            f"got {shown(value)}"
        )
    return value


# A directory inside an image that the stack serves or reads files from.
ImageDirectory = Annotated[
    str,
    Field(
        pattern=hinted(r"^/[A-Za-z0-9._/-]*$", "an absolute path inside the image, like /srv"),
        max_length=1024,
    ),
    AfterValidator(normal_path),
    AfterValidator(_confined),
]

# The name of a secret config key (`pulumi config set --secret NAME VALUE`).
ConfigKey = Annotated[
    str,
    Field(pattern=hinted(r"^[a-z][a-zA-Z0-9]{0,62}$", "a camelCase config key like stripeApiKey")),
]

# A DNS host name (RFC 1123), lowercase: the stack's domain, an S3 endpoint, an SMTP host.
HostName = Annotated[
    str,
    Field(
        pattern=hinted(
            r"^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$",
            "a lowercase host name like api.example.com",
        ),
        max_length=253,
    ),
]


def _header_value(value: str) -> str:
    if not value.isascii() or not value.isprintable():
        raise ValueError(f"must be printable ASCII (an HTTP header value), got {shown(value)}")
    if "$" in value:
        raise ValueError(f"must not contain $ (nginx would read a variable), got {shown(value)}")
    problem = argument_problem(value)
    if problem:
        raise ValueError(f"{problem}, got {shown(value)}")
    return value


# The value of an HTTP reply header the edge sets (Content-Security-Policy, Permissions-Policy):
# printable ASCII that fits one nginx parameter.
HeaderValue = Annotated[str, Field(min_length=1), AfterValidator(_header_value)]

_PEM_CERTIFICATE = re.compile(
    r"-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+?)-----END CERTIFICATE-----"
)


def _pem_certificates_data(value: str) -> str:
    """Base64 of one or more PEM certificates, as kubeconfig's certificate-authority-data
    (one line: no value holds a line break), each DER inside (an ASN.1 SEQUENCE). The
    settings hold the PEM text it decodes to."""
    try:
        pem = base64.b64decode(value, validate=True).decode("ascii")
    except ValueError:
        raise ValueError(
            "must be base64 of PEM certificates, like kubeconfig's certificate-authority-data "
            "(base64 -w0 ca.crt)"
        ) from None
    blocks = _PEM_CERTIFICATE.findall(pem)
    if not blocks or _PEM_CERTIFICATE.sub("", pem).strip():
        raise ValueError(
            "must be base64 of PEM certificates (-----BEGIN CERTIFICATE----- ... -----END "
            "CERTIFICATE-----) and nothing else"
        )
    for number, block in enumerate(blocks, start=1):
        try:
            der = base64.b64decode("".join(block.split()), validate=True)
        except ValueError:
            der = b""
        if not der.startswith(b"\x30"):
            raise ValueError(f"certificate {number} is not base64 of a DER certificate")
    return pem


PemCertificatesData = Annotated[
    str, Field(max_length=65536), AfterValidator(_pem_certificates_data)
]

# Why a data store's connections go in plaintext (postgres.tlsOffReason, redis.tlsOffReason):
# prod refuses tls false without one (infra/settings/loader.py).
PlaintextReason = Annotated[str, Field(min_length=20, max_length=500)]
TLS_OFF_REASON = Field(
    default=None,
    description=(
        "Prod only, with tls false: why the connections go in plaintext (at least 20 "
        "characters, kept in the stack file for review). Prod refuses tls false without it."
    ),
)

T = TypeVar("T")


def _unique(values: list[T]) -> list[T]:
    seen: set[T] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"lists {shown(value)} twice; each item once")
        seen.add(value)
    return values


# A list whose items the server takes once each (nginx refuses a location or a map key twice).
UniqueList = Annotated[list[T], AfterValidator(_unique)]


class Settings(BaseModel):
    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True
    )


class Amounts(Settings):
    cpu: Millicores = Field(description="CPU, like 250m or 1.")
    memory: Mebibytes = Field(description="Memory, like 512Mi or 1Gi.")


class Resources(Settings):
    requests: Amounts = Field(description="What the scheduler reserves per replica.")
    limits: Amounts = Field(description="The most a replica may use; memory above it is killed.")

    @model_validator(mode="after")
    def _requests_within_limits(self) -> Resources:
        try:
            workload_resources(self)  # the workload's model is where the rule lives
        except WorkloadError as error:
            raise ValueError(str(error)) from None
        return self


class CpuAutoscaling(Settings):
    """Autoscaling on CPU alone: for nginx, whose memory follows its open connections and
    caches rather than its load, so a memory target would keep replicas it never removes."""

    enabled: bool = Field(description="Scale between minReplicas and maxReplicas on load.")
    min_replicas: int = Field(ge=1, le=100, description="Fewest replicas.")
    max_replicas: int = Field(ge=1, le=100, description="Most replicas.")
    target_cpu_percent: int = Field(ge=10, le=95, description="Average CPU use to aim for.")
    scale_down_window_seconds: int = Field(
        ge=0, le=3600, description="How long load must stay low before replicas are removed."
    )

    @model_validator(mode="after")
    def _max_not_below_min(self) -> CpuAutoscaling:
        if self.max_replicas < self.min_replicas:
            raise ValueError(
                f"maxReplicas must be at least minReplicas ({self.min_replicas}), "
                f"got {self.max_replicas}"
            )
        return self


class Autoscaling(CpuAutoscaling):
    """Autoscaling on CPU and memory."""

    target_memory_percent: int = Field(ge=10, le=95, description="Average memory use to aim for.")


def workload_resources(resources: Resources) -> WorkloadResources:
    return WorkloadResources(
        cpu_request_millicores=resources.requests.cpu,
        memory_request_mib=resources.requests.memory,
        cpu_limit_millicores=resources.limits.cpu,
        memory_limit_mib=resources.limits.memory,
    )


def workload_scaling(replicas: int, autoscaling: CpuAutoscaling) -> WorkloadScaling:
    return WorkloadScaling(
        replicas=replicas,
        autoscale=autoscaling.enabled,
        min_replicas=autoscaling.min_replicas,
        max_replicas=autoscaling.max_replicas,
        target_cpu_percent=autoscaling.target_cpu_percent,
        target_memory_percent=(
            autoscaling.target_memory_percent if isinstance(autoscaling, Autoscaling) else None
        ),
        scale_down_window_seconds=autoscaling.scale_down_window_seconds,
    )
