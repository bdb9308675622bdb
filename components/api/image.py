"""The API's image: the user's registry image, or the reference API built from images/api."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pulumi
import pulumi_docker as docker

REFERENCE_CONTEXT = Path(__file__).resolve().parents[2] / "images" / "api"


def context_digest(context: Path) -> str:
    """A digest of the build context, so a changed source gives a new tag and new containers."""
    digest = hashlib.sha256()
    for path in sorted(
        p for p in context.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    ):
        digest.update(path.relative_to(context).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def reference_image(name: str, stack: str, parent: pulumi.Resource) -> pulumi.Output[str]:
    """Build images/api on the Docker host (no registry push); the result is a local image name."""
    tag = context_digest(REFERENCE_CONTEXT)
    image = docker.Image(
        name,
        image_name=f"prodstack-api:{tag}",
        build=docker.DockerBuildArgs(
            context=str(REFERENCE_CONTEXT), dockerfile=str(REFERENCE_CONTEXT / "Dockerfile")
        ),
        skip_push=True,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return image.image_name


def version_label(image: str) -> str:
    """The label value for app.kubernetes.io/version: the tag, or the digest's start."""
    reference = image.split("@", 1)
    name_and_tag = reference[0].rsplit("/", 1)[-1]
    if ":" in name_and_tag:
        return name_and_tag.split(":", 1)[1][:63]
    return reference[1].replace("sha256:", "")[:12] if len(reference) > 1 else "unknown"
