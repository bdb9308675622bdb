"""Read the stack's config, lay it over the environment's defaults and validate it.

Everything here runs before the first resource is registered, so a wrong setting stops the
program with a list of clear messages and nothing created.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from typing import Any, get_args

import pulumi
from pydantic import ValidationError

from components.config_values import shown
from components.edge.settings import CORS_ANY
from infra.settings.defaults import defaults_for, merged
from infra.settings.document import document_problems, too_deep
from infra.settings.errors import SettingsError, key_path, problems_of
from infra.settings.model import REFERENCE_IMAGE, Environment, StackSettings
from infra.settings.namespace import NAMESPACE, namespace_problem


def parse_config_text(value: str) -> Any:
    """Structured config arrives as JSON text; plain strings, numbers and booleans as text."""
    text = value.strip()
    if text[:1] in ("{", "["):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return value
    return value


def split_config(
    config: Mapping[str, str], secret_keys: set[str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Our namespace's keys, as plain settings and as the names of secret values."""
    plain: dict[str, Any] = {}
    secret: dict[str, str] = {}
    prefix = f"{NAMESPACE}:"
    problems = []
    for full_key, value in config.items():
        namespace, _, rest = full_key.partition(":")
        problem = namespace_problem(namespace, rest)
        if problem:
            problems.append(f"{full_key}: {problem}")
        if not full_key.startswith(prefix):
            continue  # provider configuration (kubernetes:context, docker:host, ...)
        key = full_key[len(prefix) :]
        if full_key in secret_keys:
            secret[key] = value
            continue
        try:
            plain[key] = parse_config_text(value)
        except RecursionError:  # JSON nested past the parser's limit, far past any setting
            problems.append(too_deep([key]))
    if problems:
        raise SettingsError(problems)
    return plain, secret


def _environment(raw: Mapping[str, Any], stack: str) -> Environment:
    environments = get_args(Environment)
    value = raw.get("environment", stack if stack in ("dev", "prod") else None)
    if value is None:
        raise SettingsError(
            [
                f"{key_path(['environment'])}: required for stack {stack!r}; "
                f"one of {', '.join(environments)}"
            ]
        )
    if value not in environments:
        raise SettingsError(
            [
                f"{key_path(['environment'])}: must be one of "
                f"{', '.join(environments)}, got {shown(value)}"
            ]
        )
    return value  # type: ignore[no-any-return]


# The widest network prod trusts to name the client (X-Forwarded-For): a /8 is a private
# range or a provider's, 1/256 of the IPv4 space; 0.0.0.0/0 is everybody.
WIDEST_TRUSTED_PROXY = {4: 8, 6: 32}


# The first release of each line with the October 2025 Lua fixes (Redis security advisory:
# CVE-2025-49844, CVE-2025-46817, CVE-2025-46818, CVE-2025-46819).
LUA_FIXED = {(6, 2): (6, 2, 20), (7, 2): (7, 2, 11), (7, 4): (7, 4, 6), (8, 0): (8, 0, 4)}
LUA_FIXED_LATER = (8, 2, 2)


def redis_release(image: str) -> tuple[int, int, int] | None:
    """The release in an official image's tag (redis:7.2.11-bookworm@sha256:...), if any."""
    match = re.search(r":(\d+)\.(\d+)\.(\d+)(?:[-@]|$)", image.split("@")[0] + "@")
    if not match:
        return None
    major, minor, patch = (int(part) for part in match.groups())
    return (major, minor, patch)


def lua_fixed_in(release: tuple[int, int, int]) -> tuple[int, int, int]:
    line = release[:2]
    if line in LUA_FIXED:
        return LUA_FIXED[line]
    # Lines before 6.2 have no fix; 8.2 and later carry it from 8.2.2.
    return (99, 0, 0) if line < (6, 2) else max(LUA_FIXED_LATER, (*line, 0))


def _environment_rules(settings: StackSettings) -> list[str]:
    """Rules that tie one key to the environment or the platform."""
    problems: list[str] = []
    prod = settings.environment == "prod"
    if prod and not settings.protect_data:
        problems.append(f"{key_path(['protectData'])}: must be true in prod, got false")
    if prod and settings.domain == "localhost":
        problems.append(
            f"{key_path(['domain'])}: must be the public host name in prod, got 'localhost'"
        )
    if settings.expires_at is not None and settings.environment != "ephemeral":
        problems.append(
            f"{key_path(['expiresAt'])}: only ephemeral stacks expire, this one is "
            f"{settings.environment}"
        )
    certificate = settings.edge.certificate
    if certificate.source == "cert-manager" and settings.platform != "kubernetes":
        problems.append(
            f"{key_path(['edge', 'certificate', 'source'])}: cert-manager needs platform "
            "kubernetes; on docker use supplied"
        )
    if prod and settings.platform == "kubernetes" and settings.kubernetes.storage_class is None:
        problems.append(
            f"{key_path(['kubernetes', 'storageClass'])}: required in prod: name a StorageClass "
            "that allows volume expansion, so that a full volume can grow in place (the "
            "cluster's default may not)"
        )
    balancer = settings.edge.load_balancer
    if settings.platform == "docker" and balancer.annotations:
        problems.append(
            f"{key_path(['edge', 'loadBalancer', 'annotations'])}: annotations are for the "
            "LoadBalancer Service on kubernetes; on docker the host publishes the ports itself"
        )
    if settings.platform == "docker" and balancer.client_address == "proxy-protocol":
        problems.append(
            f"{key_path(['edge', 'loadBalancer', 'clientAddress'])}: on docker the stack's own "
            "prober reaches the edge without a load balancer, and would be refused without a "
            "PROXY header; use preserved, or trustedProxies behind a proxy"
        )
    if prod and certificate.source == "self-signed":
        problems.append(
            f"{key_path(['edge', 'certificate', 'source'])}: must be cert-manager or supplied "
            "in prod, got 'self-signed'"
        )
    for index, cidr in enumerate(settings.edge.trusted_proxies):
        network = ipaddress.ip_network(cidr, strict=False)
        widest = WIDEST_TRUSTED_PROXY[network.version]
        if prod and network.prefixlen < widest:
            problems.append(
                f"{key_path(['edge', 'trustedProxies', index])}: {cidr} would let any client "
                f"in it set its own address and pass every per-address rate limit; in prod "
                f"name the proxies, at most a /{widest} (IPv{network.version})"
            )
    if settings.recovery.rpo_seconds < settings.postgres.archive_timeout_seconds:
        problems.append(
            f"{key_path(['recovery', 'rpoSeconds'])}: must be at least "
            f"postgres.archiveTimeoutSeconds ({settings.postgres.archive_timeout_seconds}), "
            f"got {settings.recovery.rpo_seconds}: a commit may wait that long to be archived"
        )
    problems += _frontend_rules(settings) + _cors_rules(settings)
    problems += _plaintext_rules(settings) + _backup_identity_rules(settings)
    release = redis_release(settings.redis.image)
    if prod and release is None:
        problems.append(
            f"{key_path(['redis', 'image'])}: in prod name the full Redis release in the tag "
            f"(like redis:8.0.4@sha256:<64 hex>), got {shown(settings.redis.image)}: a tag "
            "like 8.0 may be a release before the 2025 Lua fixes (CVE-2025-49844 and others)"
        )
    elif prod and release is not None and release < lua_fixed_in(release):
        fixed = ".".join(map(str, lua_fixed_in(release)))
        problems.append(
            f"{key_path(['redis', 'image'])}: Redis {'.'.join(map(str, release))} predates the "
            f"2025 Lua fixes (CVE-2025-49844 and others); in prod use {fixed} or later"
        )
    receivers = settings.monitoring.receivers
    for name in ("paging", "heartbeat"):
        if prod and getattr(receivers, name).kind == "none":
            problems.append(
                f"{key_path(['monitoring', 'receivers', name, 'kind'])}: must notify someone in "
                "prod, got 'none'"
            )
    for path, image in image_settings(settings):
        if prod and "@sha256:" not in image:
            problems.append(
                f"{key_path(path)}: must be pinned by digest in prod "
                f"(name:tag@sha256:<64 hex>), got {image!r}"
            )
        elif image == REFERENCE_IMAGE and settings.platform != "docker":
            problems.append(
                f"{key_path(path)}: {REFERENCE_IMAGE!r} is built on the Docker host and "
                "needs platform docker; on kubernetes give a registry image"
            )
    return problems


def _backup_identity_rules(settings: StackSettings) -> list[str]:
    """Backups write with the database's own identity: a role by web identity on Kubernetes,
    never the node's (every pod on the node would hold it, and hardened nodes refuse pods the
    metadata service); on Docker the host's, or keys."""
    repository = settings.postgres.backup.repository
    if repository.type != "s3" or repository.s3 is None:
        return []
    key = key_path(["postgres", "backup", "repository", "s3", "keyType"])
    key_type = repository.s3.key_type
    if settings.platform == "kubernetes" and key_type == "auto":
        return [
            f"{key}: auto reads the node's cloud identity, which every pod on the node shares "
            "and which hardened nodes (IMDSv2, hop limit 1) do not give pods at all; on "
            "kubernetes use web-id with roleArn (or shared)"
        ]
    if settings.platform == "docker" and key_type == "web-id":
        return [
            f"{key}: web-id takes on a role with a Kubernetes ServiceAccount's token; on docker "
            "use auto (the host's role) or shared"
        ]
    return []


def _plaintext_rules(settings: StackSettings) -> list[str]:
    """TLS to a data store is off in prod only with a reason given, and a reason only with it
    off: a weakened prod stack says so in its stack file."""
    problems: list[str] = []
    for name in ("postgres", "redis"):
        store = getattr(settings, name)
        key = key_path([name, "tlsOffReason"])
        if settings.environment == "prod" and not store.tls and store.tls_off_reason is None:
            problems.append(
                f"{key_path([name, 'tls'])}: false sends passwords and data in plaintext on the "
                f"network; in prod keep it true, or say why in {key}"
            )
        if store.tls and store.tls_off_reason is not None:
            problems.append(f"{key}: only with {name}.tls false; remove it")
    return problems


def _frontend_rules(settings: StackSettings) -> list[str]:
    """An enabled frontend needs an image (dev and ephemeral default to the reference one)."""
    if settings.frontend.enabled and settings.frontend.image is None:
        return [
            f"{key_path(['frontend', 'image'])}: required when frontend.enabled is true (an "
            "image holding the built app, or 'reference' on docker)"
        ]
    return []


def _cors_rules(settings: StackSettings) -> list[str]:
    """Prod names the origins CORS allows, over HTTPS."""
    if settings.environment != "prod":
        return []
    problems: list[str] = []
    for index, origin in enumerate(settings.edge.cors.allowed_origins or []):
        key = key_path(["edge", "cors", "allowedOrigins", index])
        if origin == CORS_ANY:
            problems.append(
                f"{key}: * lets every site's pages call the API; in prod list the origins "
                "that may (unset: the stack's own)"
            )
        elif not origin.startswith("https://"):
            problems.append(f"{key}: {origin} is not HTTPS; in prod allow https:// origins only")
    return problems


def image_settings(settings: StackSettings) -> list[tuple[list[str], str]]:
    """Every image the stack runs, with its key path."""
    frontend = settings.frontend
    return [
        *([(["frontend", "image"], frontend.image)] if frontend.enabled and frontend.image else []),
        (["api", "image"], settings.api.image),
        (["edge", "image"], settings.edge.image),
        (["monitoring", "prometheusImage"], settings.monitoring.prometheus_image),
        (["monitoring", "alertmanagerImage"], settings.monitoring.alertmanager_image),
        (["monitoring", "blackboxImage"], settings.monitoring.blackbox_image),
        (["monitoring", "grafanaImage"], settings.monitoring.grafana_image),
        (["monitoring", "kubeStateMetricsImage"], settings.monitoring.kube_state_metrics_image),
        (["edge", "exporterImage"], settings.edge.exporter_image),
        (["postgres", "image"], settings.postgres.image),
        (["postgres", "exporterImage"], settings.postgres.exporter_image),
        (["redis", "image"], settings.redis.image),
        (["redis", "exporterImage"], settings.redis.exporter_image),
    ]


def declared_secret_keys(settings: StackSettings) -> dict[str, list[str]]:
    """Secret config keys the settings name, each with the key path that names it."""
    declared = {name: ["secrets", "fromConfig"] for name in settings.secrets.from_config}
    s3 = settings.postgres.backup.repository.s3
    if settings.postgres.backup.repository.type == "s3" and s3 and s3.key_type == "shared":
        path = ["postgres", "backup", "repository", "s3"]
        declared[str(s3.key_config)] = [*path, "keyConfig"]
        declared[str(s3.secret_config)] = [*path, "secretConfig"]
    for name in ("paging", "chat", "heartbeat"):
        receiver = getattr(settings.monitoring.receivers, name)
        if receiver.secret_config:
            declared[receiver.secret_config] = ["monitoring", "receivers", name, "secretConfig"]
    certificate = settings.edge.certificate
    if certificate.source == "supplied":
        path = ["edge", "certificate"]
        declared[str(certificate.cert_config)] = [*path, "certConfig"]
        declared[str(certificate.key_config)] = [*path, "keyConfig"]
    return declared


def _unused_secrets(secret_values: Mapping[str, str], settings: StackSettings) -> list[str]:
    declared = declared_secret_keys(settings)
    problems = [
        f"{NAMESPACE}:{name}: secret config key not listed in "
        f"{key_path(['secrets', 'fromConfig'])}; add it there or remove it"
        for name in sorted(set(secret_values) - set(declared))
    ]
    problems += [
        f"{NAMESPACE}:{name}: listed in {key_path(path)} but not set; "
        f"run `pulumi config set --secret {name} VALUE`"
        for name, path in declared.items()
        if name not in secret_values
    ]
    return problems


def _names_in(value: Any) -> set[str]:
    """Every string anywhere in a settings document (where secret key names are listed)."""
    names: set[str] = set()
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending += item.values()
        elif isinstance(item, list):
            pending += item
        elif isinstance(item, str):
            names.add(item)
    return names


def _misplaced_secrets(raw: Mapping[str, Any], secret_values: Mapping[str, str]) -> list[str]:
    """A secret given in plaintext, or a setting given as a secret: said as such, with the
    command that fixes it, rather than as an unknown key."""
    settings_keys = {f.alias or name for name, f in StackSettings.model_fields.items()}
    settings_keys |= set(StackSettings.model_fields)
    named = _names_in(dict(raw))
    problems = [
        f"{NAMESPACE}:{key}: a secret given in plaintext (it is named as a secret in the "
        f"settings); set it with `pulumi config set --secret {key} VALUE`"
        for key in sorted(raw)
        if key not in settings_keys and key in named
    ]
    problems += [
        f"{NAMESPACE}:{key}: is a setting, not a secret; set it without --secret "
        f"(`pulumi config set --path {key}...`); only the names listed in "
        f"{key_path(['secrets', 'fromConfig'])} and the certificate and receiver settings "
        "are secret"
        for key in sorted(secret_values)
        if key in settings_keys
    ]
    return problems


def parse_settings(
    config: Mapping[str, str], secret_keys: set[str], stack: str
) -> tuple[StackSettings, dict[str, str]]:
    """Validated settings and the names of user-supplied secret keys, or SettingsError."""
    raw, secret_values = split_config(config, secret_keys)
    unreadable = document_problems(raw)
    if unreadable:
        raise SettingsError(unreadable)
    misplaced = _misplaced_secrets(raw, secret_values)
    if misplaced:
        raise SettingsError(misplaced)
    environment = _environment(raw, stack)
    document = merged(defaults_for(environment, stack), {**raw, "environment": environment})
    try:
        settings = StackSettings.model_validate(document)
    except ValidationError as error:
        raise SettingsError(problems_of(error, StackSettings)) from None
    problems = _environment_rules(settings) + _unused_secrets(secret_values, settings)
    if problems:
        raise SettingsError(problems)
    return settings, secret_values


def load_settings() -> StackSettings:
    """The settings of the running stack, from the config the Pulumi engine hands the program."""
    # The SDK keeps the whole config map here; pulumi.Config reads one known key at a time,
    # and we need every key of our namespace to reject the unknown ones.
    from pulumi.runtime import config as runtime_config

    config = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    secret_keys = set(runtime_config.get_config_secret_keys_env()) | set(
        runtime_config._SECRET_KEYS.get()
    )
    settings, _ = parse_settings(config, secret_keys, pulumi.get_stack())
    return settings
