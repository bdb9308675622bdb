"""Images the stack builds itself, and the choice between building one and using a registry's.

`reference` in settings means: build the image from images/<name> on the Docker host (dev and
ephemeral stacks). Anything else is a registry image, used as given (by digest in prod).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import pulumi
from pydantic import AfterValidator

from components.config_values import shown

REFERENCE_IMAGE = "reference"
_IMAGE = re.compile(
    r"^(?P<name>(?:[a-z0-9.-]+(?::\d+)?/)?[a-z0-9]+(?:(?:[._]|__|-+|/)[a-z0-9]+)*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[a-f0-9]{64}))?$"
)


def _check_image(value: str) -> str:
    if value == REFERENCE_IMAGE:
        return value
    match = _IMAGE.match(value)
    if match is None:
        raise ValueError(
            f"must be {REFERENCE_IMAGE!r} or an image reference like "
            f"ghcr.io/org/api:1.2.3@sha256:<64 hex>, got {shown(value)}"
        )
    if match["tag"] is None and match["digest"] is None:
        raise ValueError(f"must name a tag or a digest, got {shown(value)}")
    if match["tag"] == "latest":
        raise ValueError(f"must not use the tag 'latest' (it moves), got {shown(value)}")
    return value


# An image setting the stack may build itself (`reference`) or pull by tag or digest.
ImageReference = Annotated[str, AfterValidator(_check_image)]
ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class ImageSource:
    repository: str
    context: Path
    dockerfile: Path
    # What decides the image's content, hence its tag.
    inputs: tuple[Path, ...]


SOURCES = {
    "api": ImageSource(
        "prodstack-api",
        ROOT / "images" / "api",
        ROOT / "images" / "api" / "Dockerfile",
        (ROOT / "images" / "api",),
    ),
    "frontend": ImageSource(
        "prodstack-frontend",
        ROOT / "images" / "frontend",
        ROOT / "images" / "frontend" / "Dockerfile",
        (ROOT / "images" / "frontend",),
    ),
    # Built from the repository root: it shares the cron runner with the Docker placement.
    "postgres": ImageSource(
        "prodstack-postgres",
        ROOT,
        ROOT / "images" / "postgres" / "Dockerfile",
        (ROOT / "images" / "postgres", ROOT / "images" / "scripts" / "cron_runner.py"),
    ),
}


def content_digest(paths: tuple[Path, ...], extra: str = "") -> str:
    """A digest of the sources (and of `extra`, the base image), so a changed source gives a
    new tag and new containers."""
    digest = hashlib.sha256(extra.encode())
    for top in paths:
        files = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
        for path in files:
            if "__pycache__" in path.parts:
                continue
            digest.update(path.relative_to(top.parent).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def image_for(
    setting: str, source: str, parent: pulumi.Resource, base: str | None = None
) -> pulumi.Output[str]:
    """The image reference a container runs: built locally for `reference` (from `base`, or
    the Dockerfile's upstream default), else as given."""
    if setting != REFERENCE_IMAGE:
        return pulumi.Output.from_input(setting)
    spec = SOURCES[source]
    build_args = {"BASE_IMAGE": base} if base else None
    tag = content_digest(spec.inputs, extra=base or "")
    import pulumi_docker as docker  # a Kubernetes stack never builds, nor loads the provider

    image = docker.Image(
        f"{parent._name}-image",
        image_name=f"{spec.repository}:{tag}",
        build=docker.DockerBuildArgs(
            context=str(spec.context), dockerfile=str(spec.dockerfile), args=build_args
        ),
        skip_push=True,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return image.image_name


def version_label(image: str) -> str:
    """The label value for app.kubernetes.io/version: the tag, or the digest's start."""
    if image == REFERENCE_IMAGE:
        return "reference"
    reference = image.split("@", 1)
    name_and_tag = reference[0].rsplit("/", 1)[-1]
    if ":" in name_and_tag:
        return name_and_tag.split(":", 1)[1][:63]
    return reference[1].replace("sha256:", "")[:12] if len(reference) > 1 else "unknown"
