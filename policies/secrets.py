"""Secrets: never as plain environment values or in ConfigMaps; stored as Pulumi secrets.

What "looks like a secret" is decided in one place (`looks_secret`, `secret_name`): a value in
a known credential format (private keys, cloud and chat tokens, URLs with a password), or a
literal given to a variable or key whose name says it holds a credential.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Sequence

from policies.rule import EVERYWHERE, Context, Violation, resource_rule, stack_rule
from policies.view import (
    CONFIG_MAP,
    DOCKER_CONTAINER,
    NETWORK_POLICY,
    SECRET,
    STACK,
    WORKLOAD_TYPES,
    Subject,
    containers,
    entries,
    files,
    get,
    items,
)

CREDENTIAL_FORMATS = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----"
    r"|\bAKIA[0-9A-Z]{16}\b"  # AWS access key id
    r"|\bxox[abprs]-[0-9A-Za-z-]{10,}"  # Slack token
    r"|\bgh[pousr]_[0-9A-Za-z]{30,}"  # GitHub token
    r"|\bsk_live_[0-9A-Za-z]{16,}"  # Stripe key
    r"|://[^/\s:@]+:[^/\s@]+@"  # URL with a password
)
SECRET_NAME = re.compile(
    r"(password|passwd|secret|token|api_?key|private_?key|credentials?|access_?key)$", re.I
)
# A config line assigning a literal to a credential-named key: `password = x`, `token: x`.
SECRET_ASSIGNMENT = re.compile(
    r"^\s*[\"']?([A-Za-z0-9_.-]*?(password|passwd|secret|token|api_?key))[\"']?\s*[:=]\s*[\"']?([^\s\"'#,}]{4,})",
    re.I | re.M,
)
PLACEHOLDERS = ("${", "$(", "{{", "<", "/")  # references and paths, not values


def looks_secret(value: str) -> bool:
    return bool(CREDENTIAL_FORMATS.search(value))


def secret_name(name: str) -> bool:
    """A variable that holds a credential (not a path to one: *_FILE, *_PATH)."""
    base = re.sub(r"[_-]?(file|path|dir|url_file)$", "", name, flags=re.I)
    return base == name and bool(SECRET_NAME.search(name.replace("-", "_")))


def _env_problems(name: str, value: object) -> Iterator[str]:
    if not isinstance(value, str) or not value:
        return
    if looks_secret(value):
        yield f"{name} holds a credential in plaintext"
    elif secret_name(name) and not value.startswith(PLACEHOLDERS):
        yield f"{name} is a credential given as a literal value"


@resource_rule(
    "secrets-not-in-env",
    "No container gets a credential as a literal environment value (Kubernetes env, Docker envs); credentials are files.",
    "Environment values show in `docker inspect`, `kubectl describe`, crash reports and child processes.",
    EVERYWHERE,
    WORKLOAD_TYPES | {DOCKER_CONTAINER},
    ("kube-linter env-var-secret", "Checkov CKV_K8S_35", "Polaris (secrets in env)"),
)
def not_in_env(subject: Subject, _: Context) -> Iterator[str]:
    if subject.type == DOCKER_CONTAINER:
        for entry in items(subject.props, "envs"):
            if isinstance(entry, str) and "=" in entry:
                name, value = entry.split("=", 1)
                yield from (f"the container's {p}" for p in _env_problems(name, value))
        return
    for c in containers(subject):
        for variable in items(c.spec, "env"):
            name = get(variable, "name")
            if isinstance(name, str):
                yield from (
                    f"container {c.name}: {p}" for p in _env_problems(name, get(variable, "value"))
                )


@resource_rule(
    "secrets-not-in-configmaps",
    "No ConfigMap holds a credential (a key format, a URL with a password, or a literal for a password/token/secret key).",
    "ConfigMaps are readable by anyone who may read the namespace's configuration and are not encrypted at rest.",
    EVERYWHERE,
    {CONFIG_MAP},
    ("Checkov CKV_K8S_* (secrets in ConfigMap)", "kube-linter (env-var-secret, similar)"),
)
def not_in_configmaps(subject: Subject, _: Context) -> Iterator[str]:
    for name, text in files(subject).items():
        if looks_secret(text):
            yield f"{subject.display} key {name} holds a credential"
            continue
        for match in SECRET_ASSIGNMENT.finditer(text):
            if not match.group(3).startswith(PLACEHOLDERS):
                yield f"{subject.display} key {name} sets {match.group(1)} to a literal"
                break


@resource_rule(
    "secrets-stored-as-secrets",
    "Kubernetes Secret data and the secret files of Docker containers come from Pulumi secret outputs.",
    "Pulumi encrypts secret outputs in the state and masks them in previews and logs; a plain value is in the state file for anyone with read access.",
    EVERYWHERE,
    {SECRET, DOCKER_CONTAINER},
    (),
    needs_secrets=True,
)
def stored_as_secrets(subject: Subject, context: Context) -> Iterator[str]:
    if subject.type == SECRET:
        for key in ("data", "stringData"):
            for name, _ in entries(subject.props, key):
                if not subject.is_secret(key, name):
                    yield f"{subject.display} {key}.{name} is not a Pulumi secret"
        return
    for index, upload in enumerate(items(subject.props, "uploads")):
        path = get(upload, "file")
        if (
            isinstance(path, str)
            and "/secrets/" in path
            and not subject.is_secret("uploads", index, "content")
        ):
            yield f"the secret file {path} is not a Pulumi secret"


@stack_rule(
    "secrets-outputs-marked",
    "No stack output carries a credential unless it is a Pulumi secret.",
    "Plain stack outputs are printed by `pulumi up` and `pulumi stack output` and read by anyone with access to the stack.",
    EVERYWHERE,
    (),
    needs_secrets=True,
)
def outputs_marked(subjects: Sequence[Subject], _: Context) -> Iterator[Violation]:
    generated = {
        str(v)
        for s in subjects
        if s.type.startswith("random:")
        for k, v in entries(s.props)
        if k in ("result", "base64", "hex", "b64Std", "b64Url")
    }
    for stack in (s for s in subjects if s.type == STACK):
        # The stack resource's properties are its outputs.
        for name, value in entries(stack.props):
            text = str(value)
            carries = (
                looks_secret(text) or any(g and g in text for g in generated) or secret_name(name)
            )
            if carries and not stack.is_secret(name):
                yield Violation(
                    f"stack output {name} carries a credential and is not a secret", stack
                )


# The instance metadata services of the clouds (AWS's IPv4 and IPv6, which GCP and Azure
# share at the IPv4 address): whoever reaches them gets the node's cloud credentials.
INSTANCE_METADATA = (ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"))


def _reaches_metadata(peer: object, ports: list[object]) -> str | None:
    cidr = get(peer, "ipBlock", "cidr")
    if not isinstance(cidr, str):
        return None
    try:
        network = ipaddress.ip_network(cidr, strict=False)
        excepted = [ipaddress.ip_network(e, strict=False) for e in items(peer, "ipBlock", "except")]
    except ValueError:
        return None
    # The services answer on port 80: egress limited to other ports does not reach them.
    if ports and not any(get(p, "port") in (80, "80", "http") for p in ports):
        return None
    for address in INSTANCE_METADATA:
        if address in network and not any(address in e for e in excepted):
            return f"egress to {cidr} reaches the instance metadata service {address}"
    return None


@resource_rule(
    "no-node-credentials",
    "No NetworkPolicy lets pods reach the cloud's instance metadata service (169.254.169.254 on port 80): workloads get cloud access by an identity of their own (a role by web identity on their ServiceAccount).",
    "The metadata service hands out the node's credentials: every pod on the node would hold them (and could write to or delete the backup bucket), and hardened nodes (IMDSv2 with a hop limit of 1) refuse pods anyway, so backups that rely on it stop and WAL fills the disk.",
    EVERYWHERE,
    {NETWORK_POLICY},
    ("AWS EKS best practices: restrict access to the instance metadata", "Checkov CKV_AWS_79"),
)
def no_node_credentials(subject: Subject, _: Context) -> Iterator[str]:
    for rule in items(subject.props, "spec", "egress"):
        ports = items(rule, "ports")
        for peer in items(rule, "to"):
            problem = _reaches_metadata(peer, ports)
            if problem:
                yield f"{subject.display}: {problem}"
