"""The composition root: which components make up a stack and how they are wired together."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi

from components.api import Api, ApiArgs
from components.platform.docker import DockerPlatform, DockerPlatformArgs
from components.platform.kubernetes import KubernetesPlatform, KubernetesPlatformArgs
from components.platform.placement import Placement
from components.secrets import Secrets, SecretsArgs
from infra.settings import StackSettings


def platform_for(
    settings: StackSettings, stack: str, name: str = "platform"
) -> tuple[pulumi.Resource, Placement]:
    if settings.platform == "kubernetes":
        k8s = KubernetesPlatform(
            name,
            KubernetesPlatformArgs(
                stack=stack,
                namespace=settings.kubernetes.namespace,
                topology_keys=tuple(settings.kubernetes.topology_keys),
            ),
        )
        return k8s, k8s.placement
    host = DockerPlatform(
        name,
        DockerPlatformArgs(
            stack=stack,
            name_prefix=settings.docker.name_prefix,
            log_max_size=settings.docker.log_max_size,
            log_max_files=settings.docker.log_max_files,
        ),
    )
    return host, host.placement


def build(
    settings: StackSettings, stack: str, user_secrets: Mapping[str, pulumi.Input[str]]
) -> dict[str, pulumi.Input[object]]:
    """Create every component of the stack; returns the stack outputs."""
    _, placement = platform_for(settings, stack)
    secrets = Secrets("secrets", SecretsArgs(settings=settings.secrets, user_supplied=user_secrets))
    api = Api(
        "api",
        ApiArgs(settings=settings.api, secret_files=secrets.api_files()),
        placement=placement,
    )
    return {
        "environment": settings.environment,
        "platform": settings.platform,
        "domain": settings.domain,
        "apiInternalUrl": api.url,
        "apiImage": api.image,
    }
